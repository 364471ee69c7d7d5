"""What one driver process holds for one trials object: the translated space and the open engine.

A cache, not state: a session is derived from (trials, domain, options) and everything in it can be
rebuilt from the trials store, which is what a restarted driver does.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from .engines.base import Engine
from .opening import open_engine, space_for_store
from .metrics import check_linear_constraints, declaration
from .options import SearchOptions
from .reporting import TrialsState, all_trial_docs, classify, fence_writes
from .space import TranslatedSpace
from .space_summary import store_metrics
from .store import TrialsLedger

logger = logging.getLogger(__name__)


@dataclass
class Session:
    """One search as this driver sees it."""

    domain: Any
    options: SearchOptions
    space: TranslatedSpace
    engine: Engine
    released: set[str] = field(default_factory=set)
    bandwidth_refused: int | None = None
    """A parallel_bandwidth the server refused to raise to; not asked for again by this driver."""
    warned: set[tuple[int, int]] = field(default_factory=set)
    """Evaluations whose missing metrics this driver already warned about (each is said once)."""

    @property
    def bandwidth(self) -> int | None:
        """The most suggestions this search may hold open at once (None: no limit, the embedded engine)."""
        return self.engine.parallel_bandwidth

    def report(self, trials: Any) -> TrialsState:
        """Read the trials, delete the suggestions of abandoned ones, report the finished ones."""
        state = classify(all_trial_docs(trials), self.space, self.engine.experiment_id, self.options.metrics)
        for (tid, attempt), names in sorted(state.missing_metrics.items()):
            if (tid, attempt) not in self.warned:
                self.warned.add((tid, attempt))
                logger.warning("trial %d returned no finite value for declared metric(s) %s under result['metrics']; "
                               "it is reported to SigOpt as a failed evaluation", tid, ", ".join(map(repr, names)))
        stale = [s for s in state.abandoned if s not in self.released]
        if stale:
            self.engine.release(stale)
            self.released.update(stale)
        self.engine.sync(state.observations)
        return state


_sessions: "weakref.WeakKeyDictionary[Any, Session]" = weakref.WeakKeyDictionary()


def session_for(trials: Any, domain: Any, options: SearchOptions, *, default_bandwidth: Any) -> Session:
    """The cached session for these trials, or a new one (opening the engine) when anything changed."""
    session = _sessions.get(trials)
    if session is None or session.domain is not domain or session.options != options:
        space = space_for_store(domain, TrialsLedger(trials))
        check_linear_constraints(options.linear_constraints, space)  # before anything is written
        fence_writes(trials, "open the search")  # creating or attaching an experiment writes to it
        engine = open_engine(space, TrialsLedger(trials), options, default_bandwidth=default_bandwidth)
        if options.metrics:  # viewers (dashboard, report, pareto_front) read the declaration as plain data
            store_metrics(trials.attachments, domain.expr, declaration(options.metrics))
        engine.fence = _fence_of(trials)  # type: ignore[method-assign]
        session = Session(domain, options, space, engine)
        if engine.kind == "remote":
            # A driver that died may have left suggestions open that no trial received.
            state = session.report(trials)
            engine.delete_orphans(state.owned)
        _sessions[trials] = session
    return session


def _fence_of(trials: Any) -> Callable[[str], None]:
    """The trials' fence for the engine's writes, without keeping the trials alive (sessions are
    cached by trials, weakly)."""
    ref = weakref.ref(trials)

    def fence(what: str) -> None:
        held = ref()
        if held is not None:
            fence_writes(held, what)

    return fence


def current_session(trials: Any) -> Session | None:
    """The session the algorithm last used for these trials in this process, if any."""
    return _sessions.get(trials)


def forget_sessions() -> None:
    """Drop every cached session (what a restarted driver starts with); for tests and benchmarks."""
    _sessions.clear()
