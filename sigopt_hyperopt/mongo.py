"""hyperopt's MongoDB job queue, working with pymongo 4 and MongoDB-wire servers of today.

hyperopt 0.3.0's ``mongoexp`` calls ``Collection.find_and_modify``, ``Collection.update``,
``Collection.insert``, ``Collection.remove``, ``Cursor.count`` and ``Database.authenticate``, all
removed in pymongo 4, so a worker cannot reserve a single job. These subclasses keep hyperopt's
classes, document layout and URL form (``mongo://[user:password@]host:port/db/jobs[?authSource=..]``)
and replace only the calls pymongo 4 no longer has. Connecting checks the server at once, so a bad
URL, an unreachable host or a wrong password is a :class:`DatabaseError` within seconds, with any
password removed from the message.

Every write that decides who owns a job is an insert with a unique ``_id`` (a *claim*), never a
read-modify-write: MongoDB makes both atomic, but MongoDB-compatible servers need not (FerretDB 1.x on
SQLite applies ``findAndModify`` and ``update`` without a transaction; six workers reserving 300 jobs
with ``findAndModify`` there took 291 of them twice). A unique-key insert is atomic on all of them.
"""

from __future__ import annotations

import copy
import datetime
import functools
import logging
import random
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import gridfs
import numpy as np
import pymongo
import pymongo.errors
import pymongo.results
from hyperopt import mongoexp, tpe
from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING, JOB_STATES
from .errors import DatabaseError
from .mongo_address import MongoAddress, parse_mongo_url
from .server_clock import ServerClock

logger = logging.getLogger(__name__)

SERVER_TIMEOUT_MS = 5000
"""How long to wait for the database before saying it is unreachable."""

OUTAGE_TOLERANCE_S = 120.0
"""How long a running search waits for a database that went away before giving up."""

T = TypeVar("T")

CLAIMS_COLLECTION = "job_claims"
"""One document per (job, attempt): whoever inserted it owns that attempt of the job."""

QUEUE_SIGNAL_COLLECTION = "queue_signal"
"""One counter per job collection, bumped whenever a job becomes NEW (inserted, requeued, handed
back). An idle worker reads it (a lookup by ``_id``) and searches the queue only when it changed:
FerretDB scans a whole collection for the queue query (5.7 ms at 64 trials, 46 ms at 640, against
0.5 ms for the lookup), so sixteen workers polling it ten times a second kept its server busy."""

REPORTED_COLLECTION = "sigopt_reported"
"""One document per evaluation reported to a SigOpt experiment (its identity is the ``_id``)."""

WORKERS_COLLECTION = "workers"
"""One document per live worker process, refreshed while it runs; the driver counts them."""

RESERVE_CANDIDATES = 32
"""How many of the oldest queued jobs a worker considers: the oldest first, then the others in a
random order, so a pool of idle workers does not queue up behind one claim after another (a single
worker still takes jobs strictly oldest first)."""


def connect(address: MongoAddress) -> pymongo.MongoClient:
    """A client whose server answered, or a DatabaseError that says what to do."""
    credentials: dict[str, Any] = {}
    if address.username and address.auth_source is None:
        credentials["authSource"] = "admin"  # hyperopt's habit; pymongo would use the URL's database
    client: pymongo.MongoClient = pymongo.MongoClient(
        address.uri, serverSelectionTimeoutMS=SERVER_TIMEOUT_MS, connectTimeoutMS=SERVER_TIMEOUT_MS, w=1,
        **credentials,
    )
    try:
        client.admin.command("ping")
        if address.username:
            client[address.database].list_collection_names()
    except pymongo.errors.OperationFailure as error:
        client.close()
        if error.code in (18, 13) or "auth" in str(error).lower():
            raise DatabaseError(
                f"The database at {address.redacted} refused the credentials of user {address.username!r}; "
                "check the user name, the password and authSource."
            ) from None
        raise DatabaseError(f"The database at {address.redacted} refused the connection: {error}") from None
    except pymongo.errors.PyMongoError:
        client.close()
        raise DatabaseError(
            f"No MongoDB server answered at {address.hosts_text} within "
            f"{SERVER_TIMEOUT_MS / 1000:.0f} s ({address.redacted}); start it, or check the host and port."
        ) from None
    return client


