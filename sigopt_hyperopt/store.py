"""The search's SigOpt bookkeeping, kept in the trials store itself.

The design rule: the trials store is the single source of truth.  Which engine and experiment a
search uses, and which trials were already reported to a remote experiment, live in
``trials.attachments`` (saved with ``trials_save_file``; GridFS-backed under ``MongoTrials``), so a
driver started again rebuilds everything from the store and reports nothing twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

SEARCH_KEY = "sigopt_hyperopt.search"
REPORTED_KEY = "sigopt_hyperopt.reported"


@dataclass(frozen=True)
class SearchRecord:
    """Which SigOpt experiment a set of trials belongs to, and the space it was created for."""

    engine: str
    experiment_id: str
    space_fingerprint: str
    api_url: str | None = None


class TrialsLedger:
    """Reads and writes the bookkeeping in ``trials.attachments`` (JSON, as bytes for GridFS)."""

    def __init__(self, trials: Any) -> None:
        self._attachments = trials.attachments

    def load(self) -> SearchRecord | None:
        data = self._read(SEARCH_KEY)
        return SearchRecord(**data) if data is not None else None

    def save(self, record: SearchRecord) -> None:
        self._write(SEARCH_KEY, asdict(record))

    def reported(self) -> set[int]:
        return set(self._read(REPORTED_KEY) or [])

    def mark_reported(self, key: int) -> None:
        """Record one more reported trial; written at once, so a crash loses at most this one mark."""
        reported = self.reported()
        reported.add(int(key))
        self._write(REPORTED_KEY, sorted(reported))

    def mark_reported_many(self, keys: Any) -> None:
        """Record several reported trials in one write (reconciling with the server's observations)."""
        keys = {int(k) for k in keys}
        if keys:
            self._write(REPORTED_KEY, sorted(self.reported() | keys))

    def _read(self, key: str) -> Any:
        try:
            raw = self._attachments[key]
        except KeyError:
            return None
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)

    def _write(self, key: str, value: Any) -> None:
        self._attachments[key] = json.dumps(value).encode()
