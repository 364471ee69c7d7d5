"""Metric declarations of a multimetric search: what SigOpt optimizes, what it must keep feasible.

hyperopt minimizes one scalar loss.  SigOpt can optimize up to two metrics at once (it then returns
a Pareto frontier), keep *constraint* metrics under (or over) a threshold, and keep linear
inequalities between numeric parameters.  A search declares its metrics here; the objective then
returns their values under ``"metrics"``::

    metrics = [Metric("accuracy", objective="maximize"),
               Metric("memory_gb", strategy="constraint", objective="minimize", threshold=2.0)]

    def objective(params):
        return {"status": "ok", "metrics": {"accuracy": acc, "memory_gb": mem}}

This module is pure: the records, their validation (every mistake a :class:`MetricsError` saying
what to do, raised before any evaluation), the plain-data form stored with the search, and the
rules every part of the package shares (feasibility, the loss hyperopt sees).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .errors import MetricsError

OBJECTIVES = ("minimize", "maximize")
STRATEGIES = ("optimize", "constraint")
CONSTRAINT_TYPES = ("less_than", "greater_than")
RESERVED_NAME = "loss"
"""The single-loss search's metric; a declared metric of this name would be confused with hyperopt's loss."""


@dataclass(frozen=True)
class Metric:
    """One metric of a search.

    ``objective`` says which direction is better (hyperopt's habit, ``"minimize"``, is the default);
    ``strategy="optimize"`` metrics are optimized (one, or two for a Pareto frontier),
    ``strategy="constraint"`` ones must satisfy ``threshold`` (minimize: value <= threshold,
    maximize: value >= threshold).  A threshold on an optimized metric is allowed only when two are
    optimized: it bounds the region of the frontier SigOpt explores.
    """

    name: str
    objective: str = "minimize"
    strategy: str = "optimize"
    threshold: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise MetricsError(f"Metric name {self.name!r}: give each metric a non-empty string name, "
                               "the key its value has in the objective's result['metrics'].")
        if self.name == RESERVED_NAME:
            raise MetricsError("Metric name 'loss' is hyperopt's own result key: name the metric after what it "
                               "measures (e.g. 'val_loss').")
        if self.objective not in OBJECTIVES:
            raise MetricsError(f"Metric {self.name!r}: objective={self.objective!r}; use 'minimize' or 'maximize'.")
        if self.strategy not in STRATEGIES:
            raise MetricsError(f"Metric {self.name!r}: strategy={self.strategy!r}; use 'optimize' or 'constraint'.")
        if self.threshold is not None:
            if isinstance(self.threshold, bool) or not isinstance(self.threshold, numbers.Real) \
                    or not math.isfinite(float(self.threshold)):
                raise MetricsError(f"Metric {self.name!r}: threshold={self.threshold!r}; give a finite number "
                                   "(or None for no threshold).")
            object.__setattr__(self, "threshold", float(self.threshold))
        elif self.strategy == "constraint":
            raise MetricsError(f"Metric {self.name!r} is a constraint without a threshold: give threshold= "
                               "(the bound its value must satisfy), or make it strategy='optimize'.")

    @property
    def is_optimized(self) -> bool:
        return self.strategy == "optimize"

    def satisfied(self, value: float) -> bool:
        """Whether ``value`` meets this metric's threshold (always, without one)."""
        if self.threshold is None:
            return True
        return value <= self.threshold if self.objective == "minimize" else value >= self.threshold

    def as_dict(self) -> dict[str, Any]:
        """The SigOpt metric (and the stored declaration's entry): name, objective, strategy, threshold."""
        return {"name": self.name, "objective": self.objective, "strategy": self.strategy,
                "threshold": self.threshold}


@dataclass(frozen=True)
class LinearConstraint:
    """``sum(weight * parameter) <= threshold`` (``type="less_than"``) or ``>=`` (``"greater_than"``).

    Only on numeric parameters (``hp.uniform``/``hp.loguniform``/integers) that are active in every
    trial: SigOpt's linear constraints are inequalities on the parameters' own values.
    """

    terms: Mapping[str, float]
    threshold: float
    type: str = "less_than"

    def __post_init__(self) -> None:
        if not isinstance(self.terms, Mapping) or not self.terms:
            raise MetricsError("LinearConstraint: give terms as a non-empty dict {parameter label: weight}.")
        terms = []
        for name, weight in self.terms.items():
            if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not math.isfinite(float(weight)):
                raise MetricsError(f"LinearConstraint: the weight of {name!r} is {weight!r}; give a finite number.")
            terms.append((str(name), float(weight)))
        object.__setattr__(self, "terms", dict(sorted(terms)))
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, numbers.Real) \
                or not math.isfinite(float(self.threshold)):
            raise MetricsError(f"LinearConstraint: threshold={self.threshold!r}; give a finite number.")
        object.__setattr__(self, "threshold", float(self.threshold))
        if self.type not in CONSTRAINT_TYPES:
            raise MetricsError(f"LinearConstraint: type={self.type!r}; use 'less_than' or 'greater_than'.")

    def __hash__(self) -> int:  # terms is a dict; the record is still a value
        return hash((tuple(self.terms.items()), self.threshold, self.type))

    def as_dict(self) -> dict[str, Any]:
        """SigOpt's linear-constraint body."""
        return {"type": self.type, "threshold": self.threshold,
                "terms": [{"name": name, "weight": weight} for name, weight in self.terms.items()]}


