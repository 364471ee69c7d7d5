"""Read a search's store, read-only, handing over only what may have changed since the last read.

Two stores: a MongoDB database (hyperopt's ``MongoTrials`` job collection, this project's worker
registry and job claims, the space summary the driver stores in GridFS), and a pickled ``Trials``
file (re-read when the file changes).

Nothing read from a database is unpickled: the pickled ``Domain`` hyperopt keeps for its workers is
never loaded here (unpickling runs whatever code the pickle names, and whoever can write the
database chooses it). What the page needs of the space comes from the plain summary, checked by
:func:`sigopt_hyperopt.space_summary.decode_summary`; everything else from the documents' plain fields.

The MongoDB reads follow the project's rule that no steady-state query scans what it does not need:
after the first full read, a poll asks only for jobs that are queued or running, jobs whose
``refresh_time`` (set by every reservation, heartbeat and result) is recent, jobs with a trial id
above the highest seen (new ones), and the jobs it last saw queued or running (whatever happened to
them since); of the job claims (who held which attempt), only those stamped since the last read.
Nothing here ever writes to the store.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gridfs
import pymongo
from hyperopt.base import JOB_STATE_NEW, JOB_STATE_RUNNING

from ..mongo import CLAIMS_COLLECTION, WORKERS_COLLECTION, MongoAddress, connect
from ..mongo.clock import ServerClock
from ..space_summary import SPACE_KEY, Summary, decode_summary
from ..store import SEARCH_KEY

logger = logging.getLogger(__name__)

CLOCK_SLACK = datetime.timedelta(seconds=120)
"""Jobs whose ``refresh_time`` is this close to the newest seen are read again: workers on other
machines write their own clocks' time, which may lag the newest by this much."""

CLAIMS_SLACK = datetime.timedelta(seconds=30)
"""Claims stamped up to this long before the last read are read again: a worker stamps its claim by
the server's clock, then inserts it, so an insert can land after a read that began later."""

TRIAL_PROJECTION = ["_id", "tid", "exp_key", "state", "result", "misc.vals", "book_time", "refresh_time",
                    "owner", "attempt", "requeues", "error", "version"]


@dataclass
class Reading:
    """One poll's worth of store contents: possibly changed trial docs, and the machinery's state."""

    docs: list[dict]
    full: bool
    """True when ``docs`` is everything in the store (the first read, or a file re-read)."""
    workers: list[dict] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)


class Source(Protocol):
    """What the dashboard reads from; implementations never write."""

    description: str
    """Where the data comes from, safe to show (no password)."""

    def read(self) -> Reading: ...

    def now(self) -> float:
        """The store's clock in Unix seconds: what liveness compares with the times its writers took."""
        ...

    def space_summary(self, exp_key: str | None) -> Summary | None:
        """The search's parameters and max_evals as the driver summarised them (plain data), or None."""
        ...

    def search_record(self, exp_key: str | None) -> dict | None: ...

    def exp_keys(self) -> list[str]:
        """Every exp_key of the store (read once, to tell a user which searches it holds)."""
        ...


