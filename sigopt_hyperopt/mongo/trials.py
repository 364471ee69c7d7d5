"""``MongoTrials`` on pymongo 4, whose driver reads only what may have changed.

hyperopt's ``MongoTrials.refresh`` reads the ids and versions of every trial document on every poll
(ten times a second here) and its state counts are collection scans: the driver's cost per poll grows
with the search, and a 1,500-trial search crawled.  This one keeps a view of the search (Optuna's
``_CachedStorage`` is the model): the search is read once, when the driver starts; after that the
driver learns of changes from the change log (see jobs.py: every job that changes state is logged,
whole), and re-reads its unfinished jobs by ``_id`` only every ``LOOK_ANYWAY_S`` seconds, in case a
worker died between writing a job and logging it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pymongo
from bson import ObjectId
from hyperopt import mongoexp, tpe
from hyperopt.base import JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING, JOB_STATES

from ..errors import SearchInterrupted
from .attachments import DurableAttachments, ReportedMarks
from .fence import CANCEL, INSERT, SearchFence, cancel_queued_jobs, forget_writes, take_over
from .jobs import MongoJobs
from .lease import LEASE_SECONDS, DriverLease
from .stored_form import decode_document
from .trial_ids import allocate_trial_ids
from .outages import OUTAGE_TOLERANCE_S, survives_outages

if TYPE_CHECKING:
    from .waiting import Wait

logger = logging.getLogger(__name__)

UNFINISHED = (JOB_STATE_NEW, JOB_STATE_RUNNING)

RESYNC_AFTER_S = 0.05
"""A count asked for within this long of the last sync is answered from the view as it is."""

LOOK_ANYWAY_S = 5.0
"""Unfinished trials are re-read by ``_id`` this often whatever the change log says (a worker can die
between writing a job and logging the change)."""


@dataclass
class TrialsView:
    """The driver's copy of one search's trial documents, by ``_id`` in insertion order."""

    docs: dict[Any, dict] = field(default_factory=dict)
    unfinished: set[Any] = field(default_factory=set)
    counts: Counter = field(default_factory=Counter)
    next_look: float = 0.0
    synced_at: float = 0.0
    documents_read: int = 0
    """Trial documents fetched from the database since the view was built (tests count them)."""
    layout_changed: bool = True
    """Documents were added, deleted or turned ERROR: hyperopt's lists must be rebuilt."""
    replaced: list[Any] = field(default_factory=list)
    """Documents replaced in place since hyperopt's lists were last updated."""
    appended: list[Any] = field(default_factory=list)
    """Documents added after all others (the driver's own inserts) since the lists were last updated."""

    def put(self, doc: dict) -> None:
        if "state" not in doc:
            return  # not a trial (anyone can write the collection): hyperopt's lists hold none
        doc = decode_document(doc)  # NaN, ±inf and nested arrays as they were written (stored_form.py)
        old = self.docs.get(doc["_id"])
        if old is not None and int(old.get("version", 0)) > int(doc.get("version", 0)):
            return  # an older write logged after a newer one was read
        if old is not None:
            self.counts[old["state"]] -= 1
            if (old["state"] == JOB_STATE_ERROR) != (doc["state"] == JOB_STATE_ERROR):
                self.layout_changed = True
            else:
                self.replaced.append(doc["_id"])
        elif self.docs and doc["_id"] < next(reversed(self.docs)):
            self.layout_changed = True  # not in _id order: hyperopt's lists are rebuilt
        else:
            self.appended.append(doc["_id"])
        self.docs[doc["_id"]] = doc
        self.counts[doc["state"]] += 1
        if doc["state"] in UNFINISHED:
            self.unfinished.add(doc["_id"])
        else:
            self.unfinished.discard(doc["_id"])

    def drop(self, job_id: Any) -> None:
        old = self.docs.pop(job_id, None)
        if old is not None:
            self.counts[old["state"]] -= 1
            self.unfinished.discard(job_id)
            self.layout_changed = True


