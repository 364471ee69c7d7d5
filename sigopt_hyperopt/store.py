"""The search's SigOpt bookkeeping, kept in the trials store itself.

The design rule: the trials store is the single source of truth.  Which engine and experiment a
search uses, and which evaluations were already reported to a remote experiment, live with the
trials, so a driver started again rebuilds everything from the store and reports nothing twice.

Identities are explicit.  A search (one trials store, or one ``exp_key`` of a MongoDB store) gets a
random ``search_id`` when its record is first saved; an evaluation is an :class:`ObservationId`:
(experiment, search, trial id, attempt).  A trial id alone is not enough: two stores attached to one
experiment both have a trial 0, and a trial put back in the queue and evaluated again is a new
attempt.

Where the marks live: a trials object that offers ``reported_marks()`` (this package's
``MongoTrials``: one document per evaluation in a collection, an atomic insert each) keeps them
there; any other (``Trials``, ``SparkTrials``) keeps one small attachment per evaluation, saved with
the trials.  Either way a mark is one insert, never a rewrite of every earlier mark.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any, Iterable, Protocol

SEARCH_KEY = "sigopt_hyperopt.search"
LEGACY_REPORTED_KEY = "sigopt_hyperopt.reported"
"""Before identities: one JSON list of reported trial ids for the whole store (read, never written)."""
MARK_PREFIX = "sigopt_hyperopt.reported/"


def new_search_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class SearchRecord:
    """Which SigOpt experiment a set of trials belongs to, and the space it was created for.

    ``search_id`` names this store's search among everything reported to the experiment (other
    stores attached to the same experiment have their own).
    """

    engine: str
    experiment_id: str
    space_fingerprint: str
    api_url: str | None = None
    search_id: str | None = None
    metrics: list[dict] | None = None
    """A multimetric search's declaration (:func:`sigopt_hyperopt.metrics.declaration`); None for the
    single-loss search (and left out of the stored record, which then reads as before)."""


@dataclass(frozen=True, order=True)
class ObservationId:
    """One evaluation, as reported: (experiment, search, trial id, attempt)."""

    experiment: str
    search: str
    trial: int
    attempt: int = 0

    def __str__(self) -> str:
        return f"{self.experiment}/{self.search}/{self.trial}/{self.attempt}"

    @classmethod
    def parse(cls, text: str) -> "ObservationId":
        experiment, search, trial, attempt = text.rsplit("/", 3)
        return cls(experiment, search, int(trial), int(attempt))


class MarkStore(Protocol):
    """Where one store's reported marks are kept (see the module docstring)."""

    def marks(self, experiment: str, search: str) -> set[ObservationId]: ...

    def add(self, marks: list[ObservationId]) -> None: ...


class AttachmentMarks:
    """One attachment per reported evaluation: for trials kept in memory and pickled (``Trials``)."""

    def __init__(self, attachments: Any) -> None:
        self._attachments = attachments

    def marks(self, experiment: str, search: str) -> set[ObservationId]:
        found = set()
        for name in list(self._attachments.keys()):
            if name.startswith(MARK_PREFIX):
                mark = ObservationId.parse(name[len(MARK_PREFIX):])
                if mark.experiment == experiment and mark.search == search:
                    found.add(mark)
        return found

    def add(self, marks: list[ObservationId]) -> None:
        for mark in marks:
            self._attachments[MARK_PREFIX + str(mark)] = b"1"


class TrialsLedger:
    """Reads and writes the bookkeeping of one trials store.

    The set of reported marks is read from the store once per ledger and kept up to date by this
    ledger's own writes: one driver reports for a search at a time.
    """

    def __init__(self, trials: Any) -> None:
        self._attachments = trials.attachments
        own = getattr(trials, "reported_marks", None)
        self._store: MarkStore = own() if callable(own) else AttachmentMarks(trials.attachments)
        self._cache: dict[tuple[str, str], set[ObservationId]] = {}

    # -- the record --------------------------------------------------------------------------

    def load(self) -> SearchRecord | None:
        data = self._read(SEARCH_KEY)
        return SearchRecord(**data) if data is not None else None

    def save(self, record: SearchRecord) -> SearchRecord:
        """Store the record, giving it a search id if it has none; returns what was stored."""
        if record.search_id is None:
            record = replace(record, search_id=new_search_id())
        stored = asdict(record)
        if stored["metrics"] is None:
            del stored["metrics"]
        self._write(SEARCH_KEY, stored)
        return record

    # -- reported evaluations ----------------------------------------------------------------

    def reported(self, experiment: str, search: str) -> set[ObservationId]:
        key = (str(experiment), str(search))
        if key not in self._cache:
            self._cache[key] = self._store.marks(*key)
        return self._cache[key]

    def is_reported(self, mark: ObservationId) -> bool:
        return mark in self.reported(mark.experiment, mark.search) or self._legacy_covers(mark)

    def mark_reported(self, mark: ObservationId) -> None:
        """Record one reported evaluation; written at once, so a crash loses at most this one mark."""
        self.mark_reported_many([mark])

    def mark_reported_many(self, marks: Iterable[ObservationId]) -> None:
        new = sorted({m for m in marks if m not in self.reported(m.experiment, m.search)})
        if new:
            self._store.add(new)
            for mark in new:
                self._cache[(mark.experiment, mark.search)].add(mark)

    # -- stores written before identities ----------------------------------------------------

    def _legacy_covers(self, mark: ObservationId) -> bool:
        """A store written before identities listed reported trial ids of its one experiment.

        Such a record gets a search id when it is first loaded again; its old list still says which
        trials of that experiment and search were reported, whatever their attempt.
        """
        if not hasattr(self, "_legacy"):
            record = self.load()
            tids = self._read(LEGACY_REPORTED_KEY) or []
            self._legacy = (record.experiment_id, record.search_id, {int(t) for t in tids}) if record and tids else None
        if self._legacy is None:
            return False
        experiment, search, tids = self._legacy
        return mark.experiment == experiment and mark.search == search and mark.trial in tids

    # -- plumbing ----------------------------------------------------------------------------

    def _read(self, key: str) -> Any:
        try:
            raw = self._attachments[key]
        except KeyError:
            return None
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)

    def _write(self, key: str, value: Any) -> None:
        self._attachments[key] = json.dumps(value).encode()
