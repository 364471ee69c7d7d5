"""Non-finite floats (NaN, ±inf) in a trial's result, stored in a form every MongoDB-wire server accepts.

An objective may return a NaN or an infinite loss, and hyperopt treats that as a trial like any
other (SigOpt gets a failed observation).  MongoDB stores such doubles, but FerretDB 1.x closes the
connection on a NaN and refuses ±inf with an error, so a worker that wrote them as they are lost
its job (or, for a NaN, took the refusal for an outage).  So a result is written through
:func:`encode_result`, which turns every non-finite float, however deeply nested, into
``{"__nonfinite__": "nan" | "inf" | "-inf"}``, and the driver reads it back through
:func:`decode` (both applied to whole job documents by :mod:`.stored_form`).  A reader that does not decode sees a dict where the number was: it cannot
take it for a finite loss, so such a trial still counts as failed.
"""

from __future__ import annotations

import math
from typing import Any

MARK = "__nonfinite__"
_VALUES = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def encode_result(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its mark (lists, tuples and dicts walked)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {MARK: "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, dict):
        return {key: encode_result(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_result(item) for item in value]
    return value


def decode(value: Any) -> Any:
    """The inverse of :func:`encode_result` (a tuple comes back as a list, as from any BSON read)."""
    if isinstance(value, dict):
        if len(value) == 1 and value.get(MARK) in _VALUES:
            return _VALUES[value[MARK]]
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value
