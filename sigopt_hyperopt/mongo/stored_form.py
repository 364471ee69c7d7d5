"""Job documents in a form every MongoDB-wire server stores, and read back as they were written.

FerretDB 1.x refuses an array inside an array ("nested arrays are not supported") anywhere in a
document, and MongoDB does not.  hyperopt writes such values without a second thought: a trial's
attachment list is ``[[name, file id], ...]``, a spec may hold ``((1, 2, 3), {})``.  So

* a trial's attachments are stored one document each, ``{"name": ..., "file": ...}``
  (:func:`attachment_entries` reads both forms: jobs written by stock hyperopt on MongoDB keep working);
* every job document is written through :func:`encode_document`, which wraps each array that sits
  directly in an array as ``{"__array__": [...]}`` and marks non-finite floats (see :mod:`.nonfinite`),
  and read through :func:`decode_document`, which undoes both.  A tuple comes back as a list, as from
  any BSON read.  A reader that does not decode (stock hyperopt, a ``mongo`` shell) sees the wrapper.
"""

from __future__ import annotations

from typing import Any

from .nonfinite import decode, encode_result

ARRAY_MARK = "__array__"


def encode_document(value: Any) -> Any:
    """``value`` (a document, or any value in one) in the stored form."""
    return _wrap_arrays(encode_result(value), inside_array=False)


def decode_document(value: Any) -> Any:
    """The inverse of :func:`encode_document`."""
    return decode(_unwrap_arrays(value))


def _wrap_arrays(value: Any, inside_array: bool) -> Any:
    if isinstance(value, dict):
        return {key: _wrap_arrays(item, False) for key, item in value.items()}
    if isinstance(value, list):
        items = [_wrap_arrays(item, True) for item in value]
        return {ARRAY_MARK: items} if inside_array else items
    return value


def _unwrap_arrays(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(ARRAY_MARK), list):
            return [_unwrap_arrays(item) for item in value[ARRAY_MARK]]
        return {key: _unwrap_arrays(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap_arrays(item) for item in value]
    return value


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
