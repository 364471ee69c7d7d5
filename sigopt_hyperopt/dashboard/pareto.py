"""A multimetric search as the page shows it: each trial's constraint status, and the Pareto frontier.

The search's metric declaration comes from its stored space summary (plain data, never unpickled);
each trial's metric values from its ``result["metrics"]``.  The rules are the package's own
(:mod:`sigopt_hyperopt.metrics`: which values count, what feasible means, which direction is better),
so the page calls a trial feasible exactly when the search does.  Everything here is pure: rows and
the declaration in, plain data out.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from hyperopt.base import JOB_STATE_DONE, STATUS_OK

from ..metrics import Metric, feasible, finite_values, metrics_from_declaration
from ..metrics_results import pareto_front


def declared_metrics(declaration: Any) -> tuple[Metric, ...]:
    """The metrics a stored declaration names (none for a single-loss search or one not readable)."""
    return metrics_from_declaration(declaration) if declaration else ()


def metric_values(result: Mapping[str, Any]) -> dict[str, float] | None:
    """A result's ``metrics`` as finite floats by name (what a row carries); None when it has none."""
    given = result.get("metrics")
    if not isinstance(given, Mapping):
        return None
    values = {}
    for name, raw in given.items():
        try:
            value = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            values[str(name)] = value
    return values


def _broken(metric: Metric, value: float) -> str:
    sign = ">" if metric.objective == "minimize" else "<"
    return f"{metric.name} {value:.4g} {sign} {metric.threshold:g}"


def constraint_status(metrics: Sequence[Metric], row: Mapping[str, Any]) -> tuple[bool | None, str | None]:
    """Whether a finished trial is feasible, and what the table says: ``feasible``, the thresholds it
    broke (``g1 30 > 25``), or the declared metrics it gave no finite value for; (None, None) for a trial not done."""
    if row.get("state") != "done":
        return None, None
    values, missing = finite_values(metrics, {"metrics": row.get("metrics") or {}})
    if values is None:
        return False, "no value for " + ", ".join(missing)
    if feasible(metrics, values):
        return True, "feasible"
    return False, "; ".join(_broken(m, values[m.name]) for m in metrics if not m.satisfied(values[m.name]))


def annotate(metrics: Sequence[Metric], row: dict[str, Any]) -> dict[str, Any]:
    """The row with its ``feasible`` flag and ``constraints`` text (a new dict; the row is not changed)."""
    ok, status = constraint_status(metrics, row)
    return dict(row, feasible=ok, constraints=status)


class _RowsAsTrials:
    """The page's rows as the trial documents :func:`~sigopt_hyperopt.metrics_results.pareto_front` reads:
    the finished ones, with their metric values (the declaration is passed to it, so no attachments)."""

    attachments: dict = {}

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._docs = [{"tid": int(row["tid"]), "state": JOB_STATE_DONE, "misc": {},
                       "result": {"status": STATUS_OK, "metrics": dict(row.get("metrics") or {})}}
                      for row in rows if row.get("state") == "done"]

    def all_trial_docs(self) -> list[dict]:
        return self._docs


def frontier(metrics: Sequence[Metric], rows: Iterable[Mapping[str, Any]]) -> list[int]:
    """Trial ids of the search's Pareto front, as :func:`sigopt_hyperopt.metrics_results.pareto_front`
    finds it (the feasible trials no other feasible trial dominates on the optimized metrics, ties kept;
    one optimized metric: its best trials; none: every feasible trial), best first on the first metric."""
    return [record.tid for record in pareto_front(_RowsAsTrials(rows), metrics)]
