"""What the package keeps in GridFS and beside it: attachments written safely, reported marks."""

from __future__ import annotations

from typing import Any, Callable

import gridfs
import gridfs.errors
import pymongo
import pymongo.errors

from .outages import OUTAGE_TOLERANCE_S, insert_ignoring_duplicates, survives_outages

REPORTED_COLLECTION = "sigopt_reported"
"""One document per evaluation reported to a SigOpt experiment (its identity is the ``_id``)."""


class DurableAttachments:
    """``MongoTrials.attachments``: hyperopt's GridFS files (by name and ``exp_key``), riding out outages.

    A write puts the new version first and deletes the older ones after (hyperopt deletes first): a
    crash between the two leaves two versions, and a read takes the newest, so the search's record
    is never lost.
    """

    def __init__(self, gfs: gridfs.GridFS, exp_key: str | None, outage_tolerance: float = OUTAGE_TOLERANCE_S,
                 before_write: Callable[[str], None] | None = None) -> None:
        self._gfs = gfs
        self._query = {"exp_key": exp_key} if exp_key else {}
        self.outage_tolerance = outage_tolerance
        self._before_write = before_write or (lambda name: None)
        """Called before every write with the attachment's name: the driver's fence (see fence.py)."""

    @survives_outages
    def __contains__(self, name: str) -> bool:
        return self._gfs.exists(filename=name, **self._query)

    @survives_outages
    def __getitem__(self, name: str) -> Any:
        try:
            return self._gfs.get_version(filename=name, **self._query).read()
        except gridfs.errors.NoFile:
            raise KeyError(name) from None

    def __setitem__(self, name: str, value: Any) -> None:
        self._before_write(name)
        self._put(name, value)

    @survives_outages
    def _put(self, name: str, value: Any) -> None:
        older = [f._id for f in self._gfs.find({"filename": name, **self._query})]
        self._gfs.put(value, filename=name, encoding="utf-8", **self._query)
        for file_id in older:
            self._gfs.delete(file_id)

    def __delitem__(self, name: str) -> None:
        self._before_write(name)
        self._delete(name)

    @survives_outages
    def _delete(self, name: str) -> None:
        files = [f._id for f in self._gfs.find({"filename": name, **self._query})]
        if not files:
            raise KeyError(name)
        for file_id in files:
            self._gfs.delete(file_id)

    @survives_outages
    def version(self, name: str) -> Any:
        """The id of the newest file of this name: a new id means new contents (a worker's domain cache)."""
        newest = self._gfs.find_one({"filename": name, **self._query}, sort=[("uploadDate", pymongo.DESCENDING)])
        if newest is None:
            raise KeyError(name)
        return newest._id

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
        from ..store import ObservationId

        self._index()
        found = self._collection.find({"experiment": experiment, "search": search}, projection=["_id"])
        return {ObservationId.parse(doc["_id"]) for doc in found}

    @survives_outages
    def add(self, marks: list[Any]) -> None:
        self._index()
        documents = [{"_id": str(m), "experiment": m.experiment, "search": m.search, "tid": m.trial,
                      "attempt": m.attempt} for m in marks]
        insert_ignoring_duplicates(self._collection, documents)

    def _index(self) -> None:
        if not self._indexed:
            self._collection.create_index([("experiment", pymongo.ASCENDING), ("search", pymongo.ASCENDING)])
            self._indexed = True