def survives_outages(method: Callable[..., T]) -> Callable[..., T]:
    """Retry a store operation while the database is unreachable, with jittered exponential backoff.

    Bounded by the ``outage_tolerance`` of the object the method belongs to (default
    :data:`OUTAGE_TOLERANCE_S`); then a :class:`DatabaseError` says what happened. Only connection
    failures are retried, never a refused operation.
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        tolerance = float(getattr(args[0], "outage_tolerance", OUTAGE_TOLERANCE_S)) if args else OUTAGE_TOLERANCE_S
        deadline = time.monotonic() + tolerance
        delay = 0.2
        while True:
            try:
                return method(*args, **kwargs)
            except pymongo.errors.ConnectionFailure as error:
                if time.monotonic() + delay > deadline:
                    raise DatabaseError(
                        f"The database stayed unreachable for {tolerance:.0f} s during {method.__name__}: "
                        f"{type(error).__name__}. Restart it; finished trials are safe in it."
                    ) from None
                logger.warning("database unreachable during %s; retrying in %.1f s", method.__name__, delay)
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)

    return wrapper


def _back_to_new(job: dict) -> dict[str, Any]:
    """The fields that put a RUNNING job back in the queue, as its next attempt."""
    return {"state": JOB_STATE_NEW, "owner": None, "book_time": None, "refresh_time": None,
            "attempt": int(job.get("attempt", 0)) + 1}


def _attempt_is(attempt: int) -> Any:
    """A filter on a job's attempt number; jobs written by the driver have none yet (attempt 0)."""
    return attempt if attempt else {"$in": [0, None]}


