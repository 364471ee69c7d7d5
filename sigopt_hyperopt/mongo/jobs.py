"""hyperopt's MongoDB job queue on pymongo 4, at a cost per job that does not grow with the store.

hyperopt 0.3.0's ``mongoexp`` calls ``Collection.find_and_modify``, ``Collection.update``,
``Collection.insert``, ``Collection.remove``, ``Cursor.count`` and ``Database.authenticate``, all
removed in pymongo 4, so a worker cannot reserve a single job.  :class:`MongoJobs` keeps hyperopt's
class, document layout and URL form and replaces what pymongo 4 no longer has.

Two rules shape it.

*Ownership by unique-key claims.*  Every write that decides who owns a job is an insert with a unique
``_id`` (a claim), never a read-modify-write: MongoDB makes both atomic, but MongoDB-compatible
servers need not (FerretDB 1.x on SQLite applies ``findAndModify`` and ``update`` without a
transaction; six workers reserving 300 jobs with ``findAndModify`` there took 291 of them twice).

*No steady-state query scans the job collection.*  FerretDB 1.x serves only ``_id`` equality from an
index and scans the whole collection for any other filter (2 s for 10,000 jobs on this machine under
load), so a cost per job that grew with the number of jobs made big searches crawl.  Everything a
worker or the driver does per job is a lookup by ``_id`` or a read of a collection that stays small:
the queue (:data:`QUEUE_COLLECTION`, one entry per queued job), the claimed attempts not yet over
(:data:`RUNNING_COLLECTION`: every RUNNING job is found there, so stale jobs are), the worker registry
(one entry per worker, naming the job it runs), and a change log (every job that changes state is
written there too, whole, so the driver learns of it without reading the jobs).

FerretDB 1.24 does not serve even ``_id`` equality from an index (its query plan is a sequential
scan on both of its backends; see docs/distributed.md), so the few per-job reads and writes of the
job collection left (take a job, write its result) still grow with it there, at a small cost per
document; on MongoDB they are index lookups.
"""

from __future__ import annotations

import copy
import datetime
import logging
import random
import time
from typing import Any

import gridfs
import gridfs.errors
import pymongo
import pymongo.errors
import pymongo.results
from bson import ObjectId
from hyperopt import mongoexp
from hyperopt.base import JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING

from .address import MongoAddress, connect, parse_mongo_url
from .clock import ServerClock
from .outages import OUTAGE_TOLERANCE_S, insert_ignoring_duplicates, survives_outages
from .stored_form import attachment_entries, decode_document, encode_document, stored_attachments

logger = logging.getLogger(__name__)

CLAIMS_COLLECTION = "job_claims"
"""One document per (job, attempt): whoever inserted it owns that attempt of the job."""

RECOVERIES_COLLECTION = "job_recoveries"
"""One document per lost (job, attempt) (``_id`` = ``<job id>/<attempt>``): whoever inserted it
requeues that attempt.  Workers that notice a dead worker's job at the same moment would otherwise
all requeue it: on FerretDB 1.x an ``update_one`` is not atomic, so each of them saw its write win."""

CANCELLER = "<cancelled by the driver>"
"""The owner of the claims a driver inserts to cancel queued attempts (no worker id looks like it)."""

QUEUE_COLLECTION = "job_queue"
"""One entry per queued job (``_id`` = ``<job id>/<attempt>``, the id of the claim that takes it),
written with the job and removed when a worker takes it: workers find work here, not in the jobs."""

RUNNING_COLLECTION = "job_running"
"""One entry per claimed attempt that is not over (``_id`` = the claim's), written before the job is
marked RUNNING and removed when the attempt ends (finished, handed back, requeued): every RUNNING job
has one, so the stale-job scan sees every running job, whatever its worker's registry entry says."""

QUEUE_SIGNAL_COLLECTION = "queue_signal"
"""One counter per job collection, bumped whenever a job becomes NEW: an idle worker reads it (by
``_id``) and looks at the queue only when it moved."""