class MongoTrials(mongoexp.MongoTrials):
    """``MongoTrials("mongo://host:port/db/jobs", exp_key="exp1")`` on pymongo 4.

    ``queue_len``: how many jobs ``fmin`` keeps queued. ``None`` (default) follows the number of
    live workers; ``fmin(max_queue_len=k)`` with k > 1 fixes it to k (hyperopt's default of 1 is
    taken as "not set": pass ``queue_len=1`` to really queue one job). ``poll_interval``: seconds
    between the driver's looks at the store (hyperopt's loop uses 1 s). ``outage_tolerance``: seconds
    to keep retrying an unreachable database before raising :class:`DatabaseError`.
    ``lease_seconds``: a driver holds its search while it runs ``fmin`` (a second driver on the same
    ``exp_key`` is refused); one that died frees it this long after its last renewal.

    Once it ran ``fmin``, everything this object writes (trials, cancellations, trial ids,
    attachments, and through ``fence_writes`` every call to SigOpt) is fenced by the lease generation
    it held (see :mod:`~sigopt_hyperopt.mongo.fence`), also after ``fmin`` returned: when another driver
    took the search over, each write raises :class:`SearchBusyError` instead, and ``lost_search`` says why.
    """

    def __init__(self, arg: Any, exp_key: str | None = None, cmd: Any = None, workdir: str | None = None,
                 refresh: bool = True, *, queue_len: int | None = None, poll_interval: float = 0.1,
                 outage_tolerance: float | None = None, lease_seconds: float = LEASE_SECONDS) -> None:
        handle = arg if isinstance(arg, mongoexp.MongoJobs) else MongoJobs.new_from_connection_str(arg)
        if outage_tolerance is not None:
            handle.outage_tolerance = outage_tolerance
        self.queue_len = queue_len
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self._view: TrialsView | None = None
        self._lease: DriverLease | None = None
        self._fence: SearchFence | None = None
        super().__init__(handle, exp_key=exp_key, cmd=cmd, workdir=workdir, refresh=refresh)

    def view(self, exp_key: str | None = None, cmd: Any = None, workdir: str | None = None,
             refresh: bool = True) -> "MongoTrials":
        return self.__class__(self.handle, exp_key=self._exp_key if exp_key is None else exp_key,
                              cmd=self.cmd if cmd is None else cmd, workdir=self.workdir if workdir is None else workdir,
                              refresh=refresh, queue_len=self.queue_len, poll_interval=self.poll_interval,
                              lease_seconds=self.lease_seconds)

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state["_view"] = state["_lease"] = state["_fence"] = None  # rebuilt from the database where unpickled
        return state

    @property
    def outage_tolerance(self) -> float:
        return getattr(self.handle, "outage_tolerance", OUTAGE_TOLERANCE_S)

    @property
    def documents_read(self) -> int:
        """Trial documents this driver fetched since its view was built (what a refresh costs)."""
        return self._view.documents_read if self._view is not None else 0

    def why_waiting(self) -> "Wait | None":
        """What this search is waiting for, when something can be seen to be wrong (see :mod:`.waiting`)."""
        from .waiting import why_waiting, worker_command  # it reads failures as fmin_checks words them (a cycle)

        address = self.handle.address
        command = (worker_command(address, self._exp_key) if address is not None
                   else "sigopt-hyperopt worker --mongo=HOST:PORT/DB")
        docs = self._refreshed_view().docs.values()
        return why_waiting(docs, self.handle.registry(self._exp_key), self.handle.now(), command)

    def live_workers(self) -> int:
        """Workers that announced themselves recently and take this search's jobs."""
        return self.handle.live_workers(self._exp_key)

    def fmin(self, fn: Callable, space: Any, algo: Callable | None = None, max_evals: int | None = None,
             timeout: float | None = None, loss_threshold: float | None = None, max_queue_len: int = 1,
             rstate: Any = None, verbose: bool = False, pass_expr_memo_ctrl: Any = None,
             catch_eval_exceptions: bool = False, return_argmin: bool = True, show_progressbar: Any = True,
             early_stop_fn: Callable | None = None, trials_save_file: str = "") -> Any:
        """Called by ``hyperopt.fmin``: the same loop, with the queue and poll described above, holding
        the search's lease (see :class:`~sigopt_hyperopt.mongo.lease.DriverLease`) while it runs."""
        from .dispatch import fmin_on_pool

        # hyperopt.fmin fills these before it delegates here; a direct call may not.
        algo = algo or tpe.suggest
        rstate = rstate if rstate is not None else np.random.default_rng()
        max_evals = max_evals if max_evals is not None else sys.maxsize
        queue_len = self.queue_len if self.queue_len is not None else (max_queue_len if max_queue_len != 1 else None)
        with DriverLease(self.handle, self._exp_key, self.lease_seconds) as lease:
            self._fence = take_over(self.handle, lease)
            if lease.generation > 1:
                self._view = None  # read the search as the earlier drivers left it, now that they are sealed
            self._lease = lease
            try:
                return fmin_on_pool(
                    self, fn, space, algo=algo, max_evals=max_evals, rstate=rstate, queue_len=queue_len,
                    poll_interval=self.poll_interval, count_workers=self.live_workers, timeout=timeout,
                    loss_threshold=loss_threshold, verbose=verbose, pass_expr_memo_ctrl=pass_expr_memo_ctrl,
                    catch_eval_exceptions=catch_eval_exceptions, return_argmin=return_argmin,
                    show_progressbar=show_progressbar, early_stop_fn=early_stop_fn,
                    trials_save_file=trials_save_file, check_lease=lease.check,
                )
            except KeyboardInterrupt as interrupt:
                if isinstance(interrupt, SearchInterrupted):
                    raise
                raise SearchInterrupted(self._interrupted_message(max_evals)) from None
            finally:
                self._lease = None
                self._forget_own_changes(lease)

    def _interrupted_message(self, max_evals: int) -> str:
        """What Ctrl-C left behind and how to go on, from the view as it is (no database read)."""
        counts = self._view.counts if self._view is not None else Counter()
        finished = sum(counts[state] for state in JOB_STATES if state not in UNFINISHED)
        target = f" of {max_evals}" if max_evals != sys.maxsize else ""
        where = self.handle.address.redacted if self.handle.address else "the database"
        return (f"search {self._exp_key!r} interrupted with {finished}{target} trial(s) finished, kept in {where}; "
                "jobs already running on workers finish there. To continue, run the same fmin again (same trials "
                "URL, exp_key and max_evals).")

    def _forget_own_changes(self, lease: DriverLease) -> None:
        """The change log's entries for this driver that it will not read: the log is empty while no
        driver holds the search (the next driver reads the whole search when it starts)."""
        try:
            self.handle.forget_changes(self._changes_up_to(lease.generation))
        except Exception as error:  # noqa: BLE001 - tidying up must not hide how fmin ended
            logger.debug("change log of search %r not emptied: %s", self._exp_key, error)

    def _changes_up_to(self, generation: int) -> list[dict]:
        """The change log's entries of this search logged under ``generation`` or earlier: a later
        driver's entries are not this one's to consume."""
        return [e for e in self.handle.read_changes(self._exp_key) if int(e.get("generation") or 0) <= generation]

    # -- fencing -------------------------------------------------------------------------------------

    @property
    def lost_search(self) -> str | None:
        """Why this driver lost its search to another one (then it writes nothing more), or None."""
        return self._fence.lost if self._fence is not None else None

    def fence_writes(self, what: str) -> None:
        """A permit for one write outside this store (a SigOpt call): raises :class:`SearchBusyError`
        once another driver took the search over.  Nothing to check for an object that never drove."""
        if self._fence is not None:
            self._fence.permit(what)

    @property
    def attachments(self) -> DurableAttachments:
        """hyperopt's GridFS attachments, written safely and riding out database outages (and fenced)."""
        mine = weakref.ref(self)  # the attachments outlive no trials object (sessions are cached by it, weakly)

        def before_write(name: str) -> None:
            trials = mine()
            if trials is not None:
                trials.fence_writes(f"attachment {name}")

        return DurableAttachments(self.handle.gfs, self._exp_key, self.outage_tolerance, before_write=before_write)

    def reported_marks(self) -> ReportedMarks:
        """Where :class:`~sigopt_hyperopt.store.TrialsLedger` keeps this store's reported evaluations."""
        return ReportedMarks(self.handle.db, self.outage_tolerance)

    # -- the view ------------------------------------------------------------------------------------

    @survives_outages
    def refresh(self) -> None:
        self._sync()
        self._publish()

    def reload(self) -> None:
        """Read the whole search again (after changing finished trials by hand, e.g. requeueing them)."""
        self._view = None
        self.refresh()

    def _sync(self) -> TrialsView:
        """Bring the view up to date: incrementally for the search's driver (it holds the lease: it
        inserts every job, so nothing appears that it did not write, and it alone consumes the change
        log), else by reading the search again, as hyperopt does (``report_finished``, a look from
        another process)."""
        if self._lease is None:
            self._view = None
        view = self._view
        changes = self._changes_up_to(self._lease.generation) if self._lease is not None else []
        if view is None:
            view = TrialsView()
            query = {"exp_key": self._exp_key} if self._exp_key is not None else {}
            for doc in self.handle.jobs.find(query, sort=[("_id", pymongo.ASCENDING)]):
                view.put(doc)
                view.documents_read += 1
            view.next_look = time.monotonic() + LOOK_ANYWAY_S
            self._view = view
        else:
            for entry in changes:
                if entry["job"] in view.docs:
                    view.put(entry["doc"])
            if time.monotonic() >= view.next_look:
                for job_id in list(view.unfinished):
                    doc = self.handle.jobs.find_one({"_id": job_id})
                    view.documents_read += 1
                    if doc is None:
                        view.drop(job_id)
                    elif doc != view.docs[job_id]:
                        view.put(doc)
                view.next_look = time.monotonic() + LOOK_ANYWAY_S
        self.handle.forget_changes(changes)  # read before the jobs they describe, so none is lost
        view.synced_at = time.monotonic()
        return view

    def _publish(self) -> None:
        """hyperopt's lists (``_trials``, ``_specs``, ``_results``, ``_miscs``: every non-ERROR trial in
        ``_id`` order), rebuilt when documents came or went, else updated in place."""
        view = self._view
        assert view is not None
        if view.layout_changed or not hasattr(self, "_positions"):
            visible = [doc for doc in view.docs.values() if doc["state"] != JOB_STATE_ERROR]
            self._trials = visible
            self._specs = [doc.get("spec") for doc in visible]
            self._results = [doc["result"] for doc in visible]
            self._miscs = [doc["misc"] for doc in visible]
            self._positions = {doc["_id"]: i for i, doc in enumerate(visible)}
        else:
            for job_id in view.replaced:
                i = self._positions.get(job_id)
                if i is not None:
                    doc = view.docs[job_id]
                    self._trials[i], self._specs[i] = doc, doc.get("spec")
                    self._results[i], self._miscs[i] = doc["result"], doc["misc"]
            for job_id in view.appended:
                doc = view.docs[job_id]
                if doc["state"] != JOB_STATE_ERROR and job_id not in self._positions:
                    self._positions[job_id] = len(self._trials)
                    self._trials.append(doc)
                    self._specs.append(doc.get("spec"))
                    self._results.append(doc["result"])
                    self._miscs.append(doc["misc"])
        view.layout_changed = False
        view.replaced.clear()
        view.appended.clear()

    @survives_outages
    def _insert_trial_docs(self, docs: list[dict]) -> list[Any]:
        """One round trip for the whole batch; a retried batch skips the documents already in.

        Fenced: the permit records the documents (with their ``_id``, given here), so a driver that
        takes the search over inserts them itself if this one stopped between permit and insert."""
        if not docs:
            return []
        for doc in docs:
            doc.setdefault("_id", ObjectId())
        with self._fenced(INSERT, docs=docs):
            self.handle.insert_many(docs)
        view = self._sync()
        for doc in docs:
            view.put(doc)
        return [doc["_id"] for doc in docs]

    def count_by_state_unsynced(self, arg: Any) -> int:
        states = [arg] if isinstance(arg, int) else list(arg)
        if not all(state in JOB_STATES for state in states):
            raise ValueError("invalid state", arg)
        view = self._refreshed_view()
        return sum(view.counts[state] for state in states)

    @survives_outages
    def _refreshed_view(self) -> TrialsView:
        """The view, synced unless that was done a moment ago: hyperopt's loop asks for three counts
        right after each refresh, and each sync costs the server a read of the change log (or, for a
        reader that is not the search's driver, a read of the whole search: ``refresh()`` followed by
        ``all_trial_docs()``, as ``report_finished`` and ``sigopt_hyperopt.fmin`` do, reads it once)."""
        view = self._view
        if view is not None and time.monotonic() - view.synced_at < RESYNC_AFTER_S:
            return view
        return self._sync()

    @survives_outages
    def cancel_queued(self) -> int:
        """Cancel this search's jobs that no worker took yet; returns how many."""
        if self._fence is not None:
            self._fence.check()  # before reading: a driver that lost the search owns none of its jobs
        view = self._sync()
        queued = [(i, int(view.docs[i].get("attempt") or 0)) for i in view.unfinished
                  if view.docs[i]["state"] == JOB_STATE_NEW]
        with self._fenced(CANCEL, jobs=[{"job": job, "attempt": attempt} for job, attempt in queued]):
            cancelled = cancel_queued_jobs(self.handle, queued)
        view.next_look = 0.0  # the next refresh reads them back
        return cancelled

    def _fenced(self, kind: str, **record: Any) -> Any:
        return self._fence.write(kind, **record) if self._fence is not None else contextlib.nullcontext()

    @survives_outages
    def new_trial_ids(self, n: int) -> list[int]:
        """Trial ids unique across the database (as hyperopt's), each owned by a unique-key claim (trial_ids.py)."""
        if n <= 0:
            return []
        self.fence_writes("trial ids")
        return allocate_trial_ids(self.handle.db, n)

    def all_trial_docs(self) -> list[dict]:
        """Every trial of this experiment, ERROR ones included (``refresh`` leaves those out)."""
        return list(self._refreshed_view().docs.values())

    def delete_all(self, *args: Any, **kwargs: Any) -> None:
        """Delete the search's trials, and the permits that would have the next driver insert them again."""
        super().delete_all(*args, **kwargs)
        forget_writes(self.handle, self._exp_key)
        self.reload()
