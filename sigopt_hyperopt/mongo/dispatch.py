"""hyperopt's fmin loop, with a queue sized to the worker pool and a short poll.

``fmin``'s defaults starve a pool of workers: ``max_queue_len=1`` keeps one job queued and the
driver looks at the store once a second (``FMinIter.poll_interval_secs``, which ``fmin`` does not
expose), so eight workers share about one job a second. ``MongoTrials.fmin`` runs the same loop
through :class:`PoolSizedFMinIter`, which keeps about as many jobs queued as there are live workers
(re-counted while the search runs, so workers may come and go) and polls every
``poll_interval`` seconds. An explicit queue length is kept as given.
"""

from __future__ import annotations

import contextlib
import logging
import time
from timeit import default_timer
from typing import Any, Callable, Iterator

from hyperopt.base import (JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING, STATUS_OK,
                           Domain)
from hyperopt.fmin import FMinIter, space_eval

from ..fmin_checks import all_trials_failed
from ..space_summary import store_summary
from .wait_notes import NotedProgress, WaitNotes

logger = logging.getLogger(__name__)

IDLE_NOTE_S = 60.0
"""How often a driver waiting for its last jobs says how many are left and how many workers it sees."""

WORKER_RECOUNT_S = 1.0
"""How often the driver re-counts the live workers."""



SEED_BOUND = 2**31 - 1
"""The bound of the seeds hyperopt's loop draws from ``rstate`` (``rstate.integers(SEED_BOUND)``)."""


def one_seed_per_trial(algo: Callable, rstate: Any) -> Callable:
    """``algo`` asked for one trial at a time, each with its own seed drawn from ``rstate``.

    hyperopt's loop draws one seed per call, and its algorithms draw a batch's trials in a row from
    that seed: the points a seeded search tries depend on how its trials were batched.  A queue that
    follows the pool batches by timing, so two runs with the same ``rstate`` would differ.  Called one
    trial at a time (the loop's seed for the first, the next draws of ``rstate`` for the others), the
    search draws one seed per trial in order whatever the batches, as it does with hyperopt's
    ``max_queue_len=1``.  Algorithms that plan batches together (``sigopt_suggest``, marked
    ``suggests_batches``) are asked for the whole batch.
    """

    def suggest(new_ids: Any, domain: Any, trials: Any, seed: int) -> list:
        docs: list = []
        for i, new_id in enumerate(new_ids):
            docs.extend(algo([new_id], domain, trials, seed if i == 0 else int(rstate.integers(SEED_BOUND))))
        return docs

    return suggest


