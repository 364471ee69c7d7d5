"""SigOpt's open-source optimizer (libsigopt, through sigoptlite's building blocks) in this process.

sigoptlite's own driver serves one open suggestion at a time and refuses ``parallel_bandwidth != 1``.
This engine composes the same pieces differently: it asks libsigopt's views for ``count`` points at
once and passes the pending points as ``points_being_sampled``, so parallel workers get distinct
points that avoid what is already being evaluated (libsigopt's constant-liar parallelism).

It is a pure function of (space, finished results, pending points, seed): what it keeps between
calls (the GP hyperparameters, see :mod:`~sigopt_hyperopt.engines.embedded.model`, and converted
observations) is a cache of values recomputable from the trials, so a restarted driver gets the same
answers.  The search for expected improvement's maximum is :mod:`~sigopt_hyperopt.engines.embedded.acquisition`'s.
libsigopt draws from numpy's global random state; every call seeds it and restores the caller's, and
BLAS runs on one thread meanwhile (on a shared machine its threads only contend: 15.8 s instead of
2.2 s for one libsigopt suggestion at 100 observations, and results that vary in the last bits).
"""

from __future__ import annotations

import logging
from typing import Any, Collection, Sequence

import numpy as np

from .packages import ensure_engine

ensure_engine()  # libsigopt and sigoptlite may live outside the environment: see packages.py

from libsigopt.aux.adapter_info_containers import PointsContainer
from libsigopt.aux.constant import (
    DEFAULT_USE_SPE_AFTER_THIS_MANY_OBSERVATIONS,
    DEFAULT_USE_SPE_BEYOND_THIS_MANY_DIMENSIONS,
    PARALLEL_CONSTANT_LIAR,
)
from libsigopt.aux.errors import SigoptComputeError
from libsigopt.views.rest.random_search_next_points import RandomSearchNextPoints
from libsigopt.views.rest.spe_next_points import SPENextPoints
from sigoptlite.builders import LocalExperimentBuilder, LocalObservationBuilder
from sigoptlite.models import LocalObservation, LocalSuggestion
from sigoptlite.sources import BaseOptimizationSource, GPSource
from threadpoolctl import threadpool_limits

from ...errors import MetricsError, UnsupportedSpaceError
from ...space import Assignments, TranslatedSpace
from ..base import METRIC_NAME, Engine, Observation, Suggestion, experiment_spec
from . import _compat  # noqa: F401  (before libsigopt runs)
from . import schema_cache  # noqa: F401  (sigoptlite's validation, each schema checked once)
from .acquisition import BatchedGpNextPoints
from .initial_design import design_points, design_seed, first_point
from .model import HyperparameterCache, modelled_points
from .multimetric import MultimetricModel
from .options import DEFAULT_OPTIONS, INITIALIZATION_CAP, EngineOptions
from .random_state import isolated_numpy_random

logger = logging.getLogger(__name__)

EMBEDDED_EXPERIMENT_ID = "embedded"

SINGLE_LOSS = [{"name": METRIC_NAME, "objective": "minimize"}]
"""The single-loss search's metrics, as :func:`~sigopt_hyperopt.engines.base.experiment_spec` writes them."""

_REDRAWS = 10
"""Random draws for a point that repeats a pending one before accepting the repeat (tiny spaces)."""


def _key(assignments: Assignments) -> tuple:
    return tuple(sorted(assignments.items()))


