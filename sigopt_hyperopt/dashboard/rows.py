"""A stored trial document as one row of the page: state, loss, parameters by label, times, owner."""

from __future__ import annotations

import datetime
import math
import numbers
from typing import Any, Mapping

from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING

from .axes import Axis, category_label
from .pareto import metric_values

STATES = ("queued", "running", "done", "failed", "cancelled")
"""The states the page shows; a result with ``status`` other than ``ok`` counts as failed."""

_JOB_STATES = {JOB_STATE_NEW: "queued", JOB_STATE_RUNNING: "running", JOB_STATE_DONE: "done",
               JOB_STATE_ERROR: "failed", JOB_STATE_CANCEL: "cancelled"}


def epoch(value: Any) -> float | None:
    """A stored time (naive UTC, as hyperopt writes it) as Unix seconds."""
    if not isinstance(value, datetime.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return round(value.timestamp(), 3)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    """A JSON-safe parameter value (numpy scalars become Python numbers; non-finite floats text)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    number = _finite(value)
    return number if number is not None else str(value)


def error_message(doc: Mapping[str, Any]) -> str | None:
    """What went wrong: the worker's ``error`` pair, or a failed result's own message."""
    error = doc.get("error")
    if error:
        if isinstance(error, (list, tuple)) and len(error) == 2:
            kind = str(error[0]).removeprefix("<class '").removesuffix("'>")
            return f"{kind}: {error[1]}"
        return str(error)
    result = doc.get("result") or {}
    if result.get("status") not in (None, "ok", "new"):
        for key in ("failure", "exception", "error", "message"):
            if result.get(key):
                return str(result[key])
        return f"status {result.get('status')}"
    return None


def trial_row(doc: Mapping[str, Any], axes: Mapping[str, Axis]) -> dict[str, Any]:
    """The page's view of one trial; inactive (conditional) parameters are left out.

    A result with ``metrics`` (a multimetric search's, see :mod:`.pareto`) adds them, finite values by
    name, as ``metrics``; other rows have no such key."""
    result = doc.get("result") or {}
    state = _JOB_STATES.get(doc.get("state"), "queued")
    if state == "done" and result.get("status") != "ok":
        state = "failed"
    vals = (doc.get("misc") or {}).get("vals") or {}
    params = {}
    for label, value in vals.items():
        if isinstance(value, (list, tuple)):
            if not value:
                continue  # inactive under this trial's choices
            value = value[0]
        params[label] = _plain(category_label(axes.get(label), value))
    row = {
        "tid": int(doc["tid"]),
        "exp_key": doc.get("exp_key"),
        "state": state,
        "loss": _finite(result.get("loss")) if state == "done" else None,
        "params": params,
        "booked": epoch(doc.get("book_time")),
        "refreshed": epoch(doc.get("refresh_time")),
        "owner": doc.get("owner"),
        "attempt": int(doc.get("attempt") or 0),
        "requeues": int(doc.get("requeues") or 0),
        "error": error_message(doc) if state == "failed" else None,
    }
    values = metric_values(result) if state == "done" else None
    if values is not None:
        row["metrics"] = values
    return row
