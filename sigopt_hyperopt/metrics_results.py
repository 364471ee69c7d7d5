"""What a multimetric search found: its feasible trials, their Pareto front, the one best feasible trial.

Pure: trial documents in, records out.  It reads only the trials' result dicts (``result["metrics"]``)
and the metric declaration the search stored with its space summary (see
:mod:`sigopt_hyperopt.space_summary`), so it works on hyperopt's ``Trials`` and this package's
``MongoTrials`` alike, in a notebook long after the search, without unpickling anything.

A trial counts when it finished with status ``ok`` and a finite value for every declared metric;
it is *feasible* when every threshold is met (:func:`sigopt_hyperopt.metrics.feasible`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from hyperopt.base import JOB_STATE_DONE, STATUS_OK

from .errors import MetricsError
from .metrics import Metric, check_metrics, feasible, finite_values, metrics_from_declaration, signed
from .reporting import MISC_KEY, all_trial_docs
from .space_summary import stored_metrics


@dataclass(frozen=True)
class MetricsRecord:
    """One trial of a multimetric search, as the results functions return it.

    ``params`` is hyperopt's form of the trial's point (what ``fmin`` returns: a label's value, or
    the index of a choice's option; ``hyperopt.space_eval(space, params)`` gives the point itself);
    ``assignments`` is SigOpt's form (choices by option name); ``metrics`` the declared metrics' values.
    """

    tid: int
    params: dict[str, Any]
    assignments: dict[str, Any]
    metrics: dict[str, float]


def declared_metrics(trials: Any, metrics: Sequence[Metric] | None = None) -> tuple[Metric, ...]:
    """The given metrics, else the declaration stored with the trials; :class:`MetricsError` without either."""
    if metrics is not None:
        return check_metrics(metrics, observation_budget=0)
    declared = metrics_from_declaration(stored_metrics(trials.attachments))
    if not declared:
        raise MetricsError("These trials hold no metric declaration (the search was not run with metrics=, or by "
                           "this package): pass metrics= (the list of Metric the search declared).")
    return declared


def feasible_records(trials: Any, metrics: Sequence[Metric] | None = None) -> list[MetricsRecord]:
    """Every feasible trial, by trial id."""
    declared = declared_metrics(trials, metrics)
    records = []
    for doc in sorted(all_trial_docs(trials), key=lambda d: d["tid"]):
        result = doc.get("result") or {}
        if doc.get("state") != JOB_STATE_DONE or result.get("status") != STATUS_OK:
            continue
        values = finite_values(declared, result)[0]
        if values is None or not feasible(declared, values):
            continue
        misc = doc.get("misc") or {}
        params = {label: vals[0] for label, vals in (misc.get("vals") or {}).items() if vals}
        assignments = dict((misc.get(MISC_KEY) or {}).get("assignments") or {})
        records.append(MetricsRecord(int(doc["tid"]), params, assignments, values))
    return records


def pareto_front(trials: Any, metrics: Sequence[Metric] | None = None) -> list[MetricsRecord]:
    """The feasible trials no other feasible trial dominates on the optimized metrics, best first on the first.

    One trial dominates another when it is at least as good on every optimized metric and better on
    one.  With one optimized metric the front is its best trial (all of them, when tied); with none
    (an all-constraint search) every feasible trial.  Trials with equal values are all kept.
    """
    declared = declared_metrics(trials, metrics)
    optimized = [m for m in declared if m.is_optimized]
    records = feasible_records(trials, declared)
    if not optimized:
        return records
    costs = [tuple(signed(m, r.metrics[m.name]) for m in optimized) for r in records]

    def dominated(i: int) -> bool:
        return any(all(a <= b for a, b in zip(other, costs[i])) and other != costs[i] for other in costs)

    front = [(cost, record) for i, (cost, record) in enumerate(zip(costs, records)) if not dominated(i)]
    front.sort(key=lambda pair: (pair[0], pair[1].tid))
    return [record for _, record in front]


def best_feasible(trials: Any, metrics: Sequence[Metric] | None = None) -> MetricsRecord | None:
    """The search's one answer: the best feasible trial on the first optimized metric (with two
    optimized metrics, the front's trial best on the first); the first feasible trial of an
    all-constraint search; None when no trial is feasible."""
    front = pareto_front(trials, metrics)
    return front[0] if front else None
