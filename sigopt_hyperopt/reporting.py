"""Reading the trials: which evaluations finished, which points are pending, which suggestions died.

Every call of ``sigopt_suggest`` starts here: the trial documents are split into observations (to
report exactly once), pending points (for the engine to avoid) and abandoned suggestions (to delete
on the server).
"""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass, field
from typing import Any, Sequence

from hyperopt.base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
    STATUS_NEW,
    STATUS_OK,
)

from .engines.base import Observation
from .metrics import Metric, finite_values
from .space import Assignments, TranslatedSpace
from .mongo.worker_id import host_and_pid

MISC_KEY = "sigopt"
"""Each trial's ``misc`` carries {"experiment", "suggestion", "assignments"} under this key."""


@dataclass
class TrialsState:
    """The search as the trials show it now, split the way the engine needs it."""

    observations: list[Observation]
    pending: list[Assignments]
    abandoned: list[str]
    held: list[str]
    """Suggestion ids of this experiment held by queued or running trials (open on the server)."""
    owned: set[str]
    """Every suggestion id any trial carries: open ones among them are not orphans."""
    missing_metrics: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    """(trial id, attempt) of 'ok' trials of a multimetric search failed for missing or non-finite
    declared metrics, with those metrics' names (the session warns once about each)."""


def all_trial_docs(trials: Any) -> list[dict]:
    """Every trial of this search, errors included.

    ``trials.trials`` hides trials in the ERROR state (hyperopt keeps them only in
    ``_dynamic_trials``), but an evaluation that raised must still reach SigOpt as a failure.
    A trials class of this package provides ``all_trial_docs()``; hyperopt's ``Trials`` keeps them in
    ``_dynamic_trials``.
    """
    if hasattr(trials, "all_trial_docs"):
        return trials.all_trial_docs()
    if hasattr(trials, "_dynamic_trials"):
        exp_key = getattr(trials, "_exp_key", None)
        return [doc for doc in trials._dynamic_trials if exp_key is None or doc.get("exp_key") == exp_key]
    return list(trials.trials)


def fence_writes(trials: Any, what: str) -> None:
    """Before a write the trials store does not make itself (a call to SigOpt, the search's record):
    under ``MongoTrials`` a permit of the driver's lease generation, which raises
    :class:`~sigopt_hyperopt.errors.SearchBusyError` once another driver took the search over (see
    :mod:`sigopt_hyperopt.mongo.fence`).  Trials of one process (``Trials``, ``SparkTrials``) have no
    other driver: nothing to check."""
    fence = getattr(trials, "fence_writes", None)
    if callable(fence):
        fence(what)


def fmin_cancelled(trials: Any) -> bool:
    """Whether the fmin running these trials was cancelled (``SparkTrials``: timeout, early stop, Ctrl-C).

    hyperopt's fmin reads the same flag, but only between algorithm calls: a document returned after
    the cancellation is still inserted, and SparkTrials launches it and waits for its evaluation.
    """
    return bool(getattr(trials, "_fmin_cancelled", False))


def classify(docs: Sequence[dict], space: TranslatedSpace, experiment_id: str,
             metrics: Sequence[Metric] = ()) -> TrialsState:
    """Split the trials into finished evaluations, pending points and abandoned suggestions.

    With declared ``metrics`` each observation carries their values (see :func:`observation_of`).
    """
    state = TrialsState(observations=[], pending=[], abandoned=[], held=[], owned=set())
    for doc in docs:
        stored = doc["misc"].get(MISC_KEY) or {}
        ours = stored.get("experiment") == experiment_id
        assignments = stored.get("assignments") if ours else None
        if assignments is None:
            assignments = space.to_sigopt(doc["misc"]["vals"])
        suggestion_id = stored.get("suggestion") if ours else None
        job_state = doc["state"]
        if job_state == JOB_STATE_DONE and _result_not_written_yet(doc):
            job_state = JOB_STATE_RUNNING
        if job_state == JOB_STATE_CANCEL:
            if suggestion_id is not None:
                state.abandoned.append(suggestion_id)
            continue
        if suggestion_id is not None:
            state.owned.add(str(suggestion_id))
        if job_state in (JOB_STATE_NEW, JOB_STATE_RUNNING):
            # A requeued trial (its worker died) is NEW again with the same point, so it keeps its
            # suggestion: the point is still going to be evaluated.
            state.pending.append(assignments)
            if suggestion_id is not None:
                state.held.append(str(suggestion_id))
        elif job_state in (JOB_STATE_DONE, JOB_STATE_ERROR):
            observation = observation_of(doc, assignments, suggestion_id, metrics)
            state.observations.append(observation)
            if metrics and observation.failed and _succeeded(doc):
                state.missing_metrics[(observation.key, observation.attempt)] = (
                    finite_values(metrics, doc.get("result"))[1])
    return state