CHANGES_COLLECTION = "job_changes"
"""One entry per change of a job's state (taken, finished, requeued, handed back, cancelled) with the
job document as written; the search's driver reads and deletes them, so the log stays small."""

WORKERS_COLLECTION = "workers"
"""One document per worker process: its search, when its entry expires, the job it runs and when
it last announced itself (``beat``, the server's clock; while busy, also its job's last beat).  The
driver counts the live ones; workers find stale jobs here; the dashboard shows them."""

RESERVE_CANDIDATES = 32
"""How many of the oldest queued jobs a worker considers: the oldest first, then the others in a
random order, so a pool of idle workers does not queue up behind one claim after another (a single
worker still takes jobs strictly oldest first)."""

LEGACY_LOOK_S = 30.0
"""How often a worker with an empty queue also searches the job collection itself (a scan), for jobs
queued by a driver that does not write queue entries (stock hyperopt's ``MongoTrials``)."""

DRIVER_CHECK_S = 10.0
"""How long a worker trusts its knowledge of whether a search has a driver that reads the change log."""

FORGET_WORKERS_AFTER = datetime.timedelta(days=1)
"""Registry entries of workers gone this long are deleted by the next stale-job scan."""


def queue_key(job_id: Any, attempt: int) -> str:
    return f"{job_id}/{attempt}"


def _back_to_new(job: dict) -> dict[str, Any]:
    """The fields that put a RUNNING job back in the queue, as its next attempt."""
    return {"state": JOB_STATE_NEW, "owner": None, "book_time": None, "refresh_time": None,
            "attempt": int(job.get("attempt", 0)) + 1}


def _attempt_of(key: str) -> int:
    """The attempt number in a claim's (queue entry's, running entry's) ``_id``."""
    return int(str(key).rsplit("/", 1)[1])


def _attempt_is(attempt: int) -> Any:
    """A filter on a job's attempt number; jobs written by the driver have none yet (attempt 0)."""
    return attempt if attempt else {"$in": [0, None]}


