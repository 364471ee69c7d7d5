"""Riding out database outages: store operations retried with backoff, bounded in time.

An operation whose connection drops is retried only while the drop looks like an outage.  A server
can also refuse an operation by closing the connection on it (FerretDB does so for a NaN) while it
answers everything else; retrying that for the whole tolerance would make a worker give up and
leave its job RUNNING, so an operation that loses its connection :data:`REFUSALS` times in a row,
with the server answering a ping after each, fails at once with :class:`RefusedOperationError`.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from typing import Any, Callable, TypeVar

import pymongo.errors

from ..errors import DatabaseError, RefusedOperationError

logger = logging.getLogger(__name__)

OUTAGE_TOLERANCE_S = 120.0
"""How long a running search waits for a database that went away before giving up."""

REFUSALS = 3
"""Times in a row one operation may lose its connection while the server answers a ping right
after, before it counts as refused (a lost reply or a restart loses it once or twice, not thrice)."""

T = TypeVar("T")


def insert_ignoring_duplicates(collection: Any, documents: list[dict]) -> None:
    """Insert a batch whose earlier try may have gone through: documents already there (same
    ``_id``) are skipped, any other refusal is raised."""
    if not documents:
        return
    try:
        collection.insert_many(documents, ordered=False)
    except pymongo.errors.BulkWriteError as error:
        if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
            raise


def survives_outages(method: Callable[..., T]) -> Callable[..., T]:
    """Retry a store operation while the database is unreachable, with jittered exponential backoff.

    Bounded by the ``outage_tolerance`` of the object the method belongs to (default
    :data:`OUTAGE_TOLERANCE_S`); then a :class:`DatabaseError` says what happened. Only connection
    failures are retried, never a refused operation (an error answer, or a connection the server
    keeps closing on this operation alone: :class:`RefusedOperationError`).
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        tolerance = float(getattr(args[0], "outage_tolerance", OUTAGE_TOLERANCE_S)) if args else OUTAGE_TOLERANCE_S
        deadline = time.monotonic() + tolerance
        delay = 0.2
        refusals = 0
        while True:
            try:
                return method(*args, **kwargs)
            except pymongo.errors.ConnectionFailure as error:
                refusals = refusals + 1 if _server_answers(args[0] if args else None) else 0
                if refusals >= REFUSALS:
                    raise RefusedOperationError(
                        f"The database closed the connection on {method.__name__} {refusals} times in a row while "
                        "answering pings: it refuses that operation (FerretDB does so for values it cannot store, "
                        "such as NaN); retrying cannot help."
                    ) from None
                if time.monotonic() + delay > deadline:
                    raise DatabaseError(
                        f"The database stayed unreachable for {tolerance:.0f} s during {method.__name__}: "
                        f"{type(error).__name__}. Restart it; finished trials are safe in it."
                    ) from None
                logger.warning("%s during %s; retrying in %.1f s",
                               "connection closed (the server answers pings)" if refusals else "database unreachable",
                               method.__name__, delay)
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)

    return wrapper


def _server_answers(owner: Any) -> bool:
    """True if the server of ``owner``'s client (a ``MongoJobs`` or ``MongoTrials``) answers a ping."""
    for holder in (owner, getattr(owner, "handle", None)):
        client = getattr(getattr(holder, "db", None), "client", None)
        if isinstance(client, pymongo.MongoClient):
            try:
                client.admin.command("ping")
                return True
            except pymongo.errors.PyMongoError:
                return False
    return False