def _result_not_written_yet(doc: dict) -> bool:
    """A DONE trial that still carries the placeholder result fmin gave it (``{"status": "new"}``).

    hyperopt's ``SparkTrials`` writes a result from its own thread, the state first and the result
    after it, so this thread can see a finished state before its result.  Read now, the evaluation
    would be reported as failed, and a remote experiment keeps what it is told; the next read has the
    result.
    """
    result = doc.get("result")
    return isinstance(result, dict) and result.get("status") == STATUS_NEW


def observation_of(doc: dict, assignments: Assignments, suggestion_id: str | None,
                   metrics: Sequence[Metric] = ()) -> Observation:
    """A finished trial document as an :class:`Observation` (its identity: trial id and attempt).

    With declared ``metrics`` (a multimetric search) the values come from ``result["metrics"]`` and
    the loss is not SigOpt's business; a successful trial missing a declared metric, or giving a
    non-finite one, is a failed observation.
    """
    if metrics:
        return _multimetric_observation(doc, assignments, suggestion_id, metrics)
    result = doc.get("result") or {}
    loss = result.get("loss")
    ok = doc["state"] == JOB_STATE_DONE and result.get("status") == STATUS_OK and _finite(loss)
    stddev = None
    if ok and _finite(result.get("loss_variance")) and result["loss_variance"] > 0:
        stddev = math.sqrt(float(result["loss_variance"]))
    return Observation(
        key=int(doc["tid"]),
        assignments=assignments,
        value=float(loss) if ok else None,
        value_stddev=stddev,
        failed=not ok,
        suggestion_id=suggestion_id,
        metadata=evaluation_metadata(doc),
        attempt=int(doc.get("attempt") or 0),
    )


def _succeeded(doc: dict) -> bool:
    result = doc.get("result") or {}
    return doc["state"] == JOB_STATE_DONE and result.get("status") == STATUS_OK


def _multimetric_observation(doc: dict, assignments: Assignments, suggestion_id: str | None,
                             metrics: Sequence[Metric]) -> Observation:
    values = finite_values(metrics, doc.get("result"))[0] if _succeeded(doc) else None
    return Observation(
        key=int(doc["tid"]),
        assignments=assignments,
        value=None,
        failed=values is None,
        suggestion_id=suggestion_id,
        metadata=evaluation_metadata(doc),
        attempt=int(doc.get("attempt") or 0),
        metric_values=values,
    )


def evaluation_metadata(doc: dict) -> dict[str, Any]:
    """What the SigOpt dashboard shows about where and how long a trial ran.

    ``worker_host``: the host of the job's owner (``host:pid`` under MongoTrials), or this machine
    for trials evaluated in the driver; ``evaluation_seconds``: from the job's ``book_time`` (taken)
    to ``refresh_time`` (last written, i.e. finished).
    """
    owner = doc.get("owner")
    if isinstance(owner, (list, tuple)):
        owner = owner[0] if owner else None
    host = host_and_pid(owner)[0] if owner else socket.gethostname()
    metadata: dict[str, Any] = {"worker_host": host}
    if owner:
        metadata["worker"] = str(owner)
    book, refresh = doc.get("book_time"), doc.get("refresh_time")
    if book is not None and refresh is not None:
        try:
            metadata["evaluation_seconds"] = round(max(0.0, (refresh - book).total_seconds()), 3)
        except (TypeError, AttributeError):
            pass
    return metadata


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
