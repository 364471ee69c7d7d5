"""``sigopt_suggest``: SigOpt as a hyperopt search algorithm.

Use it like any hyperopt algorithm::

    from functools import partial
    from hyperopt import fmin, Trials
    from sigopt_hyperopt import sigopt_suggest

    best = fmin(fn, space, algo=sigopt_suggest, max_evals=50, trials=Trials())
    best = fmin(fn, space, algo=partial(sigopt_suggest, name="svm", observation_budget=50), ...)

On every call it reports the trials that finished since the last call (exactly once), asks the
engine for as many points as hyperopt wants, telling it which points are still being evaluated, and
returns ordinary trial documents.  Everything it needs to continue later lives in the trials.
"""

from __future__ import annotations

import logging
import math
import os
import urllib.parse
import weakref
from dataclasses import dataclass, field
from typing import Any, Sequence

from hyperopt.base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
    STATUS_OK,
)

from .embedded import EmbeddedEngine
from .engine import Engine, Observation
from .errors import ConfigurationError, SearchMismatchError
from .space import Assignments, TranslatedSpace, translate
from .store import SearchRecord, TrialsLedger

logger = logging.getLogger(__name__)

MISC_KEY = "sigopt"
"""Each trial's ``misc`` carries {"experiment", "suggestion", "assignments"} under this key."""

DEFAULT_NAME = "hyperopt search"


@dataclass(frozen=True)
class SearchOptions:
    """What ``functools.partial(sigopt_suggest, ...)`` configures."""

    name: str | None = None
    project: str | None = None
    observation_budget: int | None = None
    parallel_bandwidth: int | None = None
    experiment_id: str | None = None
    connection: Any = None


@dataclass
class _Session:
    """What one driver process holds for one trials object; all of it can be rebuilt from the store."""

    domain: Any
    options: SearchOptions
    space: TranslatedSpace
    engine: Engine
    released: set[str] = field(default_factory=set)


# A cache, not state: a session is derived from (trials, domain, options) and rebuilt when missing.
_sessions: "weakref.WeakKeyDictionary[Any, _Session]" = weakref.WeakKeyDictionary()


def sigopt_suggest(
    new_ids: Sequence[int],
    domain: Any,
    trials: Any,
    seed: int,
    *,
    name: str | None = None,
    project: str | None = None,
    observation_budget: int | None = None,
    parallel_bandwidth: int | None = None,
    experiment_id: str | None = None,
    connection: Any = None,
) -> list[dict]:
    """hyperopt's algorithm protocol: new trial documents for ``new_ids``, suggested by SigOpt.

    ``connection`` chooses the engine: ``None`` (default) uses the hosted or self-hosted API when
    ``SIGOPT_API_TOKEN`` is set and SigOpt's optimizer embedded in this process otherwise;
    ``"embedded"`` or ``"remote"`` force one; a ``sigopt.Connection`` is used as given.
    """
    options = SearchOptions(name, project, observation_budget, parallel_bandwidth, experiment_id, connection)
    session = _session(trials, domain, options)
    if not new_ids:
        return []
    observations, pending, abandoned = _classify(all_trial_docs(trials), session)
    stale = [s for s in abandoned if s not in session.released]
    if stale:
        session.engine.release(stale)
        session.released.update(stale)
    session.engine.sync(observations)
    suggestions = session.engine.suggest(len(new_ids), pending, seed)
    miscs = []
    for tid, suggestion in zip(new_ids, suggestions):
        idxs, vals = session.space.to_idxs_vals(suggestion.assignments, tid)
        miscs.append(
            {
                "tid": tid,
                "cmd": domain.cmd,
                "workdir": domain.workdir,
                "idxs": idxs,
                "vals": vals,
                MISC_KEY: {
                    "experiment": session.engine.experiment_id,
                    "suggestion": suggestion.id,
                    "assignments": suggestion.assignments,
                },
            }
        )
    ids = list(new_ids)
    return trials.new_trial_docs(ids, [None] * len(ids), [domain.new_result() for _ in ids], miscs)


def _session(trials: Any, domain: Any, options: SearchOptions) -> _Session:
    session = _sessions.get(trials)
    if session is None or session.domain is not domain or session.options != options:
        space = translate(domain)
        session = _Session(domain, options, space, open_engine(space, TrialsLedger(trials), options))
        _sessions[trials] = session
    return session


