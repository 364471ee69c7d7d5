"""A short, readable label for each option of an ``hp.choice``, whatever the option is.

SigOpt names a choice's options by their text when every option is a distinct short string, and by
their index ("0", "1", ...) otherwise; an index tells a person looking at a plot nothing.  Viewers get
instead a short rendering of the option's expression: ``{n: 1}`` and ``{n: 2, width: hp.quniform}``
for dicts (a nested hyperparameter by its distribution), ``[relu, 3]`` for a list, ``None``, ``2.5``,
a function or class by its name.  Labels are cut at :data:`MAX_LABEL` characters and made distinct.
Pure: nothing is evaluated.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

from hyperopt import pyll

MAX_LABEL = 40
"""Longer renderings end with an ellipsis."""

MAX_DEPTH = 3
"""Containers nested deeper than this are shown as ``…``."""

_CASTS = ("float", "int")
"""Applies that only convert their one input (``hp.quniform`` is ``float(hyperopt_param(...))``)."""


def option_labels(options: Sequence[pyll.Apply]) -> list[str]:
    """One label per option, in order, all distinct."""
    labels = [_cut(_render(option, 0, top=True)) for option in options]
    return [label if labels.count(label) == 1 else f"{label} #{i}" for i, label in enumerate(labels)]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def _render(node: Any, depth: int, top: bool = False) -> str:
    if isinstance(node, pyll.Literal):
        return _literal(node.obj, top)
    name = getattr(node, "name", None)
    if name == "hyperopt_param":
        return f"hp.{node.arg['obj'].name}"
    if name == "switch" and node.pos_args and node.pos_args[0].name == "hyperopt_param":
        return "hp.choice"
    if name in _CASTS and len(node.pos_args) == 1 and not node.named_args:
        return _render(node.pos_args[0], depth)
    if depth >= MAX_DEPTH:
        return "…"
    if name == "dict":
        return "{" + ", ".join(f"{key}: {_render(value, depth + 1)}" for key, value in node.named_args) + "}"
    if name == "pos_args":
        return "[" + ", ".join(_render(item, depth + 1) for item in node.pos_args) + "]"
    return f"{name}(…)"


def _literal(value: Any, top: bool) -> str:
    if isinstance(value, str):
        return value if top else repr(value)
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_literal(item, False)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(item, False) for item in value) + "]"
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if isinstance(name, str):
        return name
    text = repr(value)
    return text if " at 0x" not in text and len(text) <= MAX_LABEL else type(value).__name__