class MongoJobs(mongoexp.MongoJobs):
    """hyperopt's job collection on pymongo 4."""

    outage_tolerance: float = OUTAGE_TOLERANCE_S
    """Seconds a store operation keeps retrying an unreachable database before giving up."""

    @classmethod
    def new_from_connection_str(cls, conn_str: str, gfs_coll: str = "fs", config_name: str = "spec") -> "MongoJobs":
        address = parse_mongo_url(conn_str)
        client = connect(address)
        db = client[address.database]
        return cls(db, db[address.collection], gridfs.GridFS(db, collection=gfs_coll), client, None, config_name)

    @survives_outages
    def __len__(self) -> int:
        return self.jobs.count_documents({})

    @survives_outages
    def insert(self, job: dict) -> dict:
        document = copy.deepcopy(job)
        self.jobs.insert_one(document)
        self.ring()
        return document

    def ring(self) -> None:
        """Tell idle workers that jobs may be waiting (after, never before, the jobs are written).

        Best effort: a missed ring costs idle workers at most one full look (2 s), so a failure here
        must not fail the write that came before it.
        """
        try:
            self.db[QUEUE_SIGNAL_COLLECTION].update_one({"_id": self.jobs.name}, {"$inc": {"rings": 1}}, upsert=True)
        except pymongo.errors.PyMongoError as error:
            logger.debug("queue signal not rung: %s", error)

    @survives_outages
    def queue_signal(self) -> int:
        """The counter :meth:`ring` bumps; read it *before* searching the queue."""
        doc = self.db[QUEUE_SIGNAL_COLLECTION].find_one({"_id": self.jobs.name}) or {}
        return int(doc.get("rings", 0))

    @survives_outages
    def delete(self, job: dict) -> None:
        self.jobs.delete_one({"_id": job["_id"]})

    @survives_outages
    def delete_all(self, cond: dict | None = None) -> None:
        for document in self.jobs.find(filter=cond or {}, projection=["_id", "_attachments"]):
            for _name, file_id in document.get("_attachments", []):
                try:
                    self.gfs.delete(file_id)
                except gridfs.errors.NoFile:
                    logger.warning("attachment %s of job %s was already gone", file_id, document["_id"])
            self.jobs.delete_one({"_id": document["_id"]})

    def now(self) -> datetime.datetime:
        """The database server's time: every liveness timestamp and cutoff uses it (see server_clock)."""
        clock = getattr(self, "_clock", None)
        if clock is None:
            clock = self._clock = ServerClock(self.db)
        return clock.now()

    def create_indexes(self) -> None:
        """Once per handle: every ``MongoTrials`` a worker builds per job would otherwise repeat it."""
        if not getattr(self, "_indexes_created", False):
            super().create_indexes()
            self._indexes_created = True

    @survives_outages
    def reserve(self, host_id: Any, cond: dict | None = None, exp_key: str | None = None) -> dict | None:
        """Take the oldest NEW job (lowest tid) for this owner, or None when nothing is queued.

        Ownership is a claim on (job, attempt); the job document is only marked RUNNING by the
        claim's winner. A claim whose winner died before marking the job is taken over when stale.
        """
        query = dict(cond or {})
        if query.get("owner") is not None:
            raise ValueError("refusing to reserve an owned job")
        if exp_key is not None:
            query["exp_key"] = exp_key
        query.update(owner=None, state=JOB_STATE_NEW)
        candidates = list(self.jobs.find(query, projection=["_id", "attempt"], sort=[("tid", pymongo.ASCENDING)],
                                         limit=RESERVE_CANDIDATES))
        rest = candidates[1:]
        random.shuffle(rest)  # the oldest first; if taken, not everyone's second choice too
        for candidate in candidates[:1] + rest:
            attempt = int(candidate.get("attempt", 0))
            if not self._claim(candidate["_id"], attempt, host_id):
                continue
            now = self.now()
            job = self.jobs.find_one_and_update(
                {"_id": candidate["_id"], "state": JOB_STATE_NEW, "attempt": _attempt_is(attempt)},
                {"$set": {"owner": host_id, "book_time": now, "refresh_time": now, "state": JOB_STATE_RUNNING}},
                return_document=pymongo.ReturnDocument.AFTER,
            )
            if job is not None and job["owner"] == host_id:
                return job
        return None

    def _claim(self, job_id: Any, attempt: int, host_id: Any) -> bool:
        """True if this owner holds (job, attempt): it inserted the claim now, or in a retried call."""
        key = f"{job_id}/{attempt}"
        try:
            self.db[CLAIMS_COLLECTION].insert_one({"_id": key, "job": job_id, "owner": host_id, "at": self.now()})
            return True
        except pymongo.errors.DuplicateKeyError:
            claim = self.db[CLAIMS_COLLECTION].find_one({"_id": key}) or {}
            return claim.get("owner") == host_id

    @survives_outages
    def requeue_stale(self, stale_after: float, max_requeues: int, exp_key: str | None = None) -> int:
        """Give back jobs whose owner stopped heartbeating; a job requeued too often becomes ERROR.

        Also frees a job whose claim was won by a process that died before it could mark the job
        RUNNING. The writes are idempotent (the next attempt number is set, not incremented), so
        workers that do this at the same moment agree.
        """
        cutoff = self.now() - datetime.timedelta(seconds=stale_after)
        scope: dict[str, Any] = {"exp_key": exp_key} if exp_key is not None else {}
        recovered = 0
        running = {**scope, "state": JOB_STATE_RUNNING, "refresh_time": {"$lt": cutoff}}
        for job in self.jobs.find(running, projection=["_id", "tid", "owner", "requeues", "attempt"]):
            recovered += self._requeue(job, {**running, "owner": job["owner"]}, max_requeues)
        for claim in self.db[CLAIMS_COLLECTION].find({"at": {"$lt": cutoff}}, projection=["_id", "job"]).limit(256):
            attempt = int(str(claim["_id"]).rsplit("/", 1)[1])
            orphan = {**scope, "_id": claim["job"], "state": JOB_STATE_NEW, "attempt": _attempt_is(attempt)}
            if self.jobs.update_one(orphan, {"$set": {"attempt": attempt + 1}}).modified_count:
                logger.warning("job %s was claimed by a worker that died before starting it; requeued", claim["job"])
                recovered += 1
            self.db[CLAIMS_COLLECTION].delete_one({"_id": claim["_id"]})  # old claims are never needed again
        if recovered:
            self.ring()
        return recovered

    def _requeue(self, job: dict, still_stale: dict, max_requeues: int) -> int:
        requeues = int(job.get("requeues", 0)) + 1
        if requeues > max_requeues:
            change = {"state": JOB_STATE_ERROR,
                      "error": ["WorkerDied", f"its worker stopped without finishing it {requeues} times"]}
        else:
            change = {**_back_to_new(job), "requeues": requeues}
        taken = self.jobs.update_one({**still_stale, "_id": job["_id"]}, {"$set": change, "$inc": {"version": 1}})
        if taken.modified_count:
            logger.warning("job tid=%s of %s stopped heartbeating: %s", job.get("tid"), job.get("owner"),
                           "marked ERROR" if change["state"] == JOB_STATE_ERROR else f"requeued ({requeues})")
        return taken.modified_count

    @survives_outages
    def hand_back(self, job: dict, host_id: Any) -> bool:
        """Make a job this owner is running NEW again (a clean stop), for another worker to take."""
        handed = self.jobs.update_one(
            {"_id": job["_id"], "owner": host_id, "state": JOB_STATE_RUNNING},
            {"$set": _back_to_new(job), "$inc": {"version": 1}},
        )
        if handed.modified_count:
            self.ring()
        return handed.modified_count == 1

    # -- the worker registry: how many workers the driver can see -------------------------------

    def announce_worker(self, host_id: str, exp_key: str | None, expires_in: float, busy: bool) -> None:
        """Say that this worker is alive for another ``expires_in`` seconds."""
        expires = self.now() + datetime.timedelta(seconds=expires_in)
        self.db[WORKERS_COLLECTION].update_one(
            {"_id": host_id}, {"$set": {"exp_key": exp_key, "expires": expires, "busy": busy}}, upsert=True
        )

    def retire_worker(self, host_id: str) -> None:
        self.db[WORKERS_COLLECTION].delete_one({"_id": host_id})

    @survives_outages
    def live_workers(self, exp_key: str | None = None) -> int:
        """Workers that announced themselves recently and take jobs of ``exp_key`` (or of any)."""
        query: dict[str, Any] = {"expires": {"$gt": self.now()}}
        if exp_key is not None:
            query["exp_key"] = {"$in": [exp_key, None]}
        return self.db[WORKERS_COLLECTION].count_documents(query)

    def update(self, doc: dict, dct: dict, collection: Any = None, do_sanity_checks: bool = True) -> dict:
        """Set ``dct`` on ``doc`` if nobody changed it meanwhile (hyperopt's version check)."""
        collection = self.collection if collection is None else collection
        changes = copy.deepcopy(dct)
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
        return doc

    @survives_outages
    def _update_one(self, collection: Any, query: dict, changes: dict, owner: Any = None) -> Any:
        outcome = collection.update_one(query, {"$set": changes}, upsert=False)
        written = {"_id": query["_id"], "version": changes["version"], "owner": changes.get("owner", owner)}
        if outcome.matched_count == 0 and collection.count_documents(written):
            # An earlier attempt wrote it and its answer was lost; the write is done. (A requeue or a
            # hand-back also sets this version, but clears the owner, so it does not match.)
            return pymongo.results.UpdateResult({"n": 1, "nModified": 1}, acknowledged=True)
        return outcome


