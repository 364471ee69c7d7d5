"""What a viewer needs to draw a search's parameters, stored with the search as plain JSON.

hyperopt keeps a MongoDB search's space only inside the pickled ``Domain`` its workers load, and
unpickling runs whatever code the pickle names: anyone who can write the database could run code on
the machine of whoever views the search.  Workers must trust the database (they run the objective
it names); a viewer need not.  So the driver also stores, when the search starts, this summary of
the space: per parameter its label, whether it is numeric or a choice (with the options' labels),
log-scaled, and conditional.  The dashboard and ``report`` read only this, through :func:`decode`,
which takes nothing it did not check.  A search stored without it (by an older version, or with a
space the SigOpt translation cannot read) is shown with axes guessed from the values.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .errors import SigOptHyperoptError
from .space import translate

logger = logging.getLogger(__name__)

SPACE_KEY = "sigopt_hyperopt.space"
"""The attachment (a GridFS file of the search's ``exp_key`` under ``MongoTrials``) holding the summary."""

VERSION = 1
KINDS = ("numeric", "categorical")
MAX_PARAMETERS = 10_000
"""More than this is no space anyone wrote: the record is taken as damaged."""


def describe(space: Any) -> list[dict[str, Any]] | None:
    """The summary of a hyperopt space (or ``Domain``): one dict per parameter; None when it cannot be read."""
    try:
        translated = translate(space)
    except SigOptHyperoptError as error:
        logger.info("the search space cannot be summarised (%s); viewers will guess its axes", error)
        return None
    parameters = []
    for parameter in translated.parameters:
        if parameter.kind == "fixed":
            continue
        conditional = not any(len(alternative) == 0 for alternative in parameter.active_when)
        choice = parameter.is_choice or parameter.kind in ("categorical", "conditional")
        parameters.append({"label": parameter.label, "kind": "categorical" if choice else "numeric",
                           "log": bool(parameter.log) and not choice, "categories": list(parameter.categories) if choice else [],
                           "conditional": conditional})
    return parameters


def encode(parameters: list[dict[str, Any]]) -> bytes:
    return json.dumps({"version": VERSION, "parameters": parameters}, separators=(",", ":")).encode()


def decode(blob: Any) -> list[dict[str, Any]] | None:
    """The parameters of a stored summary, or None when it is missing or not exactly what :func:`encode` writes."""
    if blob is None:
        return None
    try:
        data = json.loads(blob.decode() if isinstance(blob, bytes) else blob)
    except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
        logger.info("the stored space summary is not JSON; axes are guessed")
        return None
    parameters = data.get("parameters") if isinstance(data, dict) and data.get("version") == VERSION else None
    if not isinstance(parameters, list) or len(parameters) > MAX_PARAMETERS or not all(map(_valid, parameters)):
        logger.info("the stored space summary is not one this version reads; axes are guessed")
        return None
    return [{key: parameter[key] for key in ("label", "kind", "log", "categories", "conditional")}
            for parameter in parameters]


def _valid(parameter: Any) -> bool:
    return (isinstance(parameter, dict) and isinstance(parameter.get("label"), str)
            and parameter.get("kind") in KINDS and isinstance(parameter.get("log"), bool)
            and isinstance(parameter.get("conditional"), bool) and isinstance(parameter.get("categories"), list)
            and all(isinstance(c, str) for c in parameter["categories"]))


def store_summary(attachments: Any, space: Any) -> None:
    """Write the space's summary next to the pickled domain (nothing when it cannot be summarised).

    A failure to summarise never stops the search: the summary only helps viewers.
    """
    try:
        parameters = describe(space)
    except Exception as error:  # an exotic space the translation trips on: the search itself is fine
        logger.warning("the search space could not be summarised for viewers (%s: %s)", type(error).__name__, error)
        return
    if parameters is not None:
        attachments[SPACE_KEY] = encode(parameters)
