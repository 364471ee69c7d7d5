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
import socket
import time
import urllib.parse
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

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
from .errors import ConfigurationError, EngineError, SearchMismatchError
from .retry import DEFAULT_POLICY, RetryPolicy
from .space import Assignments, TranslatedSpace, translate
from .store import SearchRecord, TrialsLedger

logger = logging.getLogger(__name__)

MISC_KEY = "sigopt"
"""Each trial's ``misc`` carries {"experiment", "suggestion", "assignments"} under this key."""

DEFAULT_NAME = "hyperopt search"

DEFAULT_WAIT_TIMEOUT = 3600.0
"""How long ``sigopt_suggest`` waits for a result when every allowed suggestion is open."""


@dataclass(frozen=True)
class SearchOptions:
    """What ``functools.partial(sigopt_suggest, ...)`` configures."""

    name: str | None = None
    project: str | None = None
    observation_budget: int | None = None
    parallel_bandwidth: int | None = None
    experiment_id: str | None = None
    connection: Any = None
    retry: RetryPolicy = DEFAULT_POLICY
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT


@dataclass
class _Session:
    """What one driver process holds for one trials object; all of it can be rebuilt from the store."""

    domain: Any
    options: SearchOptions
    space: TranslatedSpace
    engine: Engine
    released: set[str] = field(default_factory=set)
    bandwidth_refused: int | None = None
    """A parallel_bandwidth the server refused to raise to; not asked for again by this driver."""

    @property
    def bandwidth(self) -> int | None:
        """The most suggestions this search may hold open at once (None: no limit, the embedded engine)."""
        return getattr(self.engine, "parallel_bandwidth", None)


@dataclass
class _State:
    """The search as the trials show it now, split the way the engine needs it."""

    observations: list[Observation]
    pending: list[Assignments]
    abandoned: list[str]
    held: list[str]
    """Suggestion ids of this experiment held by queued or running trials (open on the server)."""
    owned: set[str]
    """Every suggestion id any trial carries: open ones among them are not orphans."""


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
    retry: RetryPolicy = DEFAULT_POLICY,
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
) -> list[dict]:
    """hyperopt's algorithm protocol: new trial documents for ``new_ids``, suggested by SigOpt.

    ``connection`` chooses the engine: ``None`` (default) uses the hosted or self-hosted API when
    ``SIGOPT_API_TOKEN`` is set and SigOpt's optimizer embedded in this process otherwise;
    ``"embedded"`` or ``"remote"`` force one; a ``sigopt.Connection`` is used as given.

    With a remote experiment, at most ``parallel_bandwidth`` suggestions are open at once (default:
    the number of workers the trials can see, else the number of points fmin asks for, its
    ``max_queue_len``).  Asked for more, it returns fewer documents, or, when none is free, waits up
    to ``wait_timeout`` seconds for a running trial to finish.  ``retry`` bounds the retries of
    failed API calls (see :class:`~sigopt_hyperopt.retry.RetryPolicy`).
    """
    options = SearchOptions(name, project, observation_budget, parallel_bandwidth, experiment_id, connection,
                            retry, wait_timeout)
    session = _session(trials, domain, options, requested=len(new_ids))
    if not new_ids:
        return []
    state = _report(session, trials)
    count = len(new_ids)
    if session.bandwidth is not None and options.parallel_bandwidth is None and options.experiment_id is None:
        _follow_the_pool(session, default_parallel_bandwidth(trials, count))
    if session.bandwidth is not None:
        if len(state.held) >= session.bandwidth:
            state = _wait_for_a_free_suggestion(session, trials, state)
        count = min(count, session.bandwidth - len(state.held))
    suggestions = session.engine.suggest(count, state.pending, seed, owned=state.owned)
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
    ids = [misc["tid"] for misc in miscs]
    return trials.new_trial_docs(ids, [None] * len(ids), [domain.new_result() for _ in ids], miscs)


