"""The GP's hyperparameters for the embedded engine: fitted on a schedule, reused between calls.

Fitting the Gaussian process's hyperparameters (libsigopt's ``GpHyperOptMultimetricView``: several
SLSQP runs on the log marginal likelihood) is most of the cost of a suggestion, and it grows with
the cube of the number of observations (1.2 s at 100, 21 s at 500 on the benchmark machine).  The
hyperparameters barely move from one observation to the next, so refitting at every call is waste.

What this module adds, so that reuse does not cost determinism:

- **A schedule that is a pure function of the observations.**  The fit uses the ``s`` oldest
  observations (smallest keys), where ``s`` is the largest *refit point* not above
  ``n - n // 8``; refit points are every count up to 40, then each one 15 % above the last.
  Up to 40 observations every call refits on all of them (nothing held back); beyond, the
  hyperparameters change at 46, 53, 61, … fitted observations and are reused in between.  Holding back the newest eighth keeps the fitted set stable while parallel workers'
  stragglers (late results with older keys) arrive; the GP itself still conditions on *all*
  observations.
- **A bounded fit.**  Above 120 observations the fit uses 120 of the ``s``: the best third by value
  and an even spread over the rest by key.  The fit's cost stops growing; length scales estimated
  from 120 points of a 6-D function are as good as from 500.
- **A seed from the data.**  The fit's random starts are seeded from a fingerprint of the fitted
  observations, not from the call's seed, so the same observations always give the same
  hyperparameters: a restarted driver that fits again gets exactly what the lost one had cached.

- **Warm refits between anchors** (the ``warm_fit`` option).  Up to 40 observations every call
  refits; a fit from scratch (libsigopt's ten random SLSQP starts) at each is most of a short
  search's time.  Full fits run only at *anchor* counts (every ``ANCHOR_EVERY`` observations); a
  count in between runs one SLSQP descent from the last anchor's hyperparameters.  The anchor is itself a pure function of the oldest observations, so the schedule stays
  pure: a restarted driver fits that one anchor again and gets the same answers.
- **What is modelled** (:func:`modelled_points`): with the ``output_warping`` option the losses are
  warped (:mod:`~sigopt_hyperopt.engines.embedded.output_warping`) before the fit and before the GP; with
  ``fit_noise`` a noise variance is fitted with the other hyperparameters (libsigopt's *tikhonov*).

The cache is a small in-process dict keyed by that fingerprint; it holds nothing that cannot be
recomputed from the trials, so it is never stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections import OrderedDict
from typing import Any, Collection, Sequence

import numpy as np
from libsigopt.aux.adapter_info_containers import PointsContainer
from libsigopt.aux.constant import CATEGORICAL_EXPERIMENT_PARAMETER_NAME, MINIMUM_VALUE_VAR
from libsigopt.compute.optimization import SLSQPOptimizer
from libsigopt.compute.optimization_auxiliary import OptimizerInfo, SLSQPParameters
from libsigopt.views.rest.gp_hyper_opt_multimetric import GpHyperOptMultimetricView
from sigoptlite.models import LocalObservation
from sigoptlite.sources import GPSource

from .map_fit import MapHyperparameterFit, WarmMapHyperparameterFit
from .options import DEFAULT_OPTIONS, OUT_OF_THE_FIT_DIGEST, EngineOptions
from .output_warping import fit_warp
from .random_state import isolated_numpy_random

logger = logging.getLogger(__name__)

REFIT_EVERY_UP_TO = 40
"""Up to this many observations the hyperparameters change a lot per observation: refit at every
call, on every observation (reusing them from 20 on cost Hartmann6 quality at 40 evaluations: median
regret 0.139 against 0.121, 6 wins in 20 seeds, p = 0.05; refitting every call recovered 0.121)."""
REFIT_GROWTH = 1.15
"""Beyond it, refit when the fitted count would grow by this factor."""
HELD_BACK_FRACTION = 8
"""The newest ``n // HELD_BACK_FRACTION`` observations wait for the next refit point."""
FIT_SUBSET_MAX = 120
"""The fit never uses more observations than this (its cost is cubic in their number)."""
FIT_MULTISTARTS = 10
"""SLSQP starts per fit: libsigopt's own default, so each fit is as good as libsigopt's."""
CACHE_ENTRIES = 16
ANCHOR_EVERY = 8
"""With ``warm_fit``: counts that are multiples of this get a full fit; the others start from it."""
WARM_STARTS = 1
"""SLSQP starts of a warm refit: only the anchor's hyperparameters (they move little in 8 observations)."""
NOISE_START = 1e-2
"""Starting noise variance, as a fraction of the modelled values' variance (its bounds are libsigopt's)."""


def modelled_points(experiment: Any, observations: Sequence[LocalObservation],
                    options: EngineOptions = DEFAULT_OPTIONS) -> PointsContainer:
    """The points and values the GP models: sigoptlite's arrays, the losses warped when asked."""
    points = GPSource.make_points_sampled(experiment, observations)
    ok = ~points.failures
    if options.output_warping and ok.sum() >= 2:
        values = points.values[ok, 0]
        warp = fit_warp(values)
        points.values[ok, 0] = warp.apply(values)
        points.value_vars[ok, 0] = points.value_vars[ok, 0] * warp.slope(values) ** 2
    return points


