"""A Mongo driver's words while it waits: the reason beside the progress bar, and now and then a WARNING.

:mod:`.waiting` decides *what* the search waits for (a pure function of the store); this module decides
*when* to ask and how to show it without garbling hyperopt's progress bar.  :mod:`.dispatch`'s fmin loop
calls :meth:`WaitNotes.look` on each poll.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Iterator

from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_DONE, JOB_STATE_ERROR

from .waiting import failing_from_the_start

logger = logging.getLogger(__name__)

FIRST_NOTE_S = 5.0
"""How long a search may make no progress before the driver says why it waits (if it can see why)."""

LOOK_S = 2.0
"""How often a driver without progress looks again (the worker registry: one small read)."""

FAILING_AFTER = 3
"""After this many finished trials, all of them failed, the driver warns once (the first failure, its worker)."""

WARN_AGAIN_S = 60.0
"""How often the same reason is logged again as a WARNING while it holds (the progress bar shows it all along)."""


class NotedProgress:
    """hyperopt's progress bar (or its no-bar stand-in), with a note beside the best loss hyperopt sets."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._best: str | None = None
        self._note: str | None = None

    def update(self, n: int) -> None:
        self._bar.update(n)

    @property
    def postfix(self) -> str | None:
        return self._best

    @postfix.setter
    def postfix(self, text: str) -> None:
        self._best = text
        self._show(refresh=False)

    def note(self, text: str | None) -> None:
        if text != self._note:
            self._note = text
            self._show(refresh=True)

    @contextlib.contextmanager
    def lifted(self) -> Iterator[None]:
        """The bar cleared while a line is written to the terminal, then drawn again below it.

        hyperopt sends stderr to tqdm.write, which clears only bars on the same stream, and its bar is
        on stdout: a warning logged while the bar shows would be glued to the end of the bar's line.
        """
        clear = getattr(self._bar, "clear", None)
        if clear is not None:
            clear()
        try:
            yield
        finally:
            if clear is not None:
                self._bar.refresh()

    def _show(self, refresh: bool) -> None:
        text = "; ".join(part for part in (self._best, self._note) if part)
        if hasattr(self._bar, "set_postfix_str"):  # tqdm
            self._bar.set_postfix_str(text, refresh=refresh)
        else:
            self._bar.postfix = text


class WaitNotes:
    """Says why a search makes no progress: in the progress bar, and as a WARNING now and then.

    Silent while trials finish; after ``FIRST_NOTE_S`` without one, asks the trials what they wait for
    (:meth:`MongoTrials.why_waiting`) every ``LOOK_S``; a reason is logged when it first appears or
    changes, and again every ``WARN_AGAIN_S`` while it holds.  A long objective on live workers has no
    reason: nothing is said.
    """

    def __init__(self, trials: Any) -> None:
        self._trials = trials
        self._progress: NotedProgress | None = None
        self._finished = -1
        self._progress_at = time.monotonic()
        self._next_look = 0.0
        self._warned: tuple[str, float] | None = None
        self._failures_checked = False

    def attach(self, progress: NotedProgress | None) -> None:
        self._progress = progress

    def look(self) -> None:
        now = time.monotonic()
        finished = self._trials.count_by_state_unsynced([JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_CANCEL])
        if finished != self._finished:
            self._finished, self._progress_at, self._warned = finished, now, None
            self._show(None)
            self._check_failures()
            return
        if now - self._progress_at < FIRST_NOTE_S or now < self._next_look:
            return
        self._next_look = now + LOOK_S
        wait = self._trials.why_waiting()
        self._show(wait.note if wait is not None else None)
        if wait is None:
            self._warned = None
        elif self._warned is None or self._warned[0] != wait.kind or now - self._warned[1] >= WARN_AGAIN_S:
            self._warn(f"the search has made no progress for {now - self._progress_at:.0f} s: {wait.message}")
            self._warned = (wait.kind, now)

    def _check_failures(self) -> None:
        """Once ``FAILING_AFTER`` trials finished, warn (once) if every one failed; no more looks after."""
        if self._failures_checked or self._finished < FAILING_AFTER:
            return
        self._failures_checked = True
        wait = failing_from_the_start(self._trials.all_trial_docs(), FAILING_AFTER)
        if wait is not None:
            self._warn(wait.message)

    def _warn(self, message: str) -> None:
        with self._progress.lifted() if self._progress is not None else contextlib.nullcontext():
            logger.warning("%s", message)

    def _show(self, note: str | None) -> None:
        if self._progress is not None:
            self._progress.note(note)
