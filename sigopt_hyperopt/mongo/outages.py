"""Riding out database outages: store operations retried with backoff, bounded in time."""

from __future__ import annotations

import functools
import logging
import random
import time
from typing import Any, Callable, TypeVar

import pymongo.errors

from ..errors import DatabaseError

logger = logging.getLogger(__name__)

OUTAGE_TOLERANCE_S = 120.0
"""How long a running search waits for a database that went away before giving up."""

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