def refit_points(limit: int) -> list[int]:
    """The observation counts at which the hyperparameters are refitted, up to ``limit``."""
    points = list(range(1, min(limit, REFIT_EVERY_UP_TO) + 1))
    while points and points[-1] < limit:
        following = math.ceil(points[-1] * REFIT_GROWTH)
        if following > limit:
            break
        points.append(following)
    return points


def fitted_count(observation_count: int) -> int:
    """How many of the oldest observations the fit in force at ``observation_count`` uses."""
    if observation_count <= REFIT_EVERY_UP_TO:
        return observation_count  # nothing held back while the model is young
    eligible = observation_count - observation_count // HELD_BACK_FRACTION
    return max(REFIT_EVERY_UP_TO, refit_points(eligible)[-1])


def fit_subset(observations: Sequence[LocalObservation], experiment: Any) -> list[LocalObservation]:
    """The observations the fit in force uses; ``observations`` must be sorted by key (oldest first)."""
    oldest = list(observations[: fitted_count(len(observations))])
    if len(oldest) <= FIT_SUBSET_MAX:
        return oldest
    values = GPSource.make_points_sampled(experiment, oldest)
    succeeded = [i for i in range(len(oldest)) if not values.failures[i]]
    sign = -1.0 if experiment.metrics[0].objective == "maximize" else 1.0
    ranked = sorted(succeeded, key=lambda i: (sign * values.values[i, 0], i))
    best = ranked[: FIT_SUBSET_MAX // 3]
    chosen = set(best)
    rest = [i for i in range(len(oldest)) if i not in chosen]
    spread = np.linspace(0, len(rest) - 1, FIT_SUBSET_MAX - len(best)).round().astype(int)
    chosen.update(rest[i] for i in spread)
    return [oldest[i] for i in sorted(chosen)]


def categorical_parameters(experiment: Any, conditionals: Collection[str]) -> list[int]:
    """Indices of the modelled experiment's categorical parameters that are the space's own (not a
    conditional, which sigoptlite models as a categorical: its branches are different functions)."""
    return [i for i, p in enumerate(experiment.parameters)
            if p.type == CATEGORICAL_EXPERIMENT_PARAMETER_NAME and p.name not in conditionals]


def fit_relevant_repr(options: EngineOptions) -> str:
    """``repr(options)`` without the fields :data:`~.options.OUT_OF_THE_FIT_DIGEST` names (for the
    defaults, exactly the repr the options had before those fields existed)."""
    kept = [f"{f.name}={getattr(options, f.name)!r}" for f in dataclasses.fields(options)
            if f.name not in OUT_OF_THE_FIT_DIGEST]
    return f"{type(options).__name__}({', '.join(kept)})"


def fingerprint(experiment: Any, observations: Sequence[LocalObservation],
                options: EngineOptions = DEFAULT_OPTIONS, prior_parameters: Sequence[int] = ()) -> str:
    """A digest of the space, the options, the parameters given the categorical prior (if any) and
    exactly the fitted data (points, values, noise, failures)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([repr(p) for p in experiment.parameters]).encode())  # frozen dataclasses
    digest.update(fit_relevant_repr(options).encode())
    if prior_parameters:
        digest.update(json.dumps({"categorical_prior": list(prior_parameters)}).encode())
    if observations:
        points = GPSource.make_points_sampled(experiment, observations)
        for array in (points.points, points.values, points.value_vars, points.failures):
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class ScheduledHyperparameterFit(GpHyperOptMultimetricView):
    """libsigopt's hyperparameter fit with the number of starts this module chooses."""

    multistarts = FIT_MULTISTARTS

    @property
    def optimizer_info(self) -> OptimizerInfo:
        return OptimizerInfo(
            optimizer=SLSQPOptimizer,
            parameters=SLSQPParameters(ftol=1.0e-2),  # libsigopt's setting
            num_multistarts=self.multistarts,
            num_random_samples=0,
        )


class WarmHyperparameterFit(ScheduledHyperparameterFit):
    """The same fit from given hyperparameters (its first start) and a few random starts."""

    multistarts = WARM_STARTS


def anchor_count(count: int) -> int:
    """The count whose full fit a warm refit at ``count`` observations starts from (0: a full fit).

    Anchors themselves (multiples of ``ANCHOR_EVERY``) are fitted from scratch, so a restarted
    driver recomputes at most one anchor, never a chain of them.
    """
    return 0 if count % ANCHOR_EVERY == 0 else count // ANCHOR_EVERY * ANCHOR_EVERY


def _value_range(experiment: Any, observations: Sequence[LocalObservation],
                 options: EngineOptions = DEFAULT_OPTIONS) -> float:
    points = modelled_points(experiment, observations, options)
    values = points.values[~points.failures, 0]
    return float(np.ptp(values)) if len(values) else 0.0


def rescale_to(hyperparameters: list[dict], fitted_range: float, current_range: float) -> list[dict]:
    """Express a signal variance fitted on one subset in the units of the current observations.

    libsigopt scales the values it models to [-1, 1] by their min and max; a subset with a narrower
    range than all observations was modelled in stretched units, so its ``alpha`` (and fitted noise)
    shrink by the squared ratio of the ranges.  Length scales do not depend on the values' units.
    """
    if fitted_range <= MINIMUM_VALUE_VAR or current_range <= MINIMUM_VALUE_VAR:
        return hyperparameters
    factor = (fitted_range / current_range) ** 2
    rescaled = []
    for entry in hyperparameters:
        entry = dict(entry)
        entry["alpha"] = entry["alpha"] * factor
        if entry.get("tikhonov") is not None:
            entry["tikhonov"] = entry["tikhonov"] * factor
        rescaled.append(entry)
    return rescaled


class HyperparameterCache:
    """Hyperparameters in force for a list of observations, fitted once per refit point."""

    def __init__(self, entries: int = CACHE_ENTRIES, options: EngineOptions = DEFAULT_OPTIONS,
                 conditionals: Collection[str] = ()) -> None:
        self._entries = entries
        self.options = options
        self._conditionals = frozenset(conditionals)
        """Names of the space's conditionals (libsigopt models each as a categorical parameter)."""
        self._fits: OrderedDict[str, list[dict]] = OrderedDict()
        self.fits_computed = 0
        """How many fits this cache ran (a miss each); read by tests and benchmarks."""

    def hyperparameters(self, source: GPSource, observations: Sequence[LocalObservation]) -> list[dict]:
        """The GP hyperparameters for ``observations`` (sorted oldest first), fitting only on a miss."""
        experiment = source.experiment
        subset = fit_subset(observations, experiment)
        fitted = self._cached_fit(source, subset)
        if len(subset) == len(observations):
            return fitted  # the fit is on all of them: already in their units
        return rescale_to(fitted, _value_range(experiment, subset, self.options),
                          _value_range(experiment, observations, self.options))

    def _cached_fit(self, source: GPSource, subset: list[LocalObservation]) -> list[dict]:
        key = fingerprint(source.experiment, subset, self.options, self._prior_parameters(source.experiment))
        fitted = self._fits.get(key)
        if fitted is None:
            start = None
            anchor = anchor_count(len(subset)) if self.options.warm_fit and len(subset) <= REFIT_EVERY_UP_TO else 0
            if anchor and self.options.fast_fit:
                anchor = len(subset) - 1  # the previous count's fit (itself chained back to the anchor)
            if anchor:
                # The anchor is the oldest ``anchor`` of the same sorted observations: pure; its
                # variances are carried into the units of the larger subset.
                experiment = source.experiment
                start = rescale_to(self._cached_fit(source, subset[:anchor]),
                                   _value_range(experiment, subset[:anchor], self.options),
                                   _value_range(experiment, subset, self.options))
            fitted = self._fit(source, subset, key, start)
            self._fits[key] = fitted
            while len(self._fits) > self._entries:
                self._fits.popitem(last=False)
        else:
            self._fits.move_to_end(key)
        return fitted

    def _prior_parameters(self, experiment: Any) -> list[int]:
        """The parameters whose one-hot length scales get the categorical prior (none without the option)."""
        return categorical_parameters(experiment, self._conditionals) if self.options.categorical_prior else []

    def _fit(self, source: GPSource, subset: list[LocalObservation], key: str,
             start: list[dict] | None = None) -> list[dict]:
        self.fits_computed += 1
        defaults = source.get_default_hyperparameters(source.experiment)
        if not subset:
            return defaults
        experiment = source.experiment
        points = modelled_points(experiment, subset, self.options)
        if start is not None:
            first = [dict(entry) for entry in start]
        else:
            first = defaults
        if self.options.fit_noise:
            values = points.values[~points.failures, 0]
            # libsigopt fits on values scaled to a range of 0.2; its noise bounds are relative to their variance.
            variance = max(float(np.var(values)) * (0.2 / max(float(np.ptp(values)), 1e-12)) ** 2, MINIMUM_VALUE_VAR)
            for entry in first:
                if entry.get("tikhonov") is None:
                    entry["tikhonov"] = NOISE_START * variance
        else:
            for entry in first:
                entry["tikhonov"] = None
        view_input = {
            "domain_info": source.form_domain_info(experiment),
            "model_info": source.form_gp_model_info(subset, first),
            "points_sampled": points,
            "tag": {},
            "metrics_info": source.form_metrics_info(experiment),
            "task_options": [t.cost for t in experiment.tasks],
            "engine_options": self.options,
            "categorical_prior_parameters": self._prior_parameters(experiment),
        }
        if self.options.map_fit:
            view = WarmMapHyperparameterFit if start is not None else MapHyperparameterFit
        else:
            view = WarmHyperparameterFit if start is not None else ScheduledHyperparameterFit
        logger.debug("fitting GP hyperparameters on %d observations (%s)", len(subset),
                     "warm" if start is not None else "full")
        with isolated_numpy_random(int(key[:8], 16)):
            response = source.call_libsigopt_views(view, view_input)
        return response["hyperparameter_dict"]
