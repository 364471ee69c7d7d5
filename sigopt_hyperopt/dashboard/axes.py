"""How to draw each hyperparameter: a log axis, a numeric axis or categories with their labels.

From the search space when it is known: the summary the driver stored with the search (plain data,
see :mod:`sigopt_hyperopt.space_summary`), or a space the user names, through the same SigOpt
translation (which knows which labels are log-scaled and what each choice's options are); otherwise
guessed from the values seen, and marked as guessed.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

from ..space_summary import describe

logger = logging.getLogger(__name__)

LOG_GUESS_RATIO = 100.0
"""Positive values spanning more than this factor are drawn on a log axis when the space is unknown."""


@dataclass(frozen=True)
class Axis:
    """One hyperparameter as the page draws it."""

    label: str
    kind: str
    """``numeric`` or ``categorical``."""
    log: bool = False
    categories: tuple[str, ...] = ()
    conditional: bool = False
    """Active only under some choices: its plots show only the trials where it is active."""
    guessed: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def axes_from_space(space: Any) -> list[Axis] | None:
    """Axes from a hyperopt space or ``Domain`` the user gave; None when the space cannot be translated."""
    parameters = describe(space)
    return axes_from_summary(parameters) if parameters is not None else None


def axes_from_summary(parameters: list[dict[str, Any]]) -> list[Axis]:
    """Axes from a stored summary (already checked by :func:`sigopt_hyperopt.space_summary.decode`)."""
    return [Axis(p["label"], p["kind"], log=p["log"], categories=tuple(p["categories"]), conditional=p["conditional"])
            for p in parameters]


def guess_axes(values_by_label: Mapping[str, Iterable[Any]]) -> list[Axis]:
    """Axes from the values alone: strings are categories; a wide positive range gets a log axis."""
    axes = []
    for label, raw in sorted(values_by_label.items()):
        values = [v for v in raw if v is not None]
        if any(isinstance(v, str) for v in values):
            axes.append(Axis(label, "categorical", categories=tuple(sorted({str(v) for v in values})), guessed=True))
            continue
        numbers = [float(v) for v in values]
        log = bool(numbers) and min(numbers) > 0 and max(numbers) / min(numbers) > LOG_GUESS_RATIO
        axes.append(Axis(label, "numeric", log=log, guessed=True))
    return axes


def category_label(axis: Axis | None, value: Any) -> Any:
    """A choice's option label for the index hyperopt stores (the index itself when unknown)."""
    if axis is None or axis.kind != "categorical" or isinstance(value, str):
        return value
    try:
        return axis.categories[int(value)]
    except (IndexError, ValueError, TypeError):
        return value
