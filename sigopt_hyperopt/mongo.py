"""hyperopt's MongoDB job queue, working with pymongo 4 and MongoDB-wire servers of today.

hyperopt 0.3.0's ``mongoexp`` calls ``Collection.find_and_modify``, ``Collection.update``,
``Collection.insert``, ``Collection.remove``, ``Cursor.count`` and ``Database.authenticate``, all
removed in pymongo 4, so a worker cannot reserve a single job. These subclasses keep hyperopt's
classes, document layout and URL form (``mongo://[user:password@]host:port/db/jobs[?authSource=..]``)
and replace only the calls pymongo 4 no longer has. Connecting checks the server at once, so a bad
URL, an unreachable host or a wrong password is a :class:`DatabaseError` within seconds, with any
password removed from the message.
"""

from __future__ import annotations

import copy
import functools
import logging
import random
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import gridfs
import pymongo
import pymongo.errors
import pymongo.results
from hyperopt import mongoexp
from hyperopt.base import JOB_STATE_NEW, JOB_STATE_RUNNING, JOB_STATES
from hyperopt.utils import coarse_utcnow

from .errors import SigOptHyperoptError

logger = logging.getLogger(__name__)

SERVER_TIMEOUT_MS = 5000
"""How long to wait for the database before saying it is unreachable."""

OUTAGE_TOLERANCE_S = 120.0
"""How long a running search waits for a database that went away before giving up."""

T = TypeVar("T")


class DatabaseError(SigOptHyperoptError):
    """The MongoDB store cannot be used: bad URL, unreachable server, refused credentials."""


@dataclass(frozen=True)
class MongoAddress:
    """A parsed ``mongo://`` URL; ``redacted`` is the form that may appear in logs and errors."""

    host: str
    port: int
    database: str
    collection: str
    username: str | None = None
    password: str | None = None
    auth_source: str | None = None

    @property
    def redacted(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"mongo://{user}{self.host}:{self.port}/{self.database}/{self.collection}"


def parse_mongo_url(url: str, default_collection: str = "jobs") -> MongoAddress:
    """``mongo://[user[:password]@]host[:port]/db[/collection][?authSource=admin]``; ``mongo://`` optional."""
    if "://" not in url:
        url = "mongo://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("mongo", "mongodb"):
        raise DatabaseError(f"Unsupported database URL scheme {parts.scheme!r}: use mongo://host:port/db/jobs")
    path = [p for p in parts.path.split("/") if p]
    if not parts.hostname or not path or len(path) > 2:
        raise DatabaseError(
            f"Cannot read the database URL {_redact(url)!r}: expected mongo://host:port/db/jobs "
            "(or host:port/db for a worker)"
        )
    try:
        port = parts.port or 27017
    except ValueError:
        raise DatabaseError(f"The port in {_redact(url)!r} is not a number") from None
    query = urllib.parse.parse_qs(parts.query)
    return MongoAddress(
        host=parts.hostname,
        port=port,
        database=path[0],
        collection=path[1] if len(path) == 2 else default_collection,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
        auth_source=(query.get("authSource") or [None])[-1],
    )


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url if "://" in url else "mongo://" + url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@")


def connect(address: MongoAddress) -> pymongo.MongoClient:
    """A client whose server answered, or a DatabaseError that says what to do."""
    credentials: dict[str, Any] = {}
    if address.username:
        credentials = {"username": address.username, "password": address.password,
                       "authSource": address.auth_source or "admin"}
    client: pymongo.MongoClient = pymongo.MongoClient(
        host=address.host,
        port=address.port,
        serverSelectionTimeoutMS=SERVER_TIMEOUT_MS,
        connectTimeoutMS=SERVER_TIMEOUT_MS,
        w=1,
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
            f"No MongoDB server answered at {address.host}:{address.port} within "
            f"{SERVER_TIMEOUT_MS / 1000:.0f} s ({address.redacted}); start it, or check the host and port."
        ) from None
    return client


def survives_outages(method: Callable[..., T]) -> Callable[..., T]:
    """Retry a store operation while the database is unreachable, with jittered exponential backoff.

    Bounded by :data:`OUTAGE_TOLERANCE_S`; then a :class:`DatabaseError` says what happened. Only
    connection failures are retried, never a refused operation.
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        deadline = time.monotonic() + OUTAGE_TOLERANCE_S
        delay = 0.2
        while True:
            try:
                return method(*args, **kwargs)
            except pymongo.errors.ConnectionFailure as error:
                if time.monotonic() + delay > deadline:
                    raise DatabaseError(
                        f"The database stayed unreachable for {OUTAGE_TOLERANCE_S:.0f} s during {method.__name__}: "
                        f"{type(error).__name__}. Restart it; finished trials are safe in it."
                    ) from None
                logger.warning("database unreachable during %s; retrying in %.1f s", method.__name__, delay)
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)

    return wrapper


class MongoJobs(mongoexp.MongoJobs):
    """hyperopt's job collection on pymongo 4."""

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
        return document

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

    @survives_outages
    def reserve(self, host_id: Any, cond: dict | None = None, exp_key: str | None = None) -> dict | None:
        """Atomically take the oldest NEW job (lowest tid) for this owner."""
        query = dict(cond or {})
        if query.get("owner") is not None:
            raise ValueError("refusing to reserve an owned job")
        if exp_key is not None:
            query["exp_key"] = exp_key
        query.update(owner=None, state=JOB_STATE_NEW)
        now = coarse_utcnow()
        return self.jobs.find_one_and_update(
            query,
            {"$set": {"owner": host_id, "book_time": now, "refresh_time": now, "state": JOB_STATE_RUNNING}},
            sort=[("tid", pymongo.ASCENDING)],
            return_document=pymongo.ReturnDocument.AFTER,
        )

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
        outcome = self._update_one(collection, query, changes)
        if do_sanity_checks and outcome.matched_count != 1:
            raise mongoexp.OperationFailure(f"job {doc['_id']} was changed by someone else (version {doc.get('version')})")
        doc.update(changes)
        return doc

    @survives_outages
    def _update_one(self, collection: Any, query: dict, changes: dict) -> Any:
        outcome = collection.update_one(query, {"$set": changes}, upsert=False)
        if outcome.matched_count == 0 and collection.count_documents({"_id": query["_id"], "version": changes["version"]}):
            # An earlier attempt wrote it and its answer was lost; the write is done.
            return pymongo.results.UpdateResult({"n": 1, "nModified": 1}, acknowledged=True)
        return outcome


class MongoTrials(mongoexp.MongoTrials):
    """``MongoTrials("mongo://host:port/db/jobs", exp_key="exp1")`` on pymongo 4."""

    def __init__(self, arg: Any, exp_key: str | None = None, cmd: Any = None, workdir: str | None = None,
                 refresh: bool = True) -> None:
        handle = arg if isinstance(arg, mongoexp.MongoJobs) else MongoJobs.new_from_connection_str(arg)
        super().__init__(handle, exp_key=exp_key, cmd=cmd, workdir=workdir, refresh=refresh)

    @survives_outages
    def refresh(self) -> None:
        super().refresh()

    @survives_outages
    def _insert_trial_docs(self, docs: list[dict]) -> list[Any]:
        ids = []
        for doc in docs:
            try:
                ids.append(self.handle.jobs.insert_one(doc).inserted_id)
            except pymongo.errors.DuplicateKeyError:  # a retried insert whose first attempt went through
                ids.append(doc["_id"])
        return ids

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
    def new_trial_ids(self, n: int) -> list[int]:
        """Trial ids unique across the database (as hyperopt's), allocated atomically."""
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
