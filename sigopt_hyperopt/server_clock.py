"""The database server's clock, for every time that decides liveness.

A job's ``refresh_time``, a worker's ``expires`` and the cutoff that declares a job stale are
compared across machines.  Taken from each machine's own clock, a worker whose clock runs 90 s slow
writes heartbeats that look 90 s old, and another worker requeues its live job.  All of them are
taken from the database server's clock instead: its time is read (``hello``'s ``localTime``, which
MongoDB and FerretDB both return), the offset to the local clock kept, and read again every few
minutes to follow drift.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import Any

logger = logging.getLogger(__name__)

RESYNC_S = 300.0
"""How long a measured offset is trusted before the server's time is read again."""


class ServerClock:
    """``now()``: the database server's current UTC time (naive, millisecond precision, as BSON keeps it)."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self._offset: datetime.timedelta | None = None
        self._measured_at = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime.datetime:
        if self._offset is None or time.monotonic() - self._measured_at > RESYNC_S:
            self._measure()
        assert self._offset is not None
        return _to_millis(_local_utcnow() + self._offset)

    def offset(self) -> datetime.timedelta:
        """Server time minus local time (positive when this machine's clock is behind)."""
        self.now()
        assert self._offset is not None
        return self._offset

    def _measure(self) -> None:
        with self._lock:
            before = _local_utcnow()
            started = time.monotonic()
            server_time = self._db.command("hello").get("localTime")
            round_trip = time.monotonic() - started
            if not isinstance(server_time, datetime.datetime):
                logger.warning("the database server does not report its time; using this machine's clock")
                self._offset = datetime.timedelta(0)
            else:
                local_at_answer = before + datetime.timedelta(seconds=round_trip / 2)
                self._offset = server_time.replace(tzinfo=None) - local_at_answer
                if abs(self._offset.total_seconds()) > 5:
                    logger.warning("this machine's clock differs from the database server's by %.1f s; "
                                   "liveness uses the server's", self._offset.total_seconds())
            self._measured_at = time.monotonic()


def _local_utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _to_millis(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
