"""The embedded engine's model phase for searches with declared metrics or linear constraints.

SigOpt's own multimetric machinery, composed as sigoptlite composes it for one point, here for
``count`` points with the pending ones as constant-liar lies: one GP per metric, libsigopt's
scalarized GP over the observation budget for two optimized metrics (each alone, convex
combinations, epsilon constraints), its probabilistic failure models for constraint metrics and
thresholds, ``SearchNextPoints`` for an all-constraint search, its SPE views beyond its size limits.

Two parts are the single-metric engine's, because libsigopt's cost 0.65 s a suggestion at 30
observations (19.2 s of a 40-evaluation ZDT1 search; 2.3 s now):

- each metric's hyperparameters are a MAP fit (:mod:`.map_fit`) on the single-metric engine's pure
  schedule (:mod:`.model`): a full fit at multiples of ``ANCHOR_EVERY`` observations, one fast descent
  from that anchor's fit in between, and beyond ``REFIT_EVERY_UP_TO`` observations spaced refits on a
  bounded subset; seeded from a digest of the data and cached by it, so the same observations give
  the same fit;
- the acquisition (libsigopt's EI on the scalarized GP, with its failure models) is maximized by
  :class:`~.acquisition.BatchedGpNextPoints` (the logEI scan, polish and walk on the space's points)
  instead of libsigopt's evolution strategy (with linear constraints libsigopt's own search runs: the
  batched search knows only the box).

Output warping is single-metric only and is not used here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
from libsigopt.aux.adapter_info_containers import PointsContainer
from libsigopt.aux.constant import (
    DEFAULT_USE_SPE_AFTER_THIS_MANY_OBSERVATIONS,
    DEFAULT_USE_SPE_BEYOND_THIS_MANY_DIMENSIONS,
    PARALLEL_CONSTANT_LIAR,
)
from libsigopt.views.rest.gp_next_points_categorical import GpNextPointsCategorical
from libsigopt.views.rest.search_next_points import SearchNextPoints
from libsigopt.views.rest.spe_next_points import SPENextPoints
from libsigopt.views.rest.spe_search_next_points import SPESearchNextPoints
from sigoptlite.models import LocalObservation
from sigoptlite.sources import BaseOptimizationSource, GPSource

from ...space import Assignments
from .acquisition import BatchedGpNextPoints
from .map_fit import MapHyperparameterFit, WarmMapHyperparameterFit
from .model import FIT_SUBSET_MAX, REFIT_EVERY_UP_TO, anchor_count, fitted_count, rescale_to
from .options import DEFAULT_OPTIONS
from .random_state import isolated_numpy_random

METRIC_FIT_OPTIONS = dataclasses.replace(DEFAULT_OPTIONS, prior_draws=True)
"""Each metric's fit keeps the prior's draws as starts: the multimetric benchmark measured them."""

logger = logging.getLogger(__name__)

CACHE_ENTRIES = 8


def _digest(experiment: Any, observations: Sequence[LocalObservation]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([repr(p) for p in experiment.parameters] + [repr(m) for m in experiment.metrics]).encode())
    if observations:
        points = GPSource.make_points_sampled(experiment, observations)
        for array in (points.points, points.values, points.value_vars, points.failures):
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _fit_subset(observations: Sequence[LocalObservation]) -> list[LocalObservation]:
    """The observations the fit in force uses: the oldest ``fitted_count`` of them, evenly thinned to
    ``FIT_SUBSET_MAX`` (no metric's best are favoured: every metric is modelled from the same points)."""
    oldest = list(observations[: fitted_count(len(observations))])
    if len(oldest) <= FIT_SUBSET_MAX:
        return oldest
    return [oldest[i] for i in np.linspace(0, len(oldest) - 1, FIT_SUBSET_MAX).round().astype(int)]


def _value_ranges(experiment: Any, observations: Sequence[LocalObservation]) -> list[float]:
    """Each metric's range over the observations that have a value for it."""
    points = GPSource.make_points_sampled(experiment, observations)
    values = points.values[~points.failures]
    return [float(np.ptp(values[:, m])) if len(values) else 0.0 for m in range(points.values.shape[1])]


def _rescale_per_metric(hyperparameters: list[dict], fitted: list[float], current: list[float]) -> list[dict]:
    """Each metric's fit in the units of all observations (see :func:`.model.rescale_to`)."""
    return [rescale_to([entry], f, c)[0] for entry, f, c in zip(hyperparameters, fitted, current)]


class MultimetricModel:
    """Next points for an experiment with several metrics, constraint metrics or linear constraints."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self._fits: OrderedDict[str, list[dict]] = OrderedDict()
        self._entries = entries
        self.fits_computed = 0

    def hyperparameters(self, source: GPSource, observations: Sequence[LocalObservation]) -> list[dict]:
        """One hyperparameter dict per metric, for ``observations`` (sorted oldest first).

        The single-metric engine's MAP fit, per metric, on its pure schedule (:mod:`.model`): up to
        ``REFIT_EVERY_UP_TO`` observations a fit at every count (a full one at multiples of
        ``ANCHOR_EVERY``, one fast descent from that anchor's fit in between); beyond, refits only
        where the fitted count grows by ``REFIT_GROWTH``, on at most ``FIT_SUBSET_MAX`` of them, so a
        long search's fit costs no more than a young one's (a fit on every observation grows with
        their cube: 39 s at 550).  Seeded from a digest of the fitted data and cached by it: the same
        observations give the same fit, and a restarted driver recomputes at most one anchor.
        """
        experiment = source.experiment
        subset = _fit_subset(observations)
        fitted = self._cached_fit(source, subset)
        if len(subset) == len(observations):
            return fitted
        return _rescale_per_metric(fitted, _value_ranges(experiment, subset), _value_ranges(experiment, observations))

    def _cached_fit(self, source: GPSource, subset: Sequence[LocalObservation]) -> list[dict]:
        experiment = source.experiment
        key = _digest(experiment, subset)
        fitted = self._fits.get(key)
        if fitted is not None:
            self._fits.move_to_end(key)
            return fitted
        anchor = anchor_count(len(subset)) if len(subset) <= REFIT_EVERY_UP_TO else 0
        start = self._cached_fit(source, subset[:anchor]) if anchor else None
        self.fits_computed += 1
        first = [dict(entry) for entry in start] if start is not None else source.get_default_hyperparameters(experiment)
        for entry in first:
            entry["tikhonov"] = None
        view_input = {
            "domain_info": source.form_domain_info(experiment),
            "model_info": source.form_gp_model_info(subset, first),
            "points_sampled": source.make_points_sampled(experiment, subset),
            "tag": {},
            "metrics_info": source.form_metrics_info(experiment),
            "task_options": [],
            "engine_options": METRIC_FIT_OPTIONS,
        }
        view = WarmMapHyperparameterFit if start is not None else MapHyperparameterFit
        with isolated_numpy_random(int(key[:8], 16)):
            fitted = source.call_libsigopt_views(view, view_input)["hyperparameter_dict"]
        self._fits[key] = fitted
        while len(self._fits) > self._entries:
            self._fits.popitem(last=False)
        return fitted

    def points(self, experiment: Any, observations: Sequence[LocalObservation], count: int,
               pending: Sequence[Assignments]) -> tuple[BaseOptimizationSource, Any]:
        """libsigopt's ``count`` next points (its own coordinates) and the source that reads them."""
        spe = (experiment.dimension > DEFAULT_USE_SPE_BEYOND_THIS_MANY_DIMENSIONS
               or len(observations) > DEFAULT_USE_SPE_AFTER_THIS_MANY_OBSERVATIONS)
        source: BaseOptimizationSource = BaseOptimizationSource(experiment) if spe else GPSource(experiment)
        modelled = source.experiment
        points_sampled = source.make_points_sampled(modelled, observations)
        being_sampled = np.array([source.get_point_from_assignments(modelled, a) for a in pending])
        view_input: dict[str, Any] = {
            "domain_info": source.form_domain_info(modelled),
            "num_to_sample": count,
            "points_sampled": points_sampled,
            "points_being_sampled": PointsContainer(points=being_sampled),
            "tag": {},
            "metrics_info": source.form_metrics_info(modelled, points_sampled),
            "task_options": [],
        }
        if spe:
            view = SPESearchNextPoints if modelled.is_search else SPENextPoints
        else:
            # Linear constraints need libsigopt's own search (hit-and-run samples, constrained optimizers):
            # the batched search's candidates and polish know only the box.
            view = (SearchNextPoints if modelled.is_search
                    else GpNextPointsCategorical if modelled.linear_constraints else BatchedGpNextPoints)
            view_input["model_info"] = source.form_gp_model_info(observations, self.hyperparameters(source, observations))
            view_input["parallelism"] = PARALLEL_CONSTANT_LIAR
        response = source.call_libsigopt_views(view, view_input)
        return source, response["points_to_sample"]
