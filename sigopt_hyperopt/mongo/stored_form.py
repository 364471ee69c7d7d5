"""A trial's attachment list (``_attachments``) in a form every MongoDB-wire server stores.

hyperopt keeps a job's attachments as a list of ``[name, file id]`` pairs: an array of arrays, which
FerretDB refuses ("nested arrays are not supported"), so a result with ``attachments`` could not be
written at all.  This package stores one document per attachment, ``{"name": ..., "file": ...}``,
and reads both forms (jobs written by stock hyperopt on MongoDB keep working).
"""

from __future__ import annotations

from typing import Any


def attachment_entries(doc: dict) -> list[tuple[str, Any]]:
    """(name, GridFS file id) of each attachment of a job document, whichever form it was stored in."""
    entries = []
    for entry in doc.get("_attachments") or []:
        if isinstance(entry, dict):
            entries.append((entry["name"], entry["file"]))
        else:
            name, file_id = entry
            entries.append((name, file_id))
    return entries


def stored_attachments(entries: list[tuple[str, Any]]) -> list[dict]:
    """The ``_attachments`` value written for these (name, file id) pairs."""
    return [{"name": name, "file": file_id} for name, file_id in entries]
