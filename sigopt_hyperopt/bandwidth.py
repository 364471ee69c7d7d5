"""How many suggestions a remote search may hold open, and waiting when all of them are.

A SigOpt experiment's ``parallel_bandwidth`` bounds its open suggestions.  Unless the user set it,
it follows the pool: the workers the trials can see, else what fmin asks for at once.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from .errors import ConfigurationError, EngineError
from .reporting import TrialsState, fmin_cancelled
from .session import Session

logger = logging.getLogger(__name__)


def default_parallel_bandwidth(trials: Any, requested: int) -> int:
    """The workers the trials can see, else what fmin asks for at once.

    Workers: ``MongoTrials.live_workers()``, or hyperopt's ``SparkTrials.parallelism`` (the Spark tasks
    it runs at once).  fmin asks for one point at a time by default (``max_queue_len=1``), so without
    a worker count a SparkTrials search would hold one open suggestion and evaluate one trial at a time.
    """
    workers = getattr(trials, "live_workers", None)
    if callable(workers):
        try:
            workers = workers()
        except Exception as error:  # noqa: BLE001 - a count for a default must not stop the search
            logger.warning("could not count the live workers (%s); using fmin's queue length", error)
            workers = None
    elif workers is None:
        workers = getattr(trials, "parallelism", None)
    if isinstance(workers, int) and not isinstance(workers, bool) and workers > 0:
        return workers
    return max(1, int(requested))


def follow_the_pool(session: Session, wanted: int) -> None:
    """A bandwidth the user did not set grows with the pool: a driver started before its workers
    would otherwise keep the bandwidth of the one point it first asked for."""
    if wanted <= (session.bandwidth or 0) or (session.bandwidth_refused is not None and wanted >= session.bandwidth_refused):
        return
    try:
        session.engine.update_parallel_bandwidth(wanted)
    except EngineError as error:  # e.g. the plan allows no more; keep what the server has
        session.bandwidth_refused = wanted
        logger.warning("could not raise parallel_bandwidth to %d: %s", wanted, error)


def wait_for_a_free_suggestion(
    session: Session, trials: Any, state: TrialsState, report: Callable[[], TrialsState]
) -> TrialsState:
    """Every allowed suggestion is open: wait for a trial to finish (reporting it frees its suggestion).

    hyperopt's fmin stops the search when the algorithm returns no document, so waiting, not
    returning nothing, is the way to respect the bandwidth.  Trials evaluated in this process cannot
    finish while we wait, so there the wait would never end: a clear error instead.  ``report()``
    reads the trials again and reports what finished.  A cancelled fmin (SparkTrials) ends the wait.
    """
    bandwidth = session.bandwidth
    assert bandwidth is not None
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
    while len(state.held) >= bandwidth and not fmin_cancelled(trials):
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
        state = report()
    return state