class MongoTrials(mongoexp.MongoTrials):
    """``MongoTrials("mongo://host:port/db/jobs", exp_key="exp1")`` on pymongo 4.

    ``queue_len``: how many jobs ``fmin`` keeps queued. ``None`` (default) follows the number of
    live workers; ``fmin(max_queue_len=k)`` with k > 1 fixes it to k (hyperopt's default of 1 is
    taken as "not set": pass ``queue_len=1`` to really queue one job). ``poll_interval``: seconds
    between the driver's looks at the store (hyperopt's loop uses 1 s). ``outage_tolerance``: seconds
    to keep retrying an unreachable database before raising :class:`DatabaseError`.
    """

    def __init__(self, arg: Any, exp_key: str | None = None, cmd: Any = None, workdir: str | None = None,
                 refresh: bool = True, *, queue_len: int | None = None, poll_interval: float = 0.1,
                 outage_tolerance: float | None = None) -> None:
        handle = arg if isinstance(arg, mongoexp.MongoJobs) else MongoJobs.new_from_connection_str(arg)
        if outage_tolerance is not None:
            handle.outage_tolerance = outage_tolerance
        self.queue_len = queue_len
        self.poll_interval = poll_interval
        super().__init__(handle, exp_key=exp_key, cmd=cmd, workdir=workdir, refresh=refresh)

    def view(self, exp_key: str | None = None, cmd: Any = None, workdir: str | None = None,
             refresh: bool = True) -> "MongoTrials":
        return self.__class__(self.handle, exp_key=self._exp_key if exp_key is None else exp_key,
                              cmd=self.cmd if cmd is None else cmd, workdir=self.workdir if workdir is None else workdir,
                              refresh=refresh, queue_len=self.queue_len, poll_interval=self.poll_interval)

    @property
    def outage_tolerance(self) -> float:
        return getattr(self.handle, "outage_tolerance", OUTAGE_TOLERANCE_S)

    def live_workers(self) -> int:
        """Workers that announced themselves recently and take this search's jobs."""
        return self.handle.live_workers(self._exp_key)

    def fmin(self, fn: Callable, space: Any, algo: Callable | None = None, max_evals: int | None = None,
             timeout: float | None = None, loss_threshold: float | None = None, max_queue_len: int = 1,
             rstate: Any = None, verbose: bool = False, pass_expr_memo_ctrl: Any = None,
             catch_eval_exceptions: bool = False, return_argmin: bool = True, show_progressbar: Any = True,
             early_stop_fn: Callable | None = None, trials_save_file: str = "") -> Any:
        """Called by ``hyperopt.fmin``: the same loop, with the queue and poll described above."""
        from .dispatch import fmin_on_pool

        # hyperopt.fmin fills these before it delegates here; a direct call may not.
        algo = algo or tpe.suggest
        rstate = rstate if rstate is not None else np.random.default_rng()
        max_evals = max_evals if max_evals is not None else sys.maxsize
        queue_len = self.queue_len if self.queue_len is not None else (max_queue_len if max_queue_len != 1 else None)
        return fmin_on_pool(
            self, fn, space, algo=algo, max_evals=max_evals, rstate=rstate, queue_len=queue_len,
            poll_interval=self.poll_interval, count_workers=self.live_workers, timeout=timeout,
            loss_threshold=loss_threshold, verbose=verbose, pass_expr_memo_ctrl=pass_expr_memo_ctrl,
            catch_eval_exceptions=catch_eval_exceptions, return_argmin=return_argmin,
            show_progressbar=show_progressbar, early_stop_fn=early_stop_fn, trials_save_file=trials_save_file,
        )

    @property
    def attachments(self) -> "DurableAttachments":
        """hyperopt's GridFS attachments, written safely and riding out database outages."""
        return DurableAttachments(self.handle.gfs, self._exp_key, self.outage_tolerance)

    def reported_marks(self) -> "ReportedMarks":
        """Where :class:`~sigopt_hyperopt.store.TrialsLedger` keeps this store's reported evaluations."""
        return ReportedMarks(self.handle.db, self.outage_tolerance)

    @survives_outages
    def refresh(self) -> None:
        super().refresh()

    @survives_outages
    def _insert_trial_docs(self, docs: list[dict]) -> list[Any]:
        """One round trip for the whole batch; a retried batch skips the documents already in."""
        if not docs:
            return []
        try:
            self.handle.jobs.insert_many(docs, ordered=False)
        except pymongo.errors.BulkWriteError as error:  # a retried insert whose first attempt went through
            if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                raise
        self.handle.ring()
        return [doc["_id"] for doc in docs]

    @survives_outages
    def count_by_state_unsynced(self, arg: Any) -> int:
        states = [arg] if isinstance(arg, int) else list(arg)
        if not all(state in JOB_STATES for state in states):
            raise ValueError("invalid state", arg)
        query: dict[str, Any] = {"state": {"$in": states}}
        if self._exp_key is not None:
            query["exp_key"] = self._exp_key
        return self.handle.jobs.count_documents(query)

    @survives_outages
    def cancel_queued(self) -> int:
        """Cancel this search's jobs that no worker took yet; returns how many."""
        query: dict[str, Any] = {"state": JOB_STATE_NEW}
        if self._exp_key is not None:
            query["exp_key"] = self._exp_key
        return self.handle.jobs.update_many(query, {"$set": {"state": JOB_STATE_CANCEL}, "$inc": {"version": 1}}).modified_count

    @survives_outages
    def new_trial_ids(self, n: int) -> list[int]:
        """Trial ids unique across the database (as hyperopt's), allocated atomically."""
        if n <= 0:
            return []
        counter = self.handle.db.job_ids.find_one_and_update(
            {"a": 0}, {"$inc": {"last_id": n}}, upsert=True, return_document=pymongo.ReturnDocument.AFTER
        )
        last = int(counter["last_id"])
        return list(range(last - n, last))

    @survives_outages
    def all_trial_docs(self) -> list[dict]:
        """Every trial of this experiment, ERROR ones included (``refresh`` leaves those out)."""
        query = {"exp_key": self._exp_key} if self._exp_key is not None else {}
        return list(self.handle.jobs.find(query))