class MongoSource:
    """A MongoDB store (the layout ``MongoTrials`` and ``sigopt-hyperopt worker`` write)."""

    def __init__(self, address: MongoAddress, exp_key: str | None = None, client: pymongo.MongoClient | None = None):
        self.address = address
        self.exp_key = exp_key
        self.description = address.redacted + (f" exp_key={exp_key}" if exp_key else "")
        self._client = client if client is not None else connect(address)
        self._db = self._client[address.database]
        self._jobs = self._db[address.collection]
        self._watermark: datetime.datetime | None = None
        self._max_tid: int | None = None
        self._active_ids: list[Any] = []
        self._claims_mark: datetime.datetime | None = None
        self._server_clock = ServerClock(self._db)
        self._clock_offset = 0.0

    def close(self) -> None:
        self._client.close()

    def read(self) -> Reading:
        scope: dict[str, Any] = {"exp_key": self.exp_key} if self.exp_key is not None else {}
        full = self._max_tid is None
        if full:
            query = scope
        else:
            changed: list[dict[str, Any]] = [{"state": {"$in": [JOB_STATE_NEW, JOB_STATE_RUNNING]}},
                                             {"tid": {"$gt": self._max_tid}}]
            if self._watermark is not None:
                changed.append({"refresh_time": {"$gte": self._watermark - CLOCK_SLACK}})
            if self._active_ids:
                changed.append({"_id": {"$in": self._active_ids}})
            query = {**scope, "$or": changed}
        docs = list(self._jobs.find(query, projection=TRIAL_PROJECTION))
        self._clock_offset = self._server_clock.offset().total_seconds()  # read again every few minutes
        workers = list(self._db[WORKERS_COLLECTION].find({}))
        # Claims only grow (one per attempt of every job): after the first read, only recent ones.
        recent = {} if self._claims_mark is None else {"at": {"$gte": self._claims_mark - CLAIMS_SLACK}}
        claims_read_at = self._server_clock.now()
        claims = list(self._db[CLAIMS_COLLECTION].find(recent, projection=["_id", "job", "owner", "at"]))
        self._advance(docs)
        self._claims_mark = claims_read_at  # claims are stamped by the same (server) clock
        return Reading(docs=docs, full=full, workers=workers, claims=claims)

    def now(self) -> float:
        """The database server's clock, as workers and drivers write it (see :mod:`sigopt_hyperopt.mongo.clock`).

        This machine's clock may be off: a worker whose registration expires in 30 s by the server's
        clock looks dead to a dashboard whose clock runs a minute fast.  The offset is measured while
        reading, so this never waits on the database (the last offset holds while it is down).
        """
        return time.time() + self._clock_offset

    def _advance(self, docs: list[dict]) -> None:
        """Move the cursors past what was just read (only after the read succeeded)."""
        tids = [int(d["tid"]) for d in docs if d.get("tid") is not None]
        self._max_tid = max([self._max_tid if self._max_tid is not None else -1, *tids])
        times = [d["refresh_time"] for d in docs if isinstance(d.get("refresh_time"), datetime.datetime)]
        if times:
            newest = max(times)
            self._watermark = newest if self._watermark is None else max(self._watermark, newest)
        self._active_ids = [d["_id"] for d in docs if d.get("state") in (JOB_STATE_NEW, JOB_STATE_RUNNING)]

    def _attachment(self, name: str, exp_key: str | None) -> bytes | None:
        query = {"exp_key": exp_key} if exp_key is not None else {}
        try:
            return gridfs.GridFS(self._db).get_last_version(filename=name, **query).read()
        except gridfs.errors.NoFile:
            return None

    def space_summary(self, exp_key: str | None) -> Summary | None:
        return decode_summary(self._attachment(SPACE_KEY, exp_key))

    def search_record(self, exp_key: str | None) -> dict | None:
        blob = self._attachment(SEARCH_KEY, exp_key)
        return _json_record(blob)

    def exp_keys(self) -> list[str]:
        return sorted(str(key) for key in self._jobs.distinct("exp_key") if key is not None)


class PickleSource:
    """A ``Trials`` object saved with pickle (``trials_save_file``, or by hand); re-read when it changes.

    Unpickling runs code from the file: open only files you trust, as with ``pickle.load``.
    """

    def __init__(self, path: str | os.PathLike, exp_key: str | None = None):
        self.path = Path(path)
        self.exp_key = exp_key
        self.description = str(self.path)
        self._seen: tuple[float, int] | None = None
        self._trials: Any = None

    def read(self) -> Reading:
        stat = self.path.stat()
        signature = (stat.st_mtime, stat.st_size)
        if signature == self._seen:
            return Reading(docs=[], full=False)
        with open(self.path, "rb") as handle:
            trials = pickle.load(handle)
        self._seen, self._trials = signature, trials
        docs = list(getattr(trials, "_dynamic_trials", None) or trials.trials)
        if self.exp_key is not None:
            docs = [d for d in docs if d.get("exp_key") == self.exp_key]
        return Reading(docs=docs, full=True)

    def now(self) -> float:
        """This machine's clock: a trials file is written by a process on the machine that saves it."""
        return time.time()

    def space_summary(self, exp_key: str | None) -> Summary | None:
        return decode_summary(self._attachments().get(SPACE_KEY))

    def search_record(self, exp_key: str | None) -> dict | None:
        return _json_record(self._attachments().get(SEARCH_KEY))

    def _attachments(self) -> Any:
        attachments = getattr(self._trials, "attachments", None)
        return attachments if hasattr(attachments, "get") else {}

    def exp_keys(self) -> list[str]:
        docs = list(getattr(self._trials, "_dynamic_trials", None) or getattr(self._trials, "trials", None) or [])
        return sorted({str(d["exp_key"]) for d in docs if d.get("exp_key") is not None})


def _json_record(blob: Any) -> dict | None:
    if blob is None:
        return None
    try:
        record = json.loads(blob.decode() if isinstance(blob, bytes) else blob)
    except (ValueError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None
