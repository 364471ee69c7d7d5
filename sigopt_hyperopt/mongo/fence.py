"""Fencing: every write a driver makes is conditional on the lease generation it holds.

A lease (see lease.py) says who *should* drive a search; it cannot stop a driver that was paused
(SIGSTOP, a laptop lid, a long GC, a VM migration) and wakes up after another driver took the search
over: such a driver goes on where it stopped, with writes already decided.  So the store itself must
refuse them, in the operation that writes, not in a read before it (the read and the write can be
seconds apart in a paused process).

The store we must be sound on is FerretDB 1.x on SQLite, which applies ``update`` and
``findAndModify`` as a read-modify-write without a transaction: a write "if the generation is still
mine" would not be atomic there.  Only a unique-key insert is atomic everywhere.  So the fence is made
of unique-key inserts:

*Permits.*  Before each write (inserting trials, cancelling queued jobs, allocating trial ids,
reporting one evaluation to SigOpt, creating or deleting a suggestion, updating the experiment,
writing an attachment) the driver of generation ``g`` inserts its next permit, ``_id`` =
``<lease key>/<g>/<n>`` with ``n`` = 1, 2, 3, ... (dense: the driver takes ``n + 1`` only after it
holds ``n``).  The insert either succeeds (the write may go ahead) or meets a document that is not
its own, which can only be a seal: the driver has lost the search.

*Seals.*  A driver that takes a search over (it won the unique claim on generation ``G``, see
lease.py) seals every earlier generation ``g < G``: it reads that generation's permits and inserts a
seal at the next number, ``max(n) + 1`` (``1`` if there is none), retrying higher when a permit of the
old driver got there first.

Why that is sound: the old driver's permits are dense and it only ever asks for the number after its
last one, so once the seal stands at ``m + 1`` every permit it still asks for is ``m + 1`` (the seal:
refused) or was already granted before the seal.  Every insert is atomic, so no interleaving lets both
the seal and a later permit of the old driver in.  A permit granted *before* the seal may still have
its write land after it (the driver stopped between permit and write); so each permit of a write that
changes the search records that write (the trial documents with their ids, the jobs and attempts to
cancel), and the new driver, after sealing and before reading the search, does those writes again
(``roll_forward``): inserts by ``_id`` that skip documents already there, cancellations only of the
recorded attempt of a job still queued.  A late write of the old driver then finds its work done, so
the search the new driver reads is final.

The writes that are not recorded, because they cannot be redone by someone else, keep one window:
a driver stopped exactly between a granted permit and the write that follows it may still make that
one write late (the window is two adjacent statements of the stopped process, however long the pause).
They are: the trial-id counter (a ``findAndModify``, hyperopt's, shared by the database's searches:
a late one wastes ids, and on FerretDB, at the same instant as the new driver's allocation, could lose
one of the two increments); an attachment (the pickled domain, the search record: the same content
as the new driver's in practice); and a call to SigOpt, which is not a store operation.  For SigOpt,
each observation, each suggestion created or deleted has its own permit, so a driver that lost the
search makes no further call but, at most, that one; if the new driver reports the same evaluation,
whichever observation comes second is refused by SigOpt (one observation per suggestion), and the
reporting code, on that refusal, finds the first recorded and does not send it again (see remote.py).

Costs: one insert per permit, and one delete every :data:`PRUNE_EVERY` permits of those whose write
completed (an unfinished one stays for the next driver to finish; doing a completed one again is
harmless); a search keeps a few dozen permits and one seal per earlier driver, read only when a
driver takes the search over.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING, Any, Iterator

import pymongo.errors
from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_NEW

from ..errors import SearchBusyError
from .jobs import CANCELLER, CLAIMS_COLLECTION
from .outages import OUTAGE_TOLERANCE_S, insert_ignoring_duplicates, survives_outages

if TYPE_CHECKING:
    from .jobs import MongoJobs
    from .lease import DriverLease

logger = logging.getLogger(__name__)

FENCE_COLLECTION = "driver_fence"
"""Permits and seals: ``<lease key>/<generation>/<n>``, a handful per search."""

SEAL = "seal"
INSERT = "insert"
CANCEL = "cancel"
ROLLED_FORWARD = (INSERT, CANCEL)
"""Permits whose write the next driver does again (the others write nothing it would read)."""

SEAL_ATTEMPTS = 100

PRUNE_EVERY = 16
"""A driver deletes its completed permits every this many permits (one delete for all)."""


def permit_id(key: str, generation: int, n: int) -> str:
    return f"{key}/{generation}/{n}"


def cancel_queued_jobs(jobs: "MongoJobs", queued: list[tuple[Any, int]]) -> int:
    """Cancel these (job, attempt)s if still queued as that attempt; returns how many were cancelled.

    Each attempt is claimed first, as a worker claims the attempt it runs: an attempt a worker claimed
    is left to it (it runs), and no worker can take one claimed here.  A cancellation that only updated
    the NEW job would, on FerretDB 1.x, race a worker's update of the same job and both could win:
    the job then ran while the driver, reading it as cancelled, deleted its suggestion.
    """
    cancelled = 0
    for job_id, attempt in queued:
        if not jobs.claim(job_id, attempt, CANCELLER):
            continue  # a worker took it
        done = jobs.jobs.update_one({"_id": job_id, "state": JOB_STATE_NEW, "attempt": attempt or {"$in": [0, None]}},
                                    {"$set": {"state": JOB_STATE_CANCEL}, "$inc": {"version": 1}})
        jobs.queue.delete_many({"job": job_id})
        cancelled += done.modified_count
    return cancelled


class SearchFence:
    """The permits of one lease generation (see the module docstring).

    Kept by the trials after ``fmin`` returns: what the driver writes then (the last reports, the
    cancellations of an interrupted search) is fenced by the same generation, until another driver
    takes the search over.
    """

    def __init__(self, jobs: "MongoJobs", lease: "DriverLease") -> None:
        self._jobs = jobs
        self._lease = lease
        self._collection = jobs.db[FENCE_COLLECTION]
        self.key = lease.key
        self.generation = lease.generation
        self.outage_tolerance = getattr(jobs, "outage_tolerance", OUTAGE_TOLERANCE_S)
        self._last = 0
        self._unfinished: set[int] = set()

    @property
    def lost(self) -> str | None:
        """Why this driver lost the search (a seal refused a permit, or the lease was taken), or None."""
        return self._lease.lost

    def check(self) -> None:
        if self.lost:
            raise SearchBusyError(self.lost)

    @contextlib.contextmanager
    def write(self, kind: str, **record: Any) -> Iterator[None]:
        """``with fence.write(kind, ...):`` a permit first, then the write; a write that raised keeps its
        permit, so the next driver finishes it (``record`` says what to do again, see ``roll_forward``)."""
        n = self.permit(kind, **record)
        self._unfinished.add(n)
        yield
        self._unfinished.discard(n)

    def permit(self, kind: str, **record: Any) -> int:
        """Take the next permit; raises :class:`SearchBusyError` once another driver sealed this generation."""
        self.check()
        n = self._last + 1
        self._insert_permit(n, {"kind": kind, **record})
        self._last = n
        if n % PRUNE_EVERY == 0:
            self._prune()
        return n

    def _prune(self) -> None:
        """Delete the permits whose write completed, but the latest: the seal goes after it."""
        done = [permit_id(self.key, self.generation, i) for i in range(max(1, self._last - 2 * PRUNE_EVERY), self._last)
                if i not in self._unfinished]
        try:
            self._collection.delete_many({"_id": {"$in": done}})
        except pymongo.errors.PyMongoError as error:  # a leftover permit is done again, harmlessly
            logger.debug("permits not deleted: %s", type(error).__name__)

    @survives_outages
    def _insert_permit(self, n: int, record: dict) -> None:
        key = permit_id(self.key, self.generation, n)
        try:
            self._collection.insert_one({"_id": key, "key": self.key, "generation": self.generation, "n": n,
                                         "holder": self._lease.holder, **record})
            return
        except pymongo.errors.DuplicateKeyError:
            there = self._collection.find_one({"_id": key}) or {}
        if there.get("holder") == self._lease.holder:
            return  # this very insert, retried after its answer was lost
        self._lease.lost = (
            f"Search {self._lease.exp_key!r} was taken over by another driver (host {there.get('host')}, pid "
            f"{there.get('pid')}, lease generation {there.get('by_generation')}) while this one was stopped or cut "
            f"off and its lease expired; this driver stops and writes nothing more. The other driver runs the "
            f"search, this one's trials included.")
        logger.warning("%s", self._lease.lost)
        raise SearchBusyError(self._lease.lost)


def take_over(jobs: "MongoJobs", lease: "DriverLease") -> SearchFence:
    """Seal every earlier generation of the search, then do again the writes their last permits allowed.

    Called by the driver that holds generation ``lease.generation``, before it reads the search.
    """
    collection = jobs.db[FENCE_COLLECTION]
    permits: list[dict] = []
    for _ in range(SEAL_ATTEMPTS):
        permits = _read_permits(jobs, collection, lease.key)
        sealed = {p["generation"] for p in permits if p.get("kind") == SEAL}
        unsealed = [g for g in range(1, lease.generation) if g not in sealed]
        if not unsealed:
            break
        for generation in unsealed:
            top = max((int(p["n"]) for p in permits if p["generation"] == generation), default=0)
            _insert_seal(jobs, collection, lease, generation, top + 1)
    else:
        raise SearchBusyError(f"Could not seal the earlier drivers of search {lease.exp_key!r} "
                              f"({SEAL_ATTEMPTS} tries); is one of them still running? Stop it and start again.")
    older = [p for p in permits if p["generation"] < lease.generation]
    roll_forward(jobs, [p for p in older if p.get("kind") in ROLLED_FORWARD])
    done = [p["_id"] for p in older if p.get("kind") != SEAL]
    if done:
        _delete_permits(jobs, collection, done)
    return SearchFence(jobs, lease)


@survives_outages
def forget_writes(jobs: "MongoJobs", exp_key: str | None) -> None:
    """Forget what the permits of a search's drivers recorded (its trials were deleted), so no later
    driver writes it again; the permits themselves stay (a seal must still find a driver's latest)."""
    jobs.db[FENCE_COLLECTION].update_many({"key": f"{jobs.jobs.name}/{exp_key}", "kind": {"$in": list(ROLLED_FORWARD)}},
                                          {"$set": {"kind": "forgotten"}, "$unset": {"docs": "", "jobs": ""}})


@survives_outages
def _delete_permits(jobs: "MongoJobs", collection: Any, ids: list[str]) -> None:
    collection.delete_many({"_id": {"$in": ids}})


@survives_outages
def _insert_seal(jobs: "MongoJobs", collection: Any, lease: "DriverLease", generation: int, n: int) -> None:
    try:
        collection.insert_one({"_id": permit_id(lease.key, generation, n), "key": lease.key, "generation": generation,
                               "n": n, "kind": SEAL, "holder": lease.holder, "by_generation": lease.generation,
                               "host": socket.gethostname(), "pid": os.getpid()})
    except pymongo.errors.DuplicateKeyError:
        pass  # a permit of that driver got there first (or this seal, retried): the caller reads again


@survives_outages
def _read_permits(jobs: "MongoJobs", collection: Any, key: str) -> list[dict]:
    return list(collection.find({"key": key}))


@survives_outages
def roll_forward(jobs: "MongoJobs", permits: list[dict]) -> None:
    """Do again what earlier drivers' permits allowed; each write skips what is already done."""
    permits = sorted(permits, key=lambda p: (p["generation"], p["n"]))
    docs = [doc for p in permits if p["kind"] == INSERT for doc in p.get("docs", [])]
    if docs:
        there = {d["_id"]: d for d in jobs.jobs.find({"_id": {"$in": [d["_id"] for d in docs]}})}
        missing = [d for d in docs if d["_id"] not in there]
        insert_ignoring_duplicates(jobs.jobs, missing)
        unqueued = list(missing)
        waiting = [d for d in there.values() if d.get("state") == JOB_STATE_NEW and not d.get("attempt")]
        if waiting:  # written, but maybe not queued: queue those nobody claimed (a queued one is skipped)
            claimed = {c["job"] for c in jobs.db[CLAIMS_COLLECTION].find({"job": {"$in": [d["_id"] for d in waiting]}},
                                                                         projection=["job"])}
            unqueued += [d for d in waiting if d["_id"] not in claimed]
        jobs.enqueue(unqueued)
        if missing:
            logger.warning("inserted %d trial(s) a previous driver of the search was allowed to insert but had not",
                           len(missing))
    for p in permits:
        if p["kind"] == CANCEL:
            cancelled = cancel_queued_jobs(jobs, [(entry["job"], int(entry.get("attempt") or 0))
                                                  for entry in p.get("jobs", [])])
            if cancelled:
                logger.warning("finished the cancellation of %d queued job(s) a previous driver had started", cancelled)