class DurableAttachments:
    """``MongoTrials.attachments``: hyperopt's GridFS files (by name and ``exp_key``), riding out outages.

    A write puts the new version first and deletes the older ones after (hyperopt deletes first): a
    crash between the two leaves two versions, and a read takes the newest, so the search's record
    is never lost.
    """

    def __init__(self, gfs: gridfs.GridFS, exp_key: str | None, outage_tolerance: float = OUTAGE_TOLERANCE_S) -> None:
        self._gfs = gfs
        self._query = {"exp_key": exp_key} if exp_key else {}
        self.outage_tolerance = outage_tolerance

    @survives_outages
    def __contains__(self, name: str) -> bool:
        return self._gfs.exists(filename=name, **self._query)

    @survives_outages
    def __getitem__(self, name: str) -> Any:
        try:
            return self._gfs.get_version(filename=name, **self._query).read()
        except gridfs.errors.NoFile:
            raise KeyError(name) from None

    @survives_outages
    def __setitem__(self, name: str, value: Any) -> None:
        older = [f._id for f in self._gfs.find({"filename": name, **self._query})]
        self._gfs.put(value, filename=name, encoding="utf-8", **self._query)
        for file_id in older:
            self._gfs.delete(file_id)

    @survives_outages
    def __delitem__(self, name: str) -> None:
        files = [f._id for f in self._gfs.find({"filename": name, **self._query})]
        if not files:
            raise KeyError(name)
        for file_id in files:
            self._gfs.delete(file_id)

    def __iter__(self) -> Any:
        return iter(self._names())

    @survives_outages
    def _names(self) -> list[str]:
        return sorted({f.filename for f in self._gfs.find(self._query)})

    def keys(self) -> list[str]:
        return list(self)

    def items(self) -> list[tuple[str, Any]]:
        return [(name, self[name]) for name in self]