def report_finished(trials: Any, space: Any, **options: Any) -> None:
    """Report every finished trial not reported yet, without asking for new points.

    ``fmin`` calls the algorithm only when it wants new points, so the trials that finish after its
    last call reach SigOpt when the search is continued.  Call this after ``fmin`` (with the space
    and the options given to ``sigopt_suggest``) to report them now::

        best = fmin(fn, space, algo=partial(sigopt_suggest, **options), trials=trials, max_evals=100)
        report_finished(trials, space, **options)
    """
    from hyperopt.base import Domain

    session = _session(trials, Domain(_never_called, space), SearchOptions(**options), requested=0)
    if hasattr(trials, "refresh"):
        trials.refresh()
    _report(session, trials)


def _never_called(params: Any) -> Any:
    raise RuntimeError("report_finished evaluates nothing")


def _report(session: _Session, trials: Any) -> _State:
    """Read the trials, delete the suggestions of abandoned ones, report the finished ones."""
    state = _classify(all_trial_docs(trials), session)
    stale = [s for s in state.abandoned if s not in session.released]
    if stale:
        session.engine.release(stale)
        session.released.update(stale)
    session.engine.sync(state.observations)
    return state


def _wait_for_a_free_suggestion(session: _Session, trials: Any, state: _State) -> _State:
    """Every allowed suggestion is open: wait for a trial to finish (reporting it frees its suggestion).

    hyperopt's fmin stops the search when the algorithm returns no document, so waiting, not
    returning nothing, is the way to respect the bandwidth.  Trials evaluated in this process cannot
    finish while we wait, so there the wait would never end: a clear error instead.
    """
    bandwidth = session.bandwidth
    if not getattr(trials, "asynchronous", False):
        raise ConfigurationError(
            f"fmin queues more trials than parallel_bandwidth={bandwidth} allows open suggestions, and these "
            "trials are evaluated in this process only after the queue is full, so none can finish while the "
            f"algorithm waits. Pass fmin(max_queue_len={bandwidth}) or less, or raise parallel_bandwidth."
        )
    started = time.monotonic()
    last_note = started
    delay = 0.05
    logger.info("waiting for a result: %d of %d allowed suggestions are open (parallel_bandwidth)",
                len(state.held), bandwidth)
    while len(state.held) >= bandwidth:
        now = time.monotonic()
        if now - started > session.options.wait_timeout:
            raise EngineError(
                f"Waited {now - started:.0f} s for one of {len(state.held)} running trials to finish, with every "
                f"suggestion that parallel_bandwidth={bandwidth} allows open. Are the workers running "
                "(`sigopt-hyperopt worker`)? Start them, raise wait_timeout for long evaluations, or raise "
                "parallel_bandwidth if the SigOpt plan allows more open suggestions."
            )
        if now - last_note > 60:
            logger.info("still waiting for a result (%.0f s): %d trials hold all %d allowed suggestions",
                        now - started, len(state.held), bandwidth)
            last_note = now
        time.sleep(delay)
        delay = min(delay * 2, float(getattr(trials, "poll_interval", 1.0) or 1.0))  # as often as the driver polls
        trials.refresh()
        state = _report(session, trials)
    return state


def _session(trials: Any, domain: Any, options: SearchOptions, *, requested: int) -> _Session:
    session = _sessions.get(trials)
    if session is None or session.domain is not domain or session.options != options:
        space = translate(domain)
        engine = open_engine(space, TrialsLedger(trials), options,
                             default_bandwidth=lambda: default_parallel_bandwidth(trials, requested))
        session = _Session(domain, options, space, engine)
        if engine.kind == "remote":
            # A driver that died may have left suggestions open that no trial received.
            state = _report(session, trials)
            engine.delete_orphans(state.owned)  # type: ignore[attr-defined]
        _sessions[trials] = session
    return session


def _follow_the_pool(session: _Session, wanted: int) -> None:
    """A bandwidth the user did not set grows with the pool: a driver started before its workers
    would otherwise keep the bandwidth of the one point it first asked for."""
    if wanted <= (session.bandwidth or 0) or (session.bandwidth_refused is not None and wanted >= session.bandwidth_refused):
        return
    try:
        session.engine.update_parallel_bandwidth(wanted)  # type: ignore[attr-defined]
    except EngineError as error:  # e.g. the plan allows no more; keep what the server has
        session.bandwidth_refused = wanted
        logger.warning("could not raise parallel_bandwidth to %d: %s", wanted, error)


