"""Trial ids unique across a database, allocated with unique-key claims.

hyperopt allocates ids with one ``findAndModify`` ``$inc`` on a counter (``job_ids``, ``{"a": 0}``).
FerretDB 1.x applies that as read-modify-write without a transaction, so drivers allocating at the
same moment can be handed the same ids.  Here every id is owned by inserting it as the ``_id`` of a
claim (atomic on every MongoDB-wire server); the counter only says where to start looking, and is
raised (``$max``) past the ids taken, so stock hyperopt drivers on the same database start after them.
"""

from __future__ import annotations

from typing import Any

import pymongo.errors

CLAIMS_COLLECTION = "trial_id_claims"
"""One document per allocated trial id (``_id`` = the id)."""

COUNTER_COLLECTION = "job_ids"
COUNTER_QUERY = {"a": 0}
"""hyperopt's counter document, in hyperopt's collection."""


def allocate_trial_ids(db: Any, n: int) -> list[int]:
    """``n`` trial ids no other caller (of this function) got, in increasing order."""
    if n <= 0:
        return []
    counter = db[COUNTER_COLLECTION].find_one(COUNTER_QUERY) or {}
    start = int(counter.get("last_id", 0))
    taken: list[int] = []
    while len(taken) < n:
        candidates = list(range(start, start + n - len(taken)))
        taken.extend(_claim(db[CLAIMS_COLLECTION], candidates))
        start = candidates[-1] + 1
    db[COUNTER_COLLECTION].update_one(COUNTER_QUERY, {"$max": {"last_id": start}}, upsert=True)
    return taken


def _claim(claims: Any, candidates: list[int]) -> list[int]:
    """The candidates this call inserted (one batch; ids another caller holds are refused)."""
    try:
        claims.insert_many([{"_id": tid} for tid in candidates], ordered=False)
        return candidates
    except pymongo.errors.BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        refused = {candidates[e["index"]] for e in errors}
        return [tid for tid in candidates if tid not in refused]