def open_engine(space: TranslatedSpace, ledger: TrialsLedger, options: SearchOptions) -> Engine:
    """Create or reattach the search's engine, checking the store's record against the space."""
    record = ledger.load()
    fingerprint = space.fingerprint()
    if record is not None and record.space_fingerprint != fingerprint:
        raise SearchMismatchError(
            "These trials were made for a different search space (SigOpt experiment "
            f"{record.experiment_id}). Use a new Trials object (or a new exp_key) for the new space."
        )
    connection = _resolve_connection(options.connection, record)
    name = options.name or DEFAULT_NAME
    if connection == "embedded":
        engine: Engine = EmbeddedEngine.for_space(space, name=name, observation_budget=options.observation_budget)
        if record is None or record.engine != "embedded":
            ledger.save(SearchRecord("embedded", engine.experiment_id, fingerprint))
        return engine

    from .remote import RemoteEngine  # the HTTP client is only needed on this path

    api_url = _without_credentials(getattr(getattr(connection.impl, "driver", None), "api_url", None))
    wanted = options.experiment_id or (record.experiment_id if record and record.engine == "remote" else None)
    if options.experiment_id and record and record.engine == "remote" and record.experiment_id != options.experiment_id:
        raise SearchMismatchError(
            f"These trials belong to SigOpt experiment {record.experiment_id}, not {options.experiment_id}."
        )
    if wanted is not None:
        engine = RemoteEngine.attach(connection, wanted, ledger)
        _check_experiment_matches(space, engine.fetch_experiment())
    else:
        engine = RemoteEngine.create(
            space,
            connection,
            ledger,
            name=name,
            project=options.project,
            observation_budget=options.observation_budget,
            parallel_bandwidth=options.parallel_bandwidth,
        )
    ledger.save(SearchRecord("remote", engine.experiment_id, fingerprint, api_url))
    return engine


def _resolve_connection(connection: Any, record: SearchRecord | None) -> Any:
    token = os.environ.get("SIGOPT_API_TOKEN")
    if connection is None:
        if token:
            connection = "remote"
        elif record is not None and record.engine == "remote":
            raise ConfigurationError(
                f"These trials belong to SigOpt experiment {record.experiment_id} on a SigOpt server; set "
                "SIGOPT_API_TOKEN (and SIGOPT_API_URL for a self-hosted server) to continue it, or pass "
                "connection='embedded' to continue with the embedded optimizer."
            )
        else:
            return "embedded"
    if connection == "embedded":
        return connection
    if connection == "remote":
        if not token:
            raise ConfigurationError(
                "connection='remote' needs SIGOPT_API_TOKEN (and SIGOPT_API_URL for a self-hosted sigopt-server)."
            )
        import sigopt

        return sigopt.Connection(client_token=token)
    if isinstance(connection, str):
        raise ConfigurationError(f"connection must be None, 'embedded', 'remote' or a sigopt.Connection, not {connection!r}")
    driver = getattr(getattr(connection, "impl", None), "driver", None)
    if driver is None or type(driver).__module__.startswith("sigoptlite"):
        raise ConfigurationError(
            "Pass a sigopt.Connection that talks HTTP. For SigOpt's optimizer in this process use "
            "connection='embedded' (the default without a token): the 'lite' driver serves one point at a time."
        )
    return connection


def _without_credentials(url: str | None) -> str | None:
    """The store keeps the server's address for reference, never a user:password in it."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _check_experiment_matches(space: TranslatedSpace, experiment: Any) -> None:
    """Refuse an experiment whose parameters differ from the space, saying how they differ."""
    theirs = {p.name: p.type for p in (experiment.parameters or [])}
    ours = {p["name"]: p["type"] for p in space.sigopt_parameters}
    if theirs != ours:
        missing = sorted(set(ours) - set(theirs))
        extra = sorted(set(theirs) - set(ours))
        retyped = sorted(n for n in set(ours) & set(theirs) if ours[n] != theirs[n])
        raise SearchMismatchError(
            f"SigOpt experiment {experiment.id} does not match the space: missing {missing}, "
            f"unexpected {extra}, different type {retyped}."
        )


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


def _classify(docs: Sequence[dict], session: _Session) -> tuple[list[Observation], list[Assignments], list[str]]:
    """Split the trials into finished evaluations, pending points and abandoned suggestions."""
    observations: list[Observation] = []
    pending: list[Assignments] = []
    abandoned: list[str] = []
    experiment_id = session.engine.experiment_id
    for doc in docs:
        stored = doc["misc"].get(MISC_KEY) or {}
        ours = stored.get("experiment") == experiment_id
        assignments = stored.get("assignments") if ours else None
        if assignments is None:
            assignments = session.space.to_sigopt(doc["misc"]["vals"])
        suggestion_id = stored.get("suggestion") if ours else None
        state = doc["state"]
        if state in (JOB_STATE_NEW, JOB_STATE_RUNNING):
            pending.append(assignments)
        elif state in (JOB_STATE_DONE, JOB_STATE_ERROR):
            observations.append(_observation(doc, assignments, suggestion_id))
        elif state == JOB_STATE_CANCEL and suggestion_id is not None:
            abandoned.append(suggestion_id)
    return observations, pending, abandoned


def _observation(doc: dict, assignments: Assignments, suggestion_id: str | None) -> Observation:
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
    )


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