def default_parallel_bandwidth(trials: Any, requested: int) -> int:
    """The workers the trials can see (``MongoTrials.live_workers()``), else what fmin asks for at once."""
    workers = getattr(trials, "live_workers", None)
    if callable(workers):
        try:
            workers = workers()
        except Exception as error:  # noqa: BLE001 - a count for a default must not stop the search
            logger.warning("could not count the live workers (%s); using fmin's queue length", error)
            workers = None
    if isinstance(workers, int) and workers > 0:
        return workers
    return max(1, int(requested))


def open_engine(
    space: TranslatedSpace,
    ledger: TrialsLedger,
    options: SearchOptions,
    *,
    default_bandwidth: Callable[[], int] = lambda: 1,
) -> Engine:
    """Create or reattach the search's engine, checking the store's record against the space.

    ``default_bandwidth()`` gives ``parallel_bandwidth`` for a remote experiment when neither the
    options nor the experiment set one.
    """
    record = ledger.load()
    fingerprint = space.fingerprint()
    if record is not None and record.space_fingerprint != fingerprint:
        raise SearchMismatchError(
            "These trials were made for a different search space (SigOpt experiment "
            f"{record.experiment_id}). Use a new Trials object (or a new exp_key) for the new space."
        )
    connection = _resolve_connection(options.connection, record, options.retry)
    name = options.name or DEFAULT_NAME
    if connection == "embedded":
        engine: Engine = EmbeddedEngine.for_space(space, name=name, observation_budget=options.observation_budget)
        if record is None or record.engine != "embedded":
            ledger.save(SearchRecord("embedded", engine.experiment_id, fingerprint))
        return engine

    from .experiment_match import check_experiment_matches
    from .remote import RemoteEngine  # the HTTP client is only needed on this path

    api_url = _without_credentials(getattr(getattr(connection.impl, "driver", None), "api_url", None))
    wanted = options.experiment_id or (record.experiment_id if record and record.engine == "remote" else None)
    if options.experiment_id and record and record.engine == "remote" and record.experiment_id != options.experiment_id:
        raise SearchMismatchError(
            f"These trials belong to SigOpt experiment {record.experiment_id}, not {options.experiment_id}."
        )
    if wanted is not None:
        remote, experiment = RemoteEngine.attach(connection, wanted, ledger, policy=options.retry)
        check_experiment_matches(space, experiment)
        bandwidth = options.parallel_bandwidth or remote.parallel_bandwidth or default_bandwidth()
        if bandwidth != remote.parallel_bandwidth:
            remote.update_parallel_bandwidth(bandwidth)
    else:
        remote = RemoteEngine.create(
            space,
            connection,
            ledger,
            name=name,
            project=options.project,
            observation_budget=options.observation_budget,
            parallel_bandwidth=options.parallel_bandwidth or default_bandwidth(),
            policy=options.retry,
        )
    ledger.save(SearchRecord("remote", remote.experiment_id, fingerprint, api_url))
    return remote


def _resolve_connection(connection: Any, record: SearchRecord | None, policy: RetryPolicy) -> Any:
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
        from .connection import open_connection

        return open_connection(token, timeout=policy.request_timeout)
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


def _classify(docs: Sequence[dict], session: _Session) -> _State:
    """Split the trials into finished evaluations, pending points and abandoned suggestions."""
    state = _State(observations=[], pending=[], abandoned=[], held=[], owned=set())
    experiment_id = session.engine.experiment_id
    for doc in docs:
        stored = doc["misc"].get(MISC_KEY) or {}
        ours = stored.get("experiment") == experiment_id
        assignments = stored.get("assignments") if ours else None
        if assignments is None:
            assignments = session.space.to_sigopt(doc["misc"]["vals"])
        suggestion_id = stored.get("suggestion") if ours else None
        job_state = doc["state"]
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
            state.observations.append(_observation(doc, assignments, suggestion_id))
    return state


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
        metadata=evaluation_metadata(doc),
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
    host = str(owner).rsplit(":", 1)[0] if owner else socket.gethostname()
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
