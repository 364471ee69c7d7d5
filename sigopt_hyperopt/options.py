"""What ``functools.partial(sigopt_suggest, ...)`` configures, as one comparable record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .metrics import LinearConstraint, Metric

from .engines.remote.retry import DEFAULT_POLICY, RetryPolicy

DEFAULT_NAME = "hyperopt search"

DEFAULT_WAIT_TIMEOUT = 3600.0
"""How long ``sigopt_suggest`` waits for a result when every allowed suggestion is open."""


@dataclass(frozen=True)
class SearchOptions:
    """The options of ``sigopt_suggest``; a driver keeps one session per (trials, domain, options)."""

    name: str | None = None
    project: str | None = None
    observation_budget: int | None = None
    parallel_bandwidth: int | None = None
    experiment_id: str | None = None
    connection: Any = None
    retry: RetryPolicy = DEFAULT_POLICY
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    metrics: tuple[Metric, ...] = ()
    """Declared metrics (:mod:`~sigopt_hyperopt.metrics`); () is the ordinary single-loss search."""
    linear_constraints: tuple[LinearConstraint, ...] = ()
