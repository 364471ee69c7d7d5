"""The one small interface between the algorithm and SigOpt, and the records that cross it.

Two implementations: :class:`~sigopt_hyperopt.engines.embedded.engine.EmbeddedEngine` (SigOpt's open-source
optimizer in this process, the default) and :class:`~sigopt_hyperopt.engines.remote.engine.RemoteEngine` (the
``sigopt`` client over HTTP, for hosted SigOpt or a self-hosted sigopt-server).

Nothing here knows about hyperopt: an engine sees SigOpt assignments, finished results and
pending points, never trial documents.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Collection, Mapping, Sequence

from ..space import Assignments, TranslatedSpace

METRIC_NAME = "loss"
"""hyperopt minimizes a loss; the SigOpt experiment has one metric of this name, minimized."""


@dataclass(frozen=True)
class Observation:
    """A finished evaluation, in SigOpt's terms.

    ``key`` is the hyperopt trial id and ``attempt`` the evaluation of that trial (a trial put back
    in the queue and evaluated again is a new attempt); with the experiment and the search they
    identify it for exactly-once reporting.  ``failed`` covers ``STATUS_FAIL``, exceptions and
    non-finite losses; then ``value`` is None.
    """

    key: int
    assignments: Assignments
    value: float | None
    value_stddev: float | None = None
    failed: bool = False
    suggestion_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    attempt: int = 0
    metric_values: Mapping[str, float] | None = None
    """A multimetric search's values, by declared metric name (None for the single-loss search, whose
    ``value`` is the loss; None too when the observation failed)."""


@dataclass(frozen=True)
class Suggestion:
    """A point to evaluate; ``id`` is SigOpt's suggestion id (None for the embedded engine)."""

    assignments: Assignments
    id: str | None = None


class Engine(abc.ABC):
    """Create or attach an experiment, learn finished results, suggest points given pending ones."""

    kind: str = "abstract"

    parallel_bandwidth: int | None = None
    """The most suggestions the experiment allows open at once (None: no limit)."""

    @property
    @abc.abstractmethod
    def experiment_id(self) -> str:
        """The experiment this engine serves, as stored in the trials."""

    @abc.abstractmethod
    def sync(self, observations: Sequence[Observation]) -> None:
        """Make the engine know exactly these finished evaluations.

        Called with *every* finished evaluation each time; an engine that keeps durable state
        (the remote one) sends only those it has not recorded yet, so each is reported exactly once.
        """

    @abc.abstractmethod
    def suggest(
        self, count: int, pending: Sequence[Assignments], seed: int, *, owned: Collection[str] = ()
    ) -> list[Suggestion]:
        """``count`` new points that account for the ``pending`` ones (queued or running).

        ``owned`` are the suggestion ids the trials carry; a remote engine that lost an answer uses
        them to tell its own lost suggestion from the trials' ones.
        """

    def fence(self, what: str) -> None:
        """Called before each write to SigOpt; the driver's session makes it a fenced permit, which
        raises :class:`~sigopt_hyperopt.errors.SearchBusyError` once another driver took the search
        over (see :mod:`sigopt_hyperopt.mongo.fence`).  Engines that write nothing outside the
        process never call it."""

    def release(self, suggestion_ids: Sequence[str]) -> None:
        """Forget suggestions whose trials were abandoned; only remote experiments hold any."""

    def delete_orphans(self, owned: Collection[str]) -> list[str]:
        """Delete open suggestions no trial owns (left by a driver that died); returns their ids."""
        return []

    def update_parallel_bandwidth(self, parallel_bandwidth: int) -> None:
        """Allow this many open suggestions; only engines with a limit have anything to change."""


def experiment_spec(
    space: TranslatedSpace,
    *,
    name: str,
    observation_budget: int | None = None,
    parallel_bandwidth: int | None = None,
    metrics: Sequence[Any] = (),
    linear_constraints: Sequence[Any] = (),
) -> dict[str, Any]:
    """The SigOpt experiment-create body for a translated space.

    ``metrics`` (:class:`~sigopt_hyperopt.metrics.Metric`) replace the single minimized ``loss``;
    ``linear_constraints`` (:class:`~sigopt_hyperopt.metrics.LinearConstraint`) go in as SigOpt's.
    """
    spec: dict[str, Any] = {
        "name": name,
        "parameters": space.sigopt_parameters,
        "metrics": [m.as_dict() for m in metrics] or [{"name": METRIC_NAME, "objective": "minimize"}],
        "metadata": {"created_by": "sigopt-hyperopt", "space_fingerprint": space.fingerprint()},
    }
    if space.sigopt_conditionals:
        spec["conditionals"] = space.sigopt_conditionals
    if linear_constraints:
        spec["linear_constraints"] = [c.as_dict() for c in linear_constraints]
    if observation_budget is not None:
        spec["observation_budget"] = int(observation_budget)
    if parallel_bandwidth is not None:
        spec["parallel_bandwidth"] = int(parallel_bandwidth)
    return spec