def check_metrics(metrics: Iterable[Metric] | None, *, observation_budget: int | None = None,
                  budget_hint: str = "pass observation_budget= to sigopt_suggest") -> tuple[Metric, ...]:
    """The declared metrics as a tuple, or :class:`MetricsError` saying what is wrong with them.

    SigOpt needs an observation budget for any search that declares metrics (it plans the frontier's
    exploration, and a constraint's, against it); ``budget_hint`` says how to give one.
    """
    if metrics is None:
        return ()
    if isinstance(metrics, (Metric, str, Mapping)):
        raise MetricsError("metrics= takes a list of Metric, e.g. metrics=[Metric('accuracy', objective='maximize')].")
    declared = tuple(metrics)
    if not declared:
        raise MetricsError("metrics=[] declares no metric: give at least one Metric, or leave metrics= out for "
                           "the ordinary single-loss search.")
    for metric in declared:
        if not isinstance(metric, Metric):
            raise MetricsError(f"metrics= holds {metric!r}; give Metric objects "
                               "(from sigopt_hyperopt import Metric).")
    names = [m.name for m in declared]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MetricsError(f"Metric names must be unique; {duplicates} appear more than once.")
    optimized = [m for m in declared if m.is_optimized]
    if len(optimized) > 2:
        raise MetricsError(f"SigOpt optimizes at most two metrics at once; {[m.name for m in optimized]} are "
                           "optimized. Make the others strategy='constraint' (with a threshold).")
    if len(optimized) == 1 and optimized[0].threshold is not None:
        raise MetricsError(f"Metric {optimized[0].name!r} is the only optimized metric and has a threshold: "
                           "thresholds on optimized metrics are only for two-metric searches. Drop the threshold, "
                           "or make it strategy='constraint' to require it.")
    if observation_budget is None:
        raise MetricsError(f"A search with declared metrics needs an observation budget (SigOpt plans the "
                           f"search against it): {budget_hint}.")
    return declared


def check_linear_constraints(constraints: Iterable[LinearConstraint] | None, space: Any) -> tuple[LinearConstraint, ...]:
    """The linear constraints as a tuple, refusing any on a parameter SigOpt cannot constrain.

    ``space`` is the :class:`~sigopt_hyperopt.space.TranslatedSpace`: a constrained label must be a
    double or int parameter that is active in every trial.
    """
    if constraints is None:
        return ()
    declared = tuple(constraints)
    by_label = {p.label: p for p in space.parameters}
    for constraint in declared:
        if not isinstance(constraint, LinearConstraint):
            raise MetricsError(f"linear_constraints= holds {constraint!r}; give LinearConstraint objects.")
        for name in constraint.terms:
            parameter = by_label.get(name)
            if parameter is None:
                raise MetricsError(f"LinearConstraint names {name!r}, which is not a label of the space "
                                   f"(its labels: {sorted(by_label)}).")
            if parameter.kind not in ("double", "int"):
                raise MetricsError(f"LinearConstraint on {name!r}: it is a {parameter.kind} parameter; linear "
                                   "constraints apply only to numeric (uniform, loguniform, integer) parameters.")
            if not any(len(alternative) == 0 for alternative in parameter.active_when):
                raise MetricsError(f"LinearConstraint on {name!r}: it is conditional (only active under some "
                                   "hp.choice options); constrain only parameters every trial has.")
    return declared


def declaration(metrics: Sequence[Metric]) -> list[dict[str, Any]]:
    """The plain form stored with the search (its space summary) and compared on resume."""
    return [m.as_dict() for m in metrics]


def metrics_from_declaration(stored: Any) -> tuple[Metric, ...]:
    """The metrics a stored declaration names; () for none or for one this version cannot read."""
    if not isinstance(stored, list):
        return ()
    try:
        return tuple(Metric(name=d["name"], objective=d.get("objective", "minimize"),
                            strategy=d.get("strategy", "optimize"), threshold=d.get("threshold"))
                     for d in stored)
    except (MetricsError, KeyError, TypeError, AttributeError):
        return ()


def finite_values(metrics: Sequence[Metric], result: Any) -> tuple[dict[str, float] | None, list[str]]:
    """The declared metrics' values in a result dict, and the names missing or not finite there.

    Returns ``(values, [])`` when every declared metric has a finite value, else ``(None, problems)``.
    """
    given = result.get("metrics") if isinstance(result, Mapping) else None
    given = given if isinstance(given, Mapping) else {}
    values: dict[str, float] = {}
    problems = []
    for metric in metrics:
        raw = given.get(metric.name)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            problems.append(metric.name)
            continue
        if not math.isfinite(value):
            problems.append(metric.name)
        else:
            values[metric.name] = value
    return (values, []) if not problems else (None, problems)


def feasible(metrics: Sequence[Metric], values: Mapping[str, float]) -> bool:
    """Every threshold met: constraint metrics' and optimized metrics' alike."""
    return all(m.satisfied(values[m.name]) for m in metrics)


def signed(metric: Metric, value: float) -> float:
    """The value with lower = better (a maximized metric negated)."""
    return -value if metric.objective == "maximize" else value


def loss_for_hyperopt(metrics: Sequence[Metric], given: Any) -> float:
    """The loss hyperopt sees when the objective gives none: the first optimized metric, lower = better.

    ``given`` is the result's ``"metrics"`` dict.  An all-constraint search has no optimized metric:
    0.0.  A result without a finite value of that metric gets +inf (the trial is a failed
    observation for SigOpt anyway).
    """
    first = next((m for m in metrics if m.is_optimized), None)
    if first is None:
        return 0.0
    raw = given.get(first.name) if isinstance(given, Mapping) else None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return math.inf
    return signed(first, value) if math.isfinite(value) else math.inf