class EmbeddedEngine(Engine):
    """libsigopt in process; no account, no network."""

    kind = "embedded"
    options: EngineOptions = DEFAULT_OPTIONS
    """The ingredients in force (:mod:`~sigopt_hyperopt.engines.embedded.options`); an instance may be given its own."""

    def __init__(self, spec: dict, options: EngineOptions | None = None) -> None:
        """An engine for a SigOpt experiment-create body (see :func:`~sigopt_hyperopt.engines.base.experiment_spec`)."""
        if options is not None:
            self.options = options
        # sigoptlite's validator only accepts parallel_bandwidth 1; this engine does the parallelism itself.
        allowed = ("name", "parameters", "metrics", "conditionals", "observation_budget", "linear_constraints")
        local_spec = {key: value for key, value in spec.items() if key in allowed}
        local_spec["parallel_bandwidth"] = 1
        self._spec = dict(spec)
        try:
            self._experiment = LocalExperimentBuilder(local_spec)
        except ValueError as error:
            if spec.get("linear_constraints") or spec.get("metrics") != SINGLE_LOSS:
                raise MetricsError(f"SigOpt's validator refused the search's metrics or constraints: {error}. Change the "
                                   "declaration (docs/multimetric.md lists what SigOpt supports).") from error
            raise UnsupportedSpaceError(None, f"SigOpt's validator refused it: {error}") from error
        self._metric_names = [m["name"] for m in spec.get("metrics") or SINGLE_LOSS]
        # Declared metrics or linear constraints: SigOpt's own multimetric machinery (multimetric.py);
        # the single-loss search keeps this engine's ingredients, unchanged.
        self._multimetric = MultimetricModel() if (spec.get("linear_constraints")
                                                   or spec.get("metrics", SINGLE_LOSS) != SINGLE_LOSS) else None
        self._known: tuple[Observation, ...] = ()
        self._observations: list[LocalObservation] = []
        self._cache: dict[tuple, LocalObservation] = {}
        self._hyperparameters = HyperparameterCache(
            options=self.options, conditionals=[c["name"] for c in spec.get("conditionals") or []])

    @classmethod
    def for_space(
        cls, space: TranslatedSpace, *, name: str = "hyperopt search", observation_budget: int | None = None,
        metrics: Sequence[Any] = (), linear_constraints: Sequence[Any] = (),
    ) -> "EmbeddedEngine":
        return cls(experiment_spec(space, name=name, observation_budget=observation_budget, metrics=metrics,
                                   linear_constraints=linear_constraints))

    @property
    def experiment_id(self) -> str:
        return EMBEDDED_EXPERIMENT_ID

    @property
    def observations(self) -> tuple[Observation, ...]:
        """The finished evaluations the engine currently knows (what the last ``sync`` gave it)."""
        return self._known

    def sync(self, observations: Sequence[Observation]) -> None:
        # Observations are immutable records; converting one is the costly part, so keep the last
        # conversions (a cache of a pure function, not state that changes answers).
        cache = {}
        # Oldest first: the hyperparameter schedule and libsigopt's arrays must not depend on the
        # order the caller happened to list the results in.
        for o in sorted(observations, key=lambda o: o.key):
            key = (o.key, o.value, o.value_stddev, o.failed,
                   tuple(sorted(o.metric_values.items())) if o.metric_values is not None else None)
            cache[key] = self._cache.get(key) or self._local_observation(o)
        self._cache = cache
        self._known = tuple(observations)
        self._observations = list(cache.values())

    def suggest(
        self, count: int, pending: Sequence[Assignments], seed: int, *, owned: Collection[str] = ()
    ) -> list[Suggestion]:
        if count <= 0:
            return []
        with threadpool_limits(limits=1), isolated_numpy_random(seed):
            if self._in_initialization_phase():
                points = (self._design_points(count, pending, seed)
                          if self.options.space_filling_design and self._multimetric is None else [])
            elif self._multimetric is not None:
                try:
                    source, raw = self._multimetric.points(self._experiment, self._observations, count, pending)
                    points = self._assignments(source, raw)
                except SigoptComputeError as error:
                    logger.warning("SigOpt's model failed (%s); suggesting random points this time", error)
                    points = []
            else:
                try:
                    points = self._model_points(count, pending)
                except SigoptComputeError as error:
                    logger.warning("SigOpt's model failed (%s); suggesting random points this time", error)
                    points = []
            if len(points) < count:  # past the design's end, or a small discrete space out of distinct points
                points += self._random_points(count - len(points))
            points = self._apart_from(points, pending)
        return [Suggestion(assignments=a) for a in points]

    def _apart_from(self, points: list[Assignments], pending: Sequence[Assignments]) -> list[Assignments]:
        """The points, with any that repeats a pending one (or an earlier one) redrawn at random.

        On integer, quantized and categorical parameters a point can repeat exactly: random draws in
        the initialization phase know nothing of the pending points, and the model's points are
        rounded after its search (libsigopt replaces repeats of *finished* points only).  Measured on
        a 5 x 5 grid, one random draw in 15 repeated the pending point.  A space with no other point
        left keeps the repeats.
        """
        taken = {_key(a) for a in pending}
        kept: list[Assignments | None] = []
        for a in points:
            kept.append(None if _key(a) in taken else a)
            taken.add(_key(a))
        for _ in range(_REDRAWS):
            missing = kept.count(None)
            if not missing:
                break
            fresh = iter(self._random_points(missing))
            for index in [i for i, a in enumerate(kept) if a is None]:
                drawn = next((a for a in fresh if _key(a) not in taken), None)
                if drawn is not None:
                    kept[index] = drawn
                    taken.add(_key(drawn))
        return [a if a is not None else original for a, original in zip(kept, points)]

    # -- the phases, as SigOpt's broker chooses them ------------------------------------------

    def _in_initialization_phase(self) -> bool:
        valid = sum(1 for o in self._observations if not o.failed)
        return valid < self._initialization_size()

    def _initialization_size(self) -> int:
        """Successful first points before the model takes over (SigOpt's broker: twice the dimension,
        at least 4, plus one; shorter with ``lean_initialization`` or ``capped_initialization``)."""
        dimension = self._experiment.dimension
        if self.options.lean_initialization:
            return max(dimension + 1, 5)
        broker = max(2 * dimension, 4) + 1
        return min(broker, INITIALIZATION_CAP) if self.options.capped_initialization else broker

    def _uses_spe(self) -> bool:
        return (
            self._experiment.dimension > DEFAULT_USE_SPE_BEYOND_THIS_MANY_DIMENSIONS
            or len(self._observations) > DEFAULT_USE_SPE_AFTER_THIS_MANY_OBSERVATIONS
        )

    def _random_points(self, count: int) -> list[Assignments]:
        source = BaseOptimizationSource(self._experiment)
        view_input = {
            "domain_info": source.form_domain_info(source.experiment),
            "num_to_sample": count,
            "tag": {},
            "task_options": [],
        }
        response = source.call_libsigopt_views(RandomSearchNextPoints, view_input)
        return self._assignments(source, response["points_to_sample"])

    def _design_points(self, count: int, pending: Sequence[Assignments], seed: int) -> list[Assignments]:
        """The next points of the search's design (:mod:`~sigopt_hyperopt.engines.embedded.initial_design`): as many of
        ``count`` as it has left (failed first points extend the phase past it)."""
        source = BaseOptimizationSource(self._experiment)
        domain_info, size = source.form_domain_info(source.experiment), self._initialization_size()
        first = first_point(self._known, pending)
        chosen: list[Assignments] = []
        if first is None:  # the search's first point: drawn from a design keyed by this call's seed
            points = design_points(domain_info, size, 0, 1, seed)
            if points is None:
                return []
            chosen = self._assignments(source, points)
            first = chosen[0]
        points = design_points(domain_info, size, len(self._known) + len(pending) + len(chosen),
                               count - len(chosen), design_seed(first))
        if points is not None and len(points):
            chosen += self._assignments(source, points)
        return chosen

    def _model_points(self, count: int, pending: Sequence[Assignments]) -> list[Assignments]:
        if self._uses_spe():
            source = BaseOptimizationSource(self._experiment)
            view, model_info = SPENextPoints, None
        else:
            source = GPSource(self._experiment)
            hyperparameters = self._hyperparameters.hyperparameters(source, self._observations)
            view, model_info = BatchedGpNextPoints, source.form_gp_model_info(self._observations, hyperparameters)
        experiment = source.experiment
        points_sampled = modelled_points(experiment, self._observations, self.options)
        being_sampled = np.array([source.get_point_from_assignments(experiment, a) for a in pending])
        view_input = {
            "domain_info": source.form_domain_info(experiment),
            "num_to_sample": count,
            "points_sampled": points_sampled,
            "points_being_sampled": PointsContainer(points=being_sampled),
            "tag": {},
            "metrics_info": source.form_metrics_info(experiment, points_sampled),
            "task_options": [],
        }
        if model_info is not None:
            view_input["model_info"] = model_info
            view_input["parallelism"] = PARALLEL_CONSTANT_LIAR
            view_input["engine_options"] = self.options
        response = source.call_libsigopt_views(view, view_input)
        return self._assignments(source, response["points_to_sample"])

    def _assignments(self, source: BaseOptimizationSource, points: Sequence[Sequence[float]]) -> list[Assignments]:
        assignments = []
        for point in points:
            raw = source.make_assignments_from_point(source.experiment, [float(x) for x in point])
            suggestion = source.remove_transformations_from_source_suggestion(LocalSuggestion(assignments=raw))
            assignments.append(self._on_grid(dict(suggestion.assignments)))
        return assignments

    def _on_grid(self, assignments: Assignments) -> Assignments:
        """Undo float round-off from the log transformation (10**log10(191) is not 191.0)."""
        for parameter in self._experiment.parameters:
            if parameter.grid and parameter.name in assignments:
                value = assignments[parameter.name]
                assignments[parameter.name] = min(parameter.grid, key=lambda g: abs(g - value))
        return assignments

    def _local_observation(self, observation: Observation) -> LocalObservation:
        values = None
        if not observation.failed and observation.metric_values is not None:
            values = [{"name": name, "value": float(observation.metric_values[name])} for name in self._metric_names]
        elif not observation.failed:
            metric = {"name": METRIC_NAME, "value": float(observation.value)}
            if observation.value_stddev:
                metric["value_stddev"] = float(observation.value_stddev)
            values = [metric]
        return LocalObservationBuilder(
            {"assignments": dict(observation.assignments), "values": values, "failed": observation.failed, "task": None},
            experiment=self._experiment,
        )