class ReportedMarks:
    """The evaluations reported to SigOpt (see :mod:`sigopt_hyperopt.store`): one document each in
    :data:`REPORTED_COLLECTION`, ``_id`` the evaluation's identity, so a mark is one atomic insert."""

    def __init__(self, db: Any, outage_tolerance: float = OUTAGE_TOLERANCE_S) -> None:
        self._collection = db[REPORTED_COLLECTION]
        self.outage_tolerance = outage_tolerance
        self._indexed = False

    @survives_outages
    def marks(self, experiment: str, search: str) -> set[Any]:
        from .store import ObservationId

        self._index()
        found = self._collection.find({"experiment": experiment, "search": search}, projection=["_id"])
        return {ObservationId.parse(doc["_id"]) for doc in found}

    @survives_outages
    def add(self, marks: list[Any]) -> None:
        self._index()
        documents = [{"_id": str(m), "experiment": m.experiment, "search": m.search, "tid": m.trial,
                      "attempt": m.attempt} for m in marks]
        try:
            self._collection.insert_many(documents, ordered=False)
        except pymongo.errors.BulkWriteError as error:  # a retried insert whose first attempt went through
            if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                raise

    def _index(self) -> None:
        if not self._indexed:
            self._collection.create_index([("experiment", pymongo.ASCENDING), ("search", pymongo.ASCENDING)])
            self._indexed = True