class PoolSizedFMinIter(FMinIter):
    """``FMinIter`` whose queue length follows the number of live workers when not fixed."""

    def __init__(self, *args: Any, count_workers: Callable[[], int], fixed_queue_len: int | None,
                 poll_interval: float, check_lease: Callable[[], None] = lambda: None, **kwargs: Any) -> None:
        self._count_workers = count_workers
        self._check_lease = check_lease
        self._fixed_queue_len = fixed_queue_len
        self._notes: WaitNotes | None = None
        self._queue_len = fixed_queue_len or 1
        self._recount_at = 0.0
        self._last_read = 0.0
        super().__init__(*args, **kwargs)
        self.poll_interval_secs = poll_interval
        if fixed_queue_len is None and not getattr(getattr(self.algo, "func", self.algo), "suggests_batches", False):
            self.algo = one_seed_per_trial(self.algo, self.rstate)
        self._notes = WaitNotes(self.trials) if hasattr(self.trials, "why_waiting") else None
        self.progress_callback = self._noted(self.progress_callback)

    def _noted(self, progress_callback: Callable) -> Callable:
        """hyperopt's progress context, yielding a :class:`NotedProgress` the wait notes write in."""

        @contextlib.contextmanager
        def noted(initial: int, total: int) -> Iterator[NotedProgress]:
            with progress_callback(initial=initial, total=total) as bar:
                progress = NotedProgress(bar)
                if self._notes is not None:
                    self._notes.attach(progress)
                try:
                    yield progress
                finally:
                    if self._notes is not None:
                        self._notes.attach(None)

        return noted

    def _look(self) -> None:
        if self._notes is not None:
            self._notes.look()

    @property  # type: ignore[override]
    def max_queue_len(self) -> int:
        self._check_lease()  # read at every turn of hyperopt's loop: a driver that lost its search stops
        self._look()
        now = time.monotonic()
        # hyperopt reads this twice in a row (loop test, then how many to enqueue): never change it
        # between the two, or a smaller count would ask for a negative number of trials.
        if self._fixed_queue_len is None and now >= self._recount_at and now - self._last_read > 0.05:
            self._queue_len = max(1, self._count_workers())
            self._recount_at = now + WORKER_RECOUNT_S
        self._last_read = now
        return self._queue_len

    @max_queue_len.setter
    def max_queue_len(self, value: int) -> None:
        """FMinIter's constructor sets it; the fixed value, if any, was already taken."""

    def block_until_done(self) -> None:
        """Wait for the queued and running jobs, but never past ``fmin(timeout=...)``.

        hyperopt's wait ignores the timeout, so a search whose workers are gone (or gave up) hung
        for ever.  When the timeout passes, the jobs still queued are cancelled (a late worker must
        not evaluate what nobody waits for; their suggestions are released on the next run) and the
        running ones are left to finish: their results are kept and reported when the search continues.
        """
        deadline = None if self.timeout is None else self.start_time + self.timeout
        next_note = time.monotonic() + IDLE_NOTE_S
        while (unfinished := self.trials.count_by_state_unsynced([JOB_STATE_NEW, JOB_STATE_RUNNING])) > 0:
            if deadline is not None and default_timer() >= deadline:
                cancelled = self.trials.cancel_queued()
                logger.warning("fmin's timeout passed with %d job(s) unfinished: %d queued one(s) cancelled, the "
                               "running ones are kept and reported when the search continues", unfinished, cancelled)
                break
            self._look()
            if time.monotonic() >= next_note:
                logger.info("waiting for %d job(s) to finish; %d live worker(s)", unfinished, self._count_workers())
                next_note = time.monotonic() + IDLE_NOTE_S
            time.sleep(self.poll_interval_secs)
        self.trials.refresh()


def fmin_on_pool(trials: Any, fn: Callable, space: Any, *, algo: Callable, max_evals: int, rstate: Any,
                 queue_len: int | None, poll_interval: float, count_workers: Callable[[], int],
                 timeout: float | None = None, loss_threshold: float | None = None, verbose: bool = False,
                 pass_expr_memo_ctrl: Any = None, catch_eval_exceptions: bool = False, return_argmin: bool = True,
                 show_progressbar: Any = True, early_stop_fn: Callable | None = None,
                 trials_save_file: str = "", check_lease: Callable[[], None] = lambda: None) -> Any:
    """What ``hyperopt.fmin`` does once it has a trials object, through :class:`PoolSizedFMinIter`."""
    domain = Domain(fn, space, pass_expr_memo_ctrl=pass_expr_memo_ctrl)
    iteration = PoolSizedFMinIter(
        algo, domain, trials, rstate, max_evals=max_evals, timeout=timeout, loss_threshold=loss_threshold,
        verbose=verbose, show_progressbar=show_progressbar, early_stop_fn=early_stop_fn,
        trials_save_file=trials_save_file, count_workers=count_workers, fixed_queue_len=queue_len,
        poll_interval=poll_interval, check_lease=check_lease,
    )
    iteration.catch_eval_exceptions = catch_eval_exceptions
    # FMinIter stored the pickled domain for the workers; viewers get the space (and max_evals) as plain data.
    store_summary(trials.attachments, space, max_evals)
    iteration.exhaust()
    if return_argmin:
        if not any(result.get("status") == STATUS_OK for result in trials.results):
            _no_best_point(trials)
        return trials.argmin
    if len(trials) > 0:
        return space_eval(space, trials.argmin)
    return None


def _no_best_point(trials: Any) -> None:
    """Raise the error of a search that ended with no successful trial: the workers' first failure
    (hyperopt's ``fmin`` itself ends here too, through ``MongoTrials.fmin``), or why nothing finished."""
    if any(doc.get("state") in (JOB_STATE_DONE, JOB_STATE_ERROR) for doc in trials.all_trial_docs()):
        raise all_trials_failed(trials)
    wait = trials.why_waiting() if hasattr(trials, "why_waiting") else None
    raise ValueError("There are no finished trials, so there is no best point to return"
                     + (f": {wait.message}." if wait is not None else "."))