class MongoJobs(mongoexp.MongoJobs):
    """hyperopt's job collection on pymongo 4."""

    outage_tolerance: float = OUTAGE_TOLERANCE_S
    """Seconds a store operation keeps retrying an unreachable database before giving up."""

    address: MongoAddress | None = None
    """The URL this handle was opened with (None when built from a database object)."""

    @classmethod
    def new_from_connection_str(cls, conn_str: str, gfs_coll: str = "fs", config_name: str = "spec") -> "MongoJobs":
        address = parse_mongo_url(conn_str)
        client = connect(address)
        db = client[address.database]
        jobs = cls(db, db[address.collection], gridfs.GridFS(db, collection=gfs_coll), client, None, config_name)
        jobs.address = address  # for messages that name the database (never its password: see address.py)
        return jobs

    def now(self) -> datetime.datetime:
        """The database server's time: every liveness timestamp and cutoff uses it (see clock.py)."""
        clock = getattr(self, "_clock", None)
        if clock is None:
            clock = self._clock = ServerClock(self.db)
        return clock.now()

    @property
    def queue(self) -> Any:
        return self.db[QUEUE_COLLECTION]

    @property
    def running(self) -> Any:
        return self.db[RUNNING_COLLECTION]

    @survives_outages
    def __len__(self) -> int:
        return self.jobs.count_documents({})

    # -- writing jobs ----------------------------------------------------------------------------

    @survives_outages
    def insert(self, job: dict) -> dict:
        job = copy.deepcopy(job)
        job.setdefault("_id", ObjectId())
        self.jobs.insert_one(encode_document(job))
        self.enqueue([job])
        return job

    @survives_outages
    def insert_many(self, docs: list[dict]) -> None:
        """Insert jobs and their queue entries; a retried batch skips what the first try wrote."""
        for doc in docs:
            doc.setdefault("_id", ObjectId())
        insert_ignoring_duplicates(self.jobs, [encode_document(doc) for doc in docs])
        self.enqueue(docs)

    def enqueue(self, jobs: list[dict]) -> None:
        """Queue entries for NEW jobs (after, never before, the jobs are written), then ring."""
        entries = [{"_id": queue_key(job["_id"], int(job.get("attempt") or 0)), "job": job["_id"],
                    "exp_key": job.get("exp_key"), "tid": job.get("tid")}
                   for job in jobs if job.get("state", JOB_STATE_NEW) == JOB_STATE_NEW]
        insert_ignoring_duplicates(self.queue, entries)
        self.ring()

    def ring(self) -> None:
        """Tell idle workers that jobs may be waiting.

        Best effort: a missed ring costs idle workers at most one full look (2 s), so a failure here
        must not fail the write that came before it.
        """
        self._bump(self.jobs.name)

    def record_change(self, job: dict) -> None:
        """Log a job as just written, for its search's driver (after, never before, the write).

        Only while a driver of this package holds the search (a lease with a holder that has not
        expired, see lease.py; checked at most every ``DRIVER_CHECK_S``): nobody else reads the log,
        which must not grow without one (a lease document outlives its driver).  The entry carries
        the lease generation: a driver consumes only its own and earlier generations' entries.
        Best effort: a lost entry delays the driver by at most ``LOOK_ANYWAY_S`` (it re-reads its
        unfinished jobs that often), so a failure here must not fail the write that came before.
        """
        try:
            generation = self._search_driver(job.get("exp_key"))
            if generation is not None:
                self.db[CHANGES_COLLECTION].insert_one({"job": job["_id"], "exp_key": job.get("exp_key"), "doc": job,
                                                        "generation": generation})
        except pymongo.errors.PyMongoError as error:
            logger.debug("change of job %s not logged: %s", job.get("_id"), error)

    def _search_driver(self, exp_key: str | None) -> int | None:
        """The lease generation of the driver holding this search now, or None when none does."""
        from .lease import DRIVERS_COLLECTION

        checked = getattr(self, "_drivers_checked", None)
        if checked is None:
            checked = self._drivers_checked = {}
        known = checked.get(exp_key)
        if known is None or time.monotonic() > known[1]:
            lease = self.db[DRIVERS_COLLECTION].find_one({"_id": f"{self.jobs.name}/{exp_key}"},
                                                         projection=["holder", "expires", "generation"]) or {}
            expires = lease.get("expires")
            held = lease.get("holder") is not None and expires is not None and expires > self.now()
            known = checked[exp_key] = (int(lease.get("generation") or 1) if held else None,
                                        time.monotonic() + DRIVER_CHECK_S)
        return known[0]

    @survives_outages
    def read_changes(self, exp_key: str | None) -> list[dict]:
        """The logged changes of a search's jobs, oldest first."""
        return sorted(self.db[CHANGES_COLLECTION].find({"exp_key": exp_key}), key=lambda entry: entry["_id"])

    @survives_outages
    def forget_changes(self, entries: list[dict]) -> None:
        if entries:
            self.db[CHANGES_COLLECTION].delete_many({"_id": {"$in": [entry["_id"] for entry in entries]}})

    def _bump(self, signal_id: str) -> None:
        try:
            self.db[QUEUE_SIGNAL_COLLECTION].update_one({"_id": signal_id}, {"$inc": {"rings": 1}}, upsert=True)
        except pymongo.errors.PyMongoError as error:
            logger.debug("signal %s not bumped: %s", signal_id, error)

    @survives_outages
    def queue_signal(self) -> int:
        """The counter :meth:`ring` bumps; read it *before* searching the queue."""
        return self._signal(self.jobs.name)

    def _signal(self, signal_id: str) -> int:
        doc = self.db[QUEUE_SIGNAL_COLLECTION].find_one({"_id": signal_id}) or {}
        return int(doc.get("rings", 0))

    @survives_outages
    def delete(self, job: dict) -> None:
        self.jobs.delete_one({"_id": job["_id"]})

    @survives_outages
    def delete_all(self, cond: dict | None = None) -> None:
        for document in self.jobs.find(filter=cond or {}, projection=["_id", "_attachments"]):
            for _name, file_id in attachment_entries(document):
                try:
                    self.gfs.delete(file_id)
                except gridfs.errors.NoFile:
                    logger.warning("attachment %s of job %s was already gone", file_id, document["_id"])
            self.jobs.delete_one({"_id": document["_id"]})
            self.queue.delete_many({"job": document["_id"]})
            self.running.delete_many({"job": document["_id"]})

    def create_indexes(self) -> None:
        """Once per handle: every ``MongoTrials`` a worker builds per job would otherwise repeat it."""
        if not getattr(self, "_indexes_created", False):
            super().create_indexes()
            self.queue.create_index([("exp_key", pymongo.ASCENDING)])
            self.running.create_index([("exp_key", pymongo.ASCENDING)])
            self._indexes_created = True

    @survives_outages
    def find_by_id(self, job_id: Any) -> dict | None:
        return self.jobs.find_one({"_id": job_id})

    # -- reserving ---------------------------------------------------------------------------------

    @survives_outages
    def reserve(self, host_id: Any, cond: dict | None = None, exp_key: str | None = None) -> dict | None:
        """Take the oldest queued job (lowest tid) for this owner, or None when nothing is queued.

        Ownership is a claim on (job, attempt); the job document is only marked RUNNING by the
        claim's winner, after its running entry is written and the worker's registry entry names
        the job (so a worker that dies from here on leaves its job where the stale-job scan finds it).

        A call retried after a lost connection first looks for a job this owner already took: the
        server may have marked it RUNNING and the reply never arrived (the queue entry may be gone
        too), and a retry that only looked for NEW jobs would leave it RUNNING with nobody running it.
        """
        if cond and cond.get("owner") is not None:
            raise ValueError("refusing to reserve an owned job")
        if getattr(self, "_reserve_interrupted", False):
            job = self._resume_own_claim(host_id)
            if job is not None:
                self._reserve_interrupted = False
                return job
        self._reserve_interrupted = True  # until this call returns
        job = self._take_queued(host_id, cond, exp_key)
        self._reserve_interrupted = False
        return job

    def _take_queued(self, host_id: Any, cond: dict | None, exp_key: str | None) -> dict | None:
        scope = {"exp_key": exp_key} if exp_key is not None else {}
        entries = sorted(self.queue.find(scope), key=lambda e: (e.get("tid") is None, e.get("tid"), e["_id"]))
        candidates = entries[:RESERVE_CANDIDATES]
        if not candidates and self._legacy_look_due():
            candidates = [{"_id": queue_key(job["_id"], int(job.get("attempt") or 0)), "job": job["_id"],
                           "exp_key": job.get("exp_key")}
                          for job in self.jobs.find({**scope, **(cond or {}), "owner": None, "state": JOB_STATE_NEW},
                                                    projection=["_id", "attempt", "exp_key"],
                                                    sort=[("tid", pymongo.ASCENDING)], limit=RESERVE_CANDIDATES)]
        rest = candidates[1:]
        random.shuffle(rest)  # the oldest first; if taken, not everyone's second choice too
        for entry in candidates[:1] + rest:
            job_id, attempt = entry["job"], _attempt_of(entry["_id"])
            if not self.claim(job_id, attempt, host_id):
                continue
            insert_ignoring_duplicates(self.running, [{"_id": entry["_id"], "job": job_id, "owner": host_id,
                                                       "exp_key": entry.get("exp_key"), "at": self.now()}])
            self.set_current_job(host_id, job_id)
            now = self.now()
            job = self.jobs.find_one_and_update(
                {"_id": job_id, "state": JOB_STATE_NEW, "attempt": _attempt_is(attempt)},
                {"$set": {"owner": host_id, "book_time": now, "refresh_time": now, "state": JOB_STATE_RUNNING},
                 "$inc": {"version": 1}},
                return_document=pymongo.ReturnDocument.AFTER,
            )
            self.queue.delete_one({"_id": entry["_id"]})  # taken, or stale (cancelled, or a later attempt queued)
            if job is not None and job["owner"] == host_id:
                self.record_change(job)
                return decode_document(job)
            self.running.delete_one({"_id": entry["_id"], "owner": host_id})  # nothing to run
        return None

    def _resume_own_claim(self, host_id: Any) -> dict | None:
        """A job this owner's running entry names and the server marked RUNNING for it, if any."""
        for entry in list(self.running.find({"owner": host_id})):
            job = self.jobs.find_one({"_id": entry["job"], "owner": host_id, "state": JOB_STATE_RUNNING,
                                      "attempt": _attempt_is(_attempt_of(entry["_id"]))})
            if job is not None:
                logger.warning("job tid=%s was taken by this worker but the answer was lost; running it", job.get("tid"))
                self.set_current_job(host_id, job["_id"])
                self.queue.delete_one({"_id": entry["_id"]})
                self.record_change(job)
                return decode_document(job)
        return None

    def _legacy_look_due(self) -> bool:
        now = datetime.datetime.now().timestamp()
        if now < getattr(self, "_next_legacy_look", 0.0):
            return False
        self._next_legacy_look = now + LEGACY_LOOK_S
        return True

    def claim(self, job_id: Any, attempt: int, host_id: Any) -> bool:
        """True if this owner holds (job, attempt): it inserted the claim now, or in a retried call.

        The one way to own an attempt, for a worker that runs it and for a driver that cancels it
        (:data:`CANCELLER`): the unique insert is atomic where an update conditioned on the job's state
        is not (FerretDB 1.x), so a job is never both cancelled and run.
        """
        key = queue_key(job_id, attempt)
        try:
            self.db[CLAIMS_COLLECTION].insert_one({"_id": key, "job": job_id, "owner": host_id, "at": self.now()})
            return True
        except pymongo.errors.DuplicateKeyError:
            claim = self.db[CLAIMS_COLLECTION].find_one({"_id": key}) or {}
            return claim.get("owner") == host_id

    # -- recovery ----------------------------------------------------------------------------------

    @survives_outages
    def requeue_stale(self, stale_after: float, max_requeues: int, exp_key: str | None = None) -> int:
        """Give back jobs whose owner stopped heartbeating; a job requeued too often becomes ERROR.

        Every claimed attempt not yet over has a running entry (small collection), so every RUNNING
        job is seen, not only those a worker's registry entry names (a lost reply, a worker that moved
        on, leaves a job RUNNING that no registry entry names).  An entry whose worker's registry entry
        names its job with a recent beat costs nothing; any other older than ``stale_after`` has its
        job read by ``_id``: RUNNING without a recent refresh is requeued, NEW at the claimed attempt
        (the winner died before marking it RUNNING) is requeued as its next attempt, an attempt that
        is over loses its entry.  A claim whose winner died before writing its running entry is
        found through the queue (small).  The writes are idempotent (the next attempt number is set,
        not incremented), so workers that do this at the same moment agree.
        """
        now = self.now()
        cutoff = now - datetime.timedelta(seconds=stale_after)
        scope = {"exp_key": exp_key} if exp_key is not None else {}
        workers = {worker["_id"]: worker for worker in self.db[WORKERS_COLLECTION].find({})}
        recovered = 0
        for entry in list(self.running.find(scope)):
            worker = workers.get(entry.get("owner")) or {}
            beating = worker.get("job") == entry["job"] and worker.get("beat") is not None and worker["beat"] >= cutoff
            if not beating and entry.get("at", now) < cutoff:
                recovered += self._recover_attempt(entry, cutoff, max_requeues)
        for entry in list(self.queue.find(scope)):
            claim = self.db[CLAIMS_COLLECTION].find_one({"_id": entry["_id"]})
            if claim is not None and claim.get("at", now) < cutoff:
                recovered += self._requeue_unstarted(entry["job"], _attempt_of(entry["_id"]), cutoff)
        for worker in workers.values():
            if (worker.get("expires") or now) < now - FORGET_WORKERS_AFTER:
                self.db[WORKERS_COLLECTION].delete_one({"_id": worker["_id"], "expires": worker.get("expires")})
        return recovered

    def _recover_attempt(self, entry: dict, cutoff: datetime.datetime, max_requeues: int) -> int:
        """Requeue the job of a running entry that nobody vouches for, if it is stale; drop an entry whose attempt is over."""
        attempt = _attempt_of(entry["_id"])
        job = self.jobs.find_one({"_id": entry["job"]})
        if job is None or int(job.get("attempt") or 0) != attempt or job.get("state") not in (JOB_STATE_NEW,
                                                                                               JOB_STATE_RUNNING):
            self.running.delete_one({"_id": entry["_id"]})
            return 0
        if job["state"] == JOB_STATE_NEW:
            return self._requeue_unstarted(entry["job"], attempt, cutoff)
        refreshed = job.get("refresh_time")
        if refreshed is not None and refreshed >= cutoff:
            return 0  # it beats although no registry entry names it: looked at again by the next scan
        still_stale = {"state": JOB_STATE_RUNNING, "owner": job.get("owner"), "attempt": _attempt_is(attempt),
                       "refresh_time": refreshed}
        return self._requeue(job, still_stale, max_requeues, cutoff)

    def _requeue_unstarted(self, job_id: Any, attempt: int, cutoff: datetime.datetime) -> int:
        """Queue as its next attempt a job whose claim was won by a process that never marked it RUNNING."""
        if not self._win_recovery(job_id, attempt, cutoff):
            return 0
        key = queue_key(job_id, attempt)
        orphan = {"_id": job_id, "state": JOB_STATE_NEW, "attempt": _attempt_is(attempt)}
        job = self.jobs.find_one_and_update(orphan, {"$set": {"attempt": attempt + 1}, "$inc": {"version": 1}},
                                            return_document=pymongo.ReturnDocument.AFTER)
        self.queue.delete_one({"_id": key})
        self.running.delete_one({"_id": key})
        if job is None:
            return 0
        logger.warning("job %s was claimed by a worker that died before starting it; requeued", job_id)
        self.enqueue([job])
        self.record_change(job)
        return 1

    def _requeue(self, job: dict, still_stale: dict, max_requeues: int, cutoff: datetime.datetime) -> int:
        if not self._win_recovery(job["_id"], int(job.get("attempt") or 0), cutoff):
            return 0
        requeues = int(job.get("requeues", 0)) + 1
        if requeues > max_requeues:
            change = {"state": JOB_STATE_ERROR,
                      "error": ["WorkerDied", f"its worker stopped without finishing it {requeues} times"]}
        else:
            change = {**_back_to_new(job), "requeues": requeues}
        taken = self.jobs.update_one({**still_stale, "_id": job["_id"]}, {"$set": change, "$inc": {"version": 1}})
        if taken.modified_count:
            self._forget_attempt(job)
            logger.warning("job tid=%s of %s stopped heartbeating: %s", job.get("tid"), job.get("owner"),
                           "marked ERROR" if change["state"] == JOB_STATE_ERROR else f"requeued ({requeues})")
            written = {**job, **change, "version": int(job.get("version", 0)) + 1}
            if change["state"] == JOB_STATE_NEW:
                self.enqueue([written])
            self.record_change(written)
        return taken.modified_count

    def _win_recovery(self, job_id: Any, attempt: int, cutoff: datetime.datetime) -> bool:
        """Whether this process is the one that recovers this attempt of the job (a unique-key claim).

        A recovery claimed before ``cutoff`` whose job is still found lost means its claimant died
        between the claim and the write: it is taken over (by one process: the insert decides again).
        """
        key = queue_key(job_id, attempt)
        recoveries = self.db[RECOVERIES_COLLECTION]
        for _ in range(2):
            try:
                recoveries.insert_one({"_id": key, "job": job_id, "at": self.now()})
                return True
            except pymongo.errors.DuplicateKeyError:
                if not recoveries.delete_one({"_id": key, "at": {"$lt": cutoff}}).deleted_count:
                    return False
        return False

    @survives_outages
    def hand_back(self, job: dict, host_id: Any) -> bool:
        """Make a job this owner is running NEW again (a clean stop), for another worker to take."""
        change = _back_to_new(job)
        handed = self.jobs.update_one(
            {"_id": job["_id"], "owner": host_id, "state": JOB_STATE_RUNNING},
            {"$set": change, "$inc": {"version": 1}},
        )
        if handed.modified_count:
            self._forget_attempt(job)
            written = {**job, **change, "version": int(job.get("version", 0)) + 1}
            self.enqueue([written])
            self.record_change(written)
        return handed.modified_count == 1

    def _forget_attempt(self, job: dict) -> None:
        """Remove the running entry of ``job``'s current attempt, which just ended.

        Best effort: an entry left behind costs the next stale-job scan one read of the job, which
        then removes it.
        """
        try:
            self.running.delete_one({"_id": queue_key(job["_id"], int(job.get("attempt") or 0))})
        except pymongo.errors.PyMongoError as error:
            logger.debug("running entry of job %s not removed: %s", job.get("_id"), error)

    # -- the worker registry: how many workers the driver can see, and which jobs they run -----------

    def announce_worker(self, host_id: str, exp_key: str | None, expires_in: float, busy: bool,
                        stale_after: float | None = None) -> None:
        """Say that this worker is alive for another ``expires_in`` seconds (and, if busy, its job too).

        ``beat`` is stamped on every announcement, busy or idle, by the server's clock: it is when the
        worker was last heard of, which a viewer shows as is (the stale-job scan reads it only together
        with ``job``, which an idle announcement clears).  ``stale_after`` is when this worker requeues
        a stopped worker's job: the driver tells the user when a job stranded by a dead worker will run
        again (see waiting.py).
        """
        now = self.now()
        change: dict[str, Any] = {"exp_key": exp_key, "expires": now + datetime.timedelta(seconds=expires_in),
                                  "busy": busy, "beat": now}
        if stale_after is not None:
            change["stale_after"] = stale_after
        if not busy:
            change["job"] = None
        self.db[WORKERS_COLLECTION].update_one({"_id": host_id}, {"$set": change}, upsert=True)

    @survives_outages
    def set_current_job(self, host_id: str, job_id: Any) -> None:
        """Name the job this worker is about to run, before it is marked RUNNING."""
        self.db[WORKERS_COLLECTION].update_one({"_id": host_id}, {"$set": {"job": job_id, "beat": self.now(),
                                                                           "busy": True}}, upsert=True)

    def retire_worker(self, host_id: str) -> None:
        self.db[WORKERS_COLLECTION].delete_one({"_id": host_id})

    @survives_outages
    def registry(self, exp_key: str | None = None) -> list[dict]:
        """The registry entries of workers that take jobs of ``exp_key`` (or of any), expired ones included."""
        query = {} if exp_key is None else {"exp_key": {"$in": [exp_key, None]}}
        return list(self.db[WORKERS_COLLECTION].find(query))

    @survives_outages
    def live_workers(self, exp_key: str | None = None) -> int:
        """Workers that announced themselves recently and take jobs of ``exp_key`` (or of any)."""
        query: dict[str, Any] = {"expires": {"$gt": self.now()}}
        if exp_key is not None:
            query["exp_key"] = {"$in": [exp_key, None]}
        return self.db[WORKERS_COLLECTION].count_documents(query)

    # -- a trial's own attachments (hyperopt's API; stored as stored_form.py says) ---------------------

    def attachment_names(self, doc: dict) -> list[str]:
        return [str(name) for name, _file in attachment_entries(doc)]

    def set_attachment(self, doc: dict, blob: bytes, name: str, collection: Any = None) -> None:
        """Store ``blob`` as ``doc``'s attachment ``name`` (replacing one of that name) in GridFS."""
        entries = attachment_entries(doc)
        replaced = [file_id for entry_name, file_id in entries if entry_name == name]
        file_id = self.gfs.put(blob, filename=f"{doc['_id']}_{name}")
        kept = [(entry_name, old) for entry_name, old in entries if entry_name != name]
        self.update(doc, {"_attachments": stored_attachments([*kept, (name, file_id)])}, collection=collection)
        for old in replaced:
            self.gfs.delete(old)

    def get_attachment(self, doc: dict, name: str) -> bytes:
        """The blob attached to ``doc`` as ``name``; hyperopt's ``OperationFailure`` when there is none."""
        file_ids = [file_id for entry_name, file_id in attachment_entries(doc) if entry_name == name]
        if len(file_ids) != 1:
            raise mongoexp.OperationFailure(f"attachment {name!r} of job {doc.get('_id')}: "
                                            f"{'not found' if not file_ids else 'stored more than once'}")
        return self.gfs.get(file_ids[0]).read()

    def delete_attachment(self, doc: dict, name: str, collection: Any = None) -> None:
        entries = attachment_entries(doc)
        gone = [file_id for entry_name, file_id in entries if entry_name == name]
        if not gone:
            raise mongoexp.OperationFailure(f"attachment {name!r} of job {doc.get('_id')}: not found")
        kept = [(entry_name, file_id) for entry_name, file_id in entries if entry_name != name]
        self.update(doc, {"_attachments": stored_attachments(kept)}, collection=collection)
        for file_id in gone:
            self.gfs.delete(file_id)

    # -- hyperopt's versioned update -----------------------------------------------------------------

    def update(self, doc: dict, dct: dict, collection: Any = None, do_sanity_checks: bool = True) -> dict:
        """Set ``dct`` on ``doc`` if nobody changed it meanwhile (hyperopt's version check)."""
        collection = self.collection if collection is None else collection
        changes = encode_document(dct)  # a copy: NaN, ±inf and nested arrays as every server stores them
        if "_id" not in doc:
            raise ValueError('doc must have an "_id" key to be updated')
        if changes.pop("_id", doc["_id"]) != doc["_id"]:
            raise ValueError("cannot update the _id field")
        changes.pop("version", None)
        query = {"_id": doc["_id"]}
        if "version" in doc:
            query["version"] = doc["version"]
        changes["version"] = doc.get("version", 0) + 1
        outcome = self._update_one(collection, query, changes, doc.get("owner"))
        if do_sanity_checks and outcome.matched_count != 1:
            raise mongoexp.OperationFailure(f"job {doc['_id']} was changed by someone else (version {doc.get('version')})")
        doc.update(changes)
        if "state" in changes and collection.name == self.jobs.name:
            self.record_change(doc)
            if changes["state"] != JOB_STATE_RUNNING:
                self._forget_attempt(doc)
        return doc

    @survives_outages
    def _update_one(self, collection: Any, query: dict, changes: dict, owner: Any = None) -> Any:
        outcome = collection.update_one(query, {"$set": changes}, upsert=False)
        written = {"_id": query["_id"], "version": changes["version"], "owner": changes.get("owner", owner)}
        if outcome.matched_count == 0 and collection.find_one(written, projection=["_id"]) is not None:
            # An earlier attempt wrote it and its answer was lost; the write is done. (A requeue or a
            # hand-back also sets this version, but clears the owner, so it does not match.)
            return pymongo.results.UpdateResult({"n": 1, "nModified": 1}, acknowledged=True)
        return outcome
