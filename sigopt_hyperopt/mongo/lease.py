"""One driver per search: a lease in the database that a running driver renews.

Two drivers on one ``exp_key`` corrupt each other (each refills the queue, orphaned suggestions, one
trial-id counter), so ``MongoTrials.fmin`` takes the search's lease first: a document whose ``_id``
names the job collection and the ``exp_key``, holding the driver's host, pid and an expiry (the
database server's time).  A second driver is refused at once, told which driver holds the search.
A driver that died stops renewing: once its lease expired, the next driver takes the search over
(at once, when the dead driver ran on the same machine and its process is gone).
Taking over is a unique-key insert on the lease's next generation, so two drivers taking over at
the same moment cannot both win (the rule the job claims follow, see jobs.py).

The lease document is advisory (who runs the search, until when; workers read it to decide whether
to log changes); the generation claims decide.  A driver has lost the search exactly when the claim
on the generation after its own exists, and everything it writes is fenced by its generation
(fence.py), so a driver that was paused past its lease's expiry cannot write once another took over.
"""

from __future__ import annotations

import datetime
import logging
import os
import secrets
import socket
import threading
from typing import Any

import pymongo.errors

from ..errors import SearchBusyError

logger = logging.getLogger(__name__)

DRIVERS_COLLECTION = "drivers"
LEASE_CLAIMS_COLLECTION = "driver_claims"

LEASE_SECONDS = 30.0
"""How long a lease lasts without renewal; a running driver renews it every third of that."""


class DriverLease:
    """``with DriverLease(jobs, exp_key):`` holds the search, or raises :class:`SearchBusyError`."""

    def __init__(self, jobs: Any, exp_key: str | None, seconds: float = LEASE_SECONDS) -> None:
        self._jobs = jobs
        self._collection = jobs.db[DRIVERS_COLLECTION]
        self.key = f"{jobs.jobs.name}/{exp_key}"
        self.exp_key = exp_key
        self.seconds = float(seconds)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lost: str | None = None
        self.generation = 0
        """The lease generation this driver holds (1 for a search's first driver, +1 per take-over)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "DriverLease":
        self.acquire()
        self._thread = threading.Thread(target=self._keep, name=f"lease-{self.key}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:  # kept, expired, so the next driver's take-over claims a new generation
            self._collection.update_one({"_id": self.key, "holder": self.holder},
                                        {"$set": {"holder": None, "expires": self._jobs.now()}})
        except pymongo.errors.PyMongoError as error:  # it expires by itself
            logger.warning("could not release the lease of search %r: %s", self.exp_key, type(error).__name__)

    def acquire(self) -> None:
        now = self._jobs.now()
        mine = {"holder": self.holder, "host": socket.gethostname(), "pid": os.getpid(),
                "expires": now + datetime.timedelta(seconds=self.seconds)}
        current = self._collection.find_one({"_id": self.key})
        if current is None:
            try:
                self._collection.insert_one({"_id": self.key, "generation": 1, **mine})
                self.generation = 1
                return
            except pymongo.errors.DuplicateKeyError:
                current = self._collection.find_one({"_id": self.key}) or {}
        if current.get("holder") == self.holder:
            self.generation = int(current.get("generation", 1))
            return
        if current.get("expires") and current["expires"] > now and not self._died_here(current):
            raise SearchBusyError(
                f"Search {self.exp_key!r} is being run by another driver: host {current.get('host')}, pid "
                f"{current.get('pid')} (its lease runs to {current['expires']:%H:%M:%S} UTC and is renewed while it "
                f"runs). Stop that driver, or use another exp_key. If it died, start again after {self.seconds:.0f} s: "
                "its lease expires and this driver takes the search over."
            )
        generation = int(current.get("generation", 1)) + 1
        try:
            self._jobs.db[LEASE_CLAIMS_COLLECTION].insert_one({"_id": f"{self.key}/{generation}", "holder": self.holder})
        except pymongo.errors.DuplicateKeyError:
            raise SearchBusyError(f"Another driver is taking search {self.exp_key!r} over right now; it runs the "
                                  "search. Stop it, or use another exp_key.") from None
        self.generation = generation
        self._collection.replace_one({"_id": self.key}, {"generation": generation, **mine}, upsert=True)
        logger.warning("took search %r over from driver %s (host %s, pid %s), whose lease expired at %s",
                       self.exp_key, current.get("holder"), current.get("host"), current.get("pid"), current.get("expires"))

    @staticmethod
    def _died_here(lease: dict) -> bool:
        """The holder ran on this machine and its process is gone: a driver restarted after a crash
        takes its search over at once instead of waiting for the lease to expire.  (A reused pid
        counts as alive: then the lease's expiry decides, the safe way.)"""
        if lease.get("host") != socket.gethostname() or not isinstance(lease.get("pid"), int):
            return False
        try:
            os.kill(lease["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def renew(self) -> None:
        expires = self._jobs.now() + datetime.timedelta(seconds=self.seconds)
        renewed = self._collection.update_one({"_id": self.key, "holder": self.holder}, {"$set": {"expires": expires}})
        if renewed.matched_count == 0:
            if self.taken_over():
                current = self._collection.find_one({"_id": self.key}) or {}
                self.lost = (f"Search {self.exp_key!r} was taken over by another driver (host {current.get('host')}, "
                             f"pid {current.get('pid')}) while this one could not renew its lease; stopping this "
                             "driver.")
            else:  # the document lost an update (not atomic on FerretDB): nobody took over, so it is still ours
                self._collection.replace_one({"_id": self.key}, {
                    "generation": self.generation, "holder": self.holder, "host": socket.gethostname(),
                    "pid": os.getpid(), "expires": expires}, upsert=True)

    def taken_over(self) -> bool:
        """Whether another driver claimed the generation after this one (what decides, see the module)."""
        claim = self._jobs.db[LEASE_CLAIMS_COLLECTION].find_one({"_id": f"{self.key}/{self.generation + 1}"})
        return claim is not None and claim.get("holder") != self.holder

    def check(self) -> None:
        """Raise in the driver's loop once the lease is lost: two drivers must never run together."""
        if self.lost:
            raise SearchBusyError(self.lost)

    def _keep(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except pymongo.errors.PyMongoError as error:  # retried at the next period; expiry is the bound
                logger.warning("could not renew the lease of search %r: %s", self.exp_key, type(error).__name__)
            if self.lost:
                return
