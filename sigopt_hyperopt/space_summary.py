"""What a viewer needs to draw a search's parameters, stored with the search as plain JSON.

hyperopt keeps a MongoDB search's space only inside the pickled ``Domain`` its workers load, and
unpickling runs whatever code the pickle names: anyone who can write the database could run code on
the machine of whoever views the search.  Workers must trust the database (they run the objective
it names); a viewer need not.  So the driver also stores, when the search starts, this summary of
the space: per parameter its label, whether it is numeric or a choice (with the options' labels),
log-scaled, and conditional; and the search's own ``max_evals`` (hyperopt keeps it nowhere), so a
viewer shows each search's progress against its own total.  The dashboard and ``report`` read only
this, through :func:`decode_summary`, which takes nothing it did not check.  A search stored without
it (by an older version, or with a space the SigOpt translation cannot read) is shown with axes
guessed from the values.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

from .errors import SigOptHyperoptError
from .option_labels import option_labels
from .space import Parameter, choice_options, translate

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
    options = choice_options(space)
    parameters = []
    for parameter in translated.parameters:
        if parameter.kind == "fixed":
            continue
        conditional = not any(len(alternative) == 0 for alternative in parameter.active_when)
        choice = parameter.is_choice or parameter.kind in ("categorical", "conditional")
        parameters.append({"label": parameter.label, "kind": "categorical" if choice else "numeric",
                           "log": bool(parameter.log) and not choice,
                           "categories": _readable(parameter, options.get(parameter.label)) if choice else [],
                           "conditional": conditional})
    return parameters


def _readable(parameter: Parameter, options: list[Any] | None) -> list[str]:
    """The options' labels: SigOpt's names when they are the options' own text or numbers, else a
    rendering of each option (SigOpt names other options by their index, which tells a reader nothing)."""
    indices = [str(i) for i in range(len(parameter.categories))]
    if options is None or len(options) != len(parameter.categories) or list(parameter.categories) != indices:
        return list(parameter.categories)
    return option_labels(options)


@dataclass(frozen=True)
class Summary:
    """What a viewer takes from a stored summary; either part may be missing."""

    parameters: list[dict[str, Any]] | None
    """One dict per parameter (label, kind, log, categories, conditional); None: guess the axes."""
    max_evals: int | None = None
    """The ``max_evals`` the search's driver ran with (the latest run's); None when it had none."""
    metrics: list[dict[str, Any]] | None = None
    """A multimetric search's declaration: one dict per metric (name, objective, strategy, threshold);
    None for the ordinary single-loss search."""


def encode(parameters: list[dict[str, Any]] | None, max_evals: int | None = None,
           metrics: list[dict[str, Any]] | None = None) -> bytes:
    data: dict[str, Any] = {"version": VERSION, "parameters": parameters}
    if max_evals is not None:
        data["max_evals"] = max_evals
    if metrics:
        data["metrics"] = metrics
    return json.dumps(data, separators=(",", ":")).encode()


def _stored_data(attachments: Any) -> dict[str, Any] | None:
    try:
        blob = attachments[SPACE_KEY]
    except KeyError:
        return None
    try:
        data = json.loads(blob.decode() if isinstance(blob, bytes) else blob)
    except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
        return None
    return data if isinstance(data, dict) and data.get("version") == VERSION else None


def stored_metrics(attachments: Any) -> list[dict[str, Any]] | None:
    """The metric declaration a search's summary holds (checked), or None."""
    data = _stored_data(attachments)
    return _checked_metrics(data.get("metrics")) if data is not None else None


def store_metrics(attachments: Any, space: Any, metrics: list[dict[str, Any]]) -> None:
    """Put a multimetric search's declaration into its summary (written by the driver when the
    search opens), keeping what the summary already says; a search without one gets one."""
    data = _stored_data(attachments)
    if data is not None and data.get("metrics") == metrics:
        return
    if data is None:
        try:
            parameters = describe(space)
        except Exception as error:  # the summary only helps viewers
            logger.warning("the search space could not be summarised for viewers (%s: %s)", type(error).__name__, error)
            parameters = None
        max_evals = None
    else:
        parameters, max_evals = data.get("parameters"), data.get("max_evals")
    attachments[SPACE_KEY] = encode(parameters, max_evals, metrics)


def _checked_metrics(metrics: Any) -> list[dict[str, Any]] | None:
    if not isinstance(metrics, list) or not metrics or len(metrics) > MAX_PARAMETERS:
        return None
    checked = []
    for metric in metrics:
        if not (isinstance(metric, dict) and isinstance(metric.get("name"), str)
                and metric.get("objective") in ("minimize", "maximize")
                and metric.get("strategy") in ("optimize", "constraint")
                and (metric.get("threshold") is None or (isinstance(metric["threshold"], (int, float))
                                                         and not isinstance(metric["threshold"], bool)))):
            logger.info("the stored metric declaration is not one this version reads; it is left out")
            return None
        checked.append({key: metric.get(key) for key in ("name", "objective", "strategy", "threshold")})
    return checked


def decode_summary(blob: Any) -> Summary | None:
    """A stored summary, or None when it is missing or not JSON; a part not exactly as :func:`encode`
    writes it is left out (None)."""
    if blob is None:
        return None
    try:
        data = json.loads(blob.decode() if isinstance(blob, bytes) else blob)
    except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
        logger.info("the stored space summary is not JSON; axes are guessed")
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        logger.info("the stored space summary is not one this version reads; axes are guessed")
        return None
    max_evals = data.get("max_evals")
    if not (isinstance(max_evals, int) and not isinstance(max_evals, bool) and max_evals > 0):
        max_evals = None
    metrics = _checked_metrics(data.get("metrics")) if "metrics" in data else None
    parameters = data.get("parameters")
    if parameters is None:  # the driver could not summarise its space; its max_evals still counts
        return Summary(None, max_evals, metrics)
    if not isinstance(parameters, list) or len(parameters) > MAX_PARAMETERS or not all(map(_valid, parameters)):
        logger.info("the stored space summary is not one this version reads; axes are guessed")
        return Summary(None, max_evals, metrics)
    return Summary([{key: parameter[key] for key in ("label", "kind", "log", "categories", "conditional")}
                    for parameter in parameters], max_evals, metrics)


def _valid(parameter: Any) -> bool:
    return (isinstance(parameter, dict) and isinstance(parameter.get("label"), str)
            and parameter.get("kind") in KINDS and isinstance(parameter.get("log"), bool)
            and isinstance(parameter.get("conditional"), bool) and isinstance(parameter.get("categories"), list)
            and all(isinstance(c, str) for c in parameter["categories"]))


def store_summary(attachments: Any, space: Any, max_evals: int | None = None) -> None:
    """Write the space's summary and the run's ``max_evals`` next to the pickled domain.

    Each run of the driver writes it again, so a search continued with a larger ``max_evals`` shows
    the new total (``sys.maxsize``, hyperopt's "no limit", is not stored).  A failure to summarise
    never stops the search: the summary only helps viewers.
    """
    if max_evals is not None and not 0 < max_evals < sys.maxsize:
        max_evals = None
    try:
        parameters = describe(space)
    except Exception as error:  # an exotic space the translation trips on: the search itself is fine
        logger.warning("the search space could not be summarised for viewers (%s: %s)", type(error).__name__, error)
        parameters = None
    metrics = stored_metrics(attachments)  # written when the search opened (store_metrics); kept across runs
    if parameters is not None or max_evals is not None or metrics:
        attachments[SPACE_KEY] = encode(parameters, max_evals, metrics)
