"""Translate hyperopt search spaces to SigOpt parameters and back.

Pure functions and frozen records, no I/O.  The rules (also in docs/space.md):

* ``uniform`` -> double; ``loguniform`` -> double with SigOpt's log transformation.
* ``normal`` -> double on mu +/- 4 sigma with a normal prior (mu, sigma); ``lognormal`` -> log
  double on exp(mu +/- 4 sigma) (SigOpt forbids priors on log-transformed parameters).
* ``quniform``/``qnormal`` (and ``uniformint``) -> int parameter ``k`` with value ``k * q``, over the
  multiples of q inside the bounds.  ``qloguniform``/``qlognormal`` -> a log-transformed grid of the
  multiples of q inside the bounds (at most :data:`MAX_GRID_SIZE` of them, log-spaced when there are
  more).  Nothing is ever a continuous range rounded afterwards.
* ``randint`` -> int parameter.
* ``choice``/``pchoice`` of at least :data:`MIN_ORDERED_OPTIONS` distinct numbers -> an ordered grid of
  those numbers (log-transformed when they are positive and more evenly spaced on a log scale), so the
  model sees that 32 lies between 16 and 64; hyperopt still gets the option's index.
* Other ``choice``/``pchoice`` with constant options -> categorical; the values are the option strings
  when every option is a distinct string, else the option indices.  A choice whose every option holds at
  least one hyperparameter -> a SigOpt conditional, and the hyperparameters below it carry conditions
  on every enclosing conditional.  ``pchoice`` probabilities are dropped with a warning.
* A label with exactly one possible value is *fixed*: SigOpt never sees it.

Values go both ways: :meth:`TranslatedSpace.to_idxs_vals` writes a trial's ``misc.idxs``/``misc.vals``
the way ``hyperopt.rand.suggest`` does (only active labels, choice indices, ints as ints), and
:meth:`TranslatedSpace.to_sigopt` turns a trial's values back into SigOpt assignments.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
from hyperopt import pyll
from hyperopt.pyll.base import Apply, MissingArgument

from .errors import UnsupportedSpaceError

NORMAL_BOUND_SIGMAS = 4.0
"""Unbounded normals are cut at mu +/- this many sigmas (99.994 % of the mass)."""

MAX_GRID_SIZE = 1000
"""Largest grid used for a quantized log-scale hyperparameter; longer ranges are log-thinned."""

MIN_ORDERED_OPTIONS = 3
"""A numeric choice needs this many options to become an ordered grid: two points have no order to
learn (a grid of two is the same model as two categories), so shorter choices stay categorical."""

MAX_CONDITIONAL_COMBINATIONS = 100_000
"""SigOpt checks every combination of conditional values; beyond this the space is refused."""

SIGOPT_NAME_MAX_LENGTH = 100

Assignments = dict[str, Any]
"""SigOpt assignments: parameter and conditional names to values."""

_TOLERANCE = 1e-9

FINGERPRINT_VERSION = "v2"
"""Prefix of :meth:`TranslatedSpace.fingerprint`; older stores hold an unprefixed, weaker digest."""


@dataclass(frozen=True)
class Parameter:
    """One hyperopt label and the SigOpt parameter (or conditional) that stands for it.

    ``kind`` is one of ``double``, ``int``, ``grid``, ``categorical``, ``conditional`` and ``fixed``.
    For ``int`` kinds with a ``q``, SigOpt's integer ``k`` means the hyperopt value ``k * q``.
    A numeric choice is a ``grid`` whose ``options`` are its numbers in hyperopt's order: SigOpt's
    value is the number, hyperopt's the index of that number in ``options`` (``categories`` holds the
    numbers as text, for displays).
    ``active_when`` is hyperopt's exact activity rule: a set of alternatives, each a set of
    (choice label, option index) pairs that must all hold; an empty alternative means "always".
    ``conditions`` is the SigOpt form of the same rule: a superset of it, because SigOpt can only say
    "conditional C takes one of these values" for each conditional.
    """

    label: str
    distribution: str
    kind: str
    active_when: frozenset[frozenset[tuple[str, int]]]
    low: float | int | None = None
    high: float | int | None = None
    q: float | None = None
    log: bool = False
    grid: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    prior: tuple[float, float] | None = None
    fixed_value: Any = None
    conditions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    options: tuple[float, ...] = ()

    @property
    def is_choice(self) -> bool:
        return self.distribution in ("choice", "pchoice")

    @property
    def in_sigopt(self) -> bool:
        return self.kind != "fixed"

    def sigopt_json(self) -> dict[str, Any]:
        """The SigOpt API form of this parameter (conditionals have their own, smaller form)."""
        if self.kind == "conditional":
            return {"name": self.label, "values": list(self.categories)}
        spec: dict[str, Any] = {"name": self.label}
        if self.kind == "categorical":
            spec["type"] = "categorical"
            spec["categorical_values"] = [{"name": c} for c in self.categories]
        elif self.kind == "grid":
            spec["type"] = "double"
            spec["grid"] = list(self.grid)
        else:
            spec["type"] = self.kind
            spec["bounds"] = {"min": self.low, "max": self.high}
        if self.log:
            spec["transformation"] = "log"
        if self.prior is not None:
            spec["prior"] = {"name": "normal", "mean": self.prior[0], "scale": self.prior[1]}
        if self.conditions:
            spec["conditions"] = {name: list(values) for name, values in self.conditions}
        return spec

    def to_hyperopt(self, sigopt_value: Any) -> Any:
        """SigOpt's value -> the value hyperopt keeps in ``misc.vals`` (indices for choices)."""
        if self.kind == "fixed":
            return self.fixed_value
        if self.options:
            return _nearest_index(self.options, float(sigopt_value), self.log)
        if self.is_choice:
            return self.categories.index(str(sigopt_value))
        if self.kind == "int":
            k = int(round(float(sigopt_value)))
            return float(k * self.q) if self.q is not None else k
        return float(sigopt_value)

    def to_sigopt(self, hyperopt_value: Any) -> Any:
        """A hyperopt value (from any source) -> the nearest value SigOpt accepts."""
        if self.options:
            return self.options[int(hyperopt_value)]
        if self.is_choice:
            return self.categories[int(hyperopt_value)]
        value = float(hyperopt_value)
        if self.kind == "int":
            k = round(value / self.q) if self.q is not None else round(value)
            return int(min(max(k, self.low), self.high))
        if self.kind == "grid":
            grid = np.asarray(self.grid)
            distance = np.abs(np.log(grid) - math.log(value)) if value > 0 else grid
            return float(grid[int(np.argmin(distance))])
        return float(min(max(value, self.low), self.high))

    def default_sigopt_value(self) -> Any:
        """A valid value for SigOpt when it requires one that hyperopt did not use (see to_sigopt)."""
        if self.options:
            return self.options[0]
        if self.categories:
            return self.categories[0]
        if self.kind == "grid":
            return self.grid[0]
        if self.prior is not None:
            return self.prior[0]
        if self.kind == "int":
            return int(self.low)
        if self.log:
            return float(math.sqrt(self.low * self.high))
        return float((self.low + self.high) / 2)


@dataclass(frozen=True)
class TranslatedSpace:
    """A hyperopt space as SigOpt sees it, with the conversions between the two."""

    parameters: tuple[Parameter, ...]
    _by_label: dict[str, Parameter] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_label", {p.label: p for p in self.parameters})

    def __getitem__(self, label: str) -> Parameter:
        return self._by_label[label]

    @property
    def labels(self) -> list[str]:
        return [p.label for p in self.parameters]

    @property
    def sigopt_parameters(self) -> list[dict[str, Any]]:
        return [p.sigopt_json() for p in self.parameters if p.in_sigopt and p.kind != "conditional"]

    @property
    def sigopt_conditionals(self) -> list[dict[str, Any]]:
        return [p.sigopt_json() for p in self.parameters if p.kind == "conditional"]

    @property
    def dimension(self) -> int:
        return sum(1 for p in self.parameters if p.in_sigopt)

    def fingerprint(self) -> str:
        """A digest of the whole translation, to tell whether a stored search used this space.

        It covers every field of every parameter, the hyperopt side included (distribution, quantum
        q, fixed values, activity): ``quniform(0, 100, 10)`` and ``quniform(0, 1000, 100)`` are both
        SigOpt ints 0..10, but a stored 3 means 30 in one and 300 in the other.
        """
        canonical = json.dumps([_canonical(p) for p in sorted(self.parameters, key=lambda p: p.label)],
                               sort_keys=True, default=repr)
        return f"{FINGERPRINT_VERSION}-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def legacy_fingerprint(self) -> str:
        """The digest stores written before :data:`FINGERPRINT_VERSION` hold (the SigOpt form only)."""
        canonical = json.dumps(
            {"parameters": self.sigopt_parameters, "conditionals": self.sigopt_conditionals},
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    # -- SigOpt -> hyperopt -------------------------------------------------------------------

    def to_hyperopt(self, assignments: Mapping[str, Any]) -> dict[str, Any]:
        """SigOpt assignments -> {label: value} for the labels active under the chosen branches."""
        values: dict[str, Any] = {}
        for parameter in self.parameters:
            if not self._is_active(parameter, values):
                continue
            if parameter.kind == "fixed":
                values[parameter.label] = parameter.fixed_value
            elif parameter.label in assignments:
                values[parameter.label] = parameter.to_hyperopt(assignments[parameter.label])
            else:
                raise ValueError(
                    f"SigOpt's assignments lack the active hyperparameter {parameter.label!r}: "
                    f"{dict(assignments)}"
                )
        return values

    def to_idxs_vals(
        self, assignments: Mapping[str, Any], tid: int
    ) -> tuple[dict[str, list[int]], dict[str, list[Any]]]:
        """SigOpt assignments -> a trial's ``misc.idxs`` and ``misc.vals``, as rand.suggest writes them."""
        values = self.to_hyperopt(assignments)
        idxs = {label: ([tid] if label in values else []) for label in self.labels}
        vals = {label: ([values[label]] if label in values else []) for label in self.labels}
        return idxs, vals

    # -- hyperopt -> SigOpt -------------------------------------------------------------------

    def to_sigopt(self, vals: Mapping[str, Any]) -> Assignments:
        """A trial's values ({label: value} or ``misc.vals``-style lists) -> SigOpt assignments.

        Used for trials SigOpt did not suggest (``points_to_evaluate``, another algorithm's trials).
        Values outside what SigOpt accepts are moved to the nearest accepted value; a parameter SigOpt
        requires but hyperopt left inactive gets a neutral default (see docs/space.md).
        """
        plain = {label: _unwrap(value) for label, value in vals.items()}
        plain = {label: value for label, value in plain.items() if value is not None}
        assignments: Assignments = {}
        for parameter in self.parameters:
            if parameter.kind == "conditional":
                value = plain.get(parameter.label)
                assignments[parameter.label] = (
                    parameter.to_sigopt(value) if value is not None else parameter.categories[0]
                )
        for parameter in self.parameters:
            if not parameter.in_sigopt or parameter.kind == "conditional":
                continue
            if not _conditions_hold(parameter.conditions, assignments):
                continue
            value = plain.get(parameter.label)
            assignments[parameter.label] = (
                parameter.to_sigopt(value) if value is not None else parameter.default_sigopt_value()
            )
        return assignments

    def _is_active(self, parameter: Parameter, values: Mapping[str, Any]) -> bool:
        return any(
            all(values.get(choice) == index for choice, index in alternative)
            for alternative in parameter.active_when
        )


def _canonical(parameter: Parameter) -> dict[str, Any]:
    fields = {name: getattr(parameter, name) for name in parameter.__dataclass_fields__}
    if not fields["options"]:
        del fields["options"]  # a field added later: digests of spaces without numeric choices are unchanged
    fields["active_when"] = sorted(sorted(list(pair) for pair in alternative) for alternative in parameter.active_when)
    return fields


def _nearest_index(options: tuple[float, ...], value: float, log: bool) -> int:
    """The index of the option nearest to ``value`` (on the grid's own scale; exact for SigOpt's values)."""
    if log and value > 0:
        distances = [abs(math.log(option) - math.log(value)) for option in options]
    else:
        distances = [abs(option - value) for option in options]
    return int(np.argmin(distances))


def _unwrap(value: Any) -> Any:
    """``misc.vals`` holds one-element lists (or empty ones for inactive labels)."""
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _conditions_hold(conditions: Iterable[tuple[str, tuple[str, ...]]], assignments: Mapping[str, Any]) -> bool:
    return all(assignments.get(name) in values for name, values in conditions)


# -- building a TranslatedSpace from a hyperopt expression -----------------------------------------


@dataclass
class _Found:
    """What the graph walk learns about one label."""

    node: Apply
    paths: set[frozenset[tuple[str, int]]] = field(default_factory=set)
    options: list[Apply] | None = None
    order: int = 0


def translate(space: Any, *, ordered_choices: bool = True) -> TranslatedSpace:
    """Translate a hyperopt space (dict/list/tuple/``hp`` expression, or a ``Domain``) for SigOpt.

    ``ordered_choices=False`` gives the translation of versions before numeric choices became ordered
    grids (every constant choice a categorical): searches stored by them continue with it.
    Raises :class:`UnsupportedSpaceError` naming the label, before anything is evaluated.
    """
    expr = space.expr if hasattr(space, "expr") and hasattr(space, "params") else pyll.as_apply(space)
    found = _walk(expr)
    if not found:
        raise UnsupportedSpaceError(None, "it has no hyperparameters (no hp.* expression); nothing to tune")

    parameters = {label: _translate_label(label, item, ordered_choices) for label, item in found.items()}
    conditional_labels = _conditional_labels(found, parameters)
    for label in conditional_labels:
        parameters[label] = _replace(parameters[label], kind="conditional")
    categories = {label: parameters[label].categories for label in sorted(conditional_labels)}
    for label, parameter in parameters.items():
        conditions = _sigopt_conditions(parameter.active_when, categories)
        if conditions and parameter.kind != "conditional":
            parameters[label] = _replace(parameter, conditions=conditions)

    ordered = _dependencies_first(sorted(parameters.values(), key=lambda p: (_depth(p), found[p.label].order)))
    translated = TranslatedSpace(tuple(ordered))
    if translated.dimension == 0:
        raise UnsupportedSpaceError(None, "every hyperparameter has a single possible value; nothing to tune")
    _check_conditional_coverage(translated)
    return translated


def choice_options(space: Any) -> dict[str, list[Apply]]:
    """Each choice's options, by label, as the unevaluated expressions the space holds (for displays)."""
    expr = space.expr if hasattr(space, "expr") and hasattr(space, "params") else pyll.as_apply(space)
    return {label: list(item.options) for label, item in _walk(expr).items() if item.options is not None}


def _replace(parameter: Parameter, **changes: Any) -> Parameter:
    fields = {name: getattr(parameter, name) for name in parameter.__dataclass_fields__}
    fields.update(changes)
    return Parameter(**fields)


def _depth(parameter: Parameter) -> int:
    """The longest chain of choices above a parameter: shallow ones first reads best."""
    return max((len(alternative) for alternative in parameter.active_when), default=0)


def _dependencies_first(parameters: list[Parameter]) -> list[Parameter]:
    """Every choice before the parameters whose activity depends on it, else in the given order.

    Activity is then decided in one pass over the parameters.  Depth alone is not enough: a label
    used directly under one choice and also inside a deeper one can be as shallow as a choice it
    depends on (its deeper paths are implied by the direct one and dropped).
    """
    pending = list(parameters)
    placed: set[str] = set()
    ordered: list[Parameter] = []
    while pending:
        for i, parameter in enumerate(pending):
            needs = {label for alternative in parameter.active_when for label, _ in alternative}
            if needs <= placed or not any(p.label in needs for p in pending if p is not parameter):
                ordered.append(pending.pop(i))
                placed.add(parameter.label)
                break
        else:  # a cycle cannot come from a hyperopt graph; keep the given order rather than loop
            ordered.extend(pending)
            break
    return ordered


def _walk(expr: Apply) -> dict[str, _Found]:
    """Find every labelled hyperparameter, the branches it lives under and, for choices, the options."""
    found: dict[str, _Found] = {}
    stack: list[tuple[Apply, frozenset[tuple[str, int]]]] = [(expr, frozenset())]
    seen: set[tuple[int, frozenset[tuple[str, int]]]] = set()
    while stack:
        node, path = stack.pop()
        if (id(node), path) in seen:
            continue
        seen.add((id(node), path))
        inputs = node.inputs()
        if node.name == "switch" and inputs and inputs[0].name == "hyperopt_param":
            label = _record(found, inputs[0], path, options=inputs[1:])
            stack.extend((option, path | {(label, i)}) for i, option in enumerate(inputs[1:]))
        elif node.name == "hyperopt_param":
            _record(found, node, path, options=None)
        else:
            stack.extend((child, path) for child in inputs)
    return found


def _record(found: dict[str, _Found], param_node: Apply, path: frozenset, options: list[Apply] | None) -> str:
    label = param_node.arg["label"].obj
    if not isinstance(label, str):
        raise UnsupportedSpaceError(str(label), "labels must be strings")
    distribution = param_node.arg["obj"]
    item = found.get(label)
    if item is None:
        item = found[label] = _Found(node=distribution, options=options, order=len(found))
    elif item.node is not distribution:
        raise UnsupportedSpaceError(label, "the label is used for two different hyperparameters")
    item.paths.add(path)
    return label


def _translate_label(label: str, item: _Found, ordered_choices: bool = True) -> Parameter:
    if not label or len(label) > SIGOPT_NAME_MAX_LENGTH:
        raise UnsupportedSpaceError(
            label, f"SigOpt names must be 1 to {SIGOPT_NAME_MAX_LENGTH} characters long; rename it"
        )
    active_when = _simplify_paths(item.paths)
    if item.options is not None:
        return _translate_choice(label, item, active_when, ordered_choices)
    node = item.node
    args = {name: _constant_arg(label, name, value) for name, value in node.arg.items() if name not in ("rng", "size")}
    builder = _DISTRIBUTIONS.get(node.name)
    if builder is None:
        raise UnsupportedSpaceError(label, f"hyperopt distribution {node.name!r} has no SigOpt equivalent")
    return builder(label, node.name, active_when, **args)


def _simplify_paths(paths: set[frozenset]) -> frozenset[frozenset[tuple[str, int]]]:
    """Drop alternatives implied by shorter ones (a label reached through every branch is unconditional)."""
    minimal = {p for p in paths if not any(other < p for other in paths)}
    return frozenset(minimal)


def _constant_arg(label: str, name: str, value: Any) -> Any:
    if value is MissingArgument:
        return None
    if any(n.name == "hyperopt_param" for n in pyll.dfs(value)):
        raise UnsupportedSpaceError(label, f"its argument {name!r} depends on another hyperparameter")
    return pyll.rec_eval(value)


def _translate_choice(label: str, item: _Found, active_when: frozenset, ordered: bool = True) -> Parameter:
    options = item.options or []
    distribution = "pchoice" if item.node.name == "categorical" else "choice"
    if distribution == "pchoice":
        warnings.warn(
            f"hp.pchoice {label!r}: SigOpt has no option probabilities; the options are kept and the "
            "probabilities ignored",
            UserWarning,
            stacklevel=_callers_stacklevel(),
        )
    if not options:
        raise UnsupportedSpaceError(label, "a choice needs at least one option")
    strings = [o.obj for o in options if isinstance(o, pyll.Literal) and isinstance(o.obj, str)]
    usable_strings = (
        len(strings) == len(options)
        and len(set(strings)) == len(strings)
        and all(0 < len(s) <= SIGOPT_NAME_MAX_LENGTH for s in strings)
    )
    categories = tuple(strings) if usable_strings else tuple(str(i) for i in range(len(options)))
    if len(options) == 1:
        return Parameter(label, distribution, "fixed", active_when, categories=categories, fixed_value=0)
    numbers = _numeric_options(options) if ordered else None
    if numbers is not None:
        grid = tuple(sorted(numbers))
        return Parameter(label, distribution, "grid", active_when, grid=grid, log=_log_scaled(grid),
                         categories=tuple(f"{n:g}" for n in numbers), options=numbers)
    return Parameter(label, distribution, "categorical", active_when, categories=categories)


def _numeric_options(options: list[Apply]) -> tuple[float, ...] | None:
    """The options as numbers, when the choice is an ordered grid (see :data:`MIN_ORDERED_OPTIONS`).

    Every option must be an int or float constant (not a bool: ``[True, False]`` is a switch, not a
    scale), finite, and distinct (SigOpt's grid values are unique; two equal options would be two
    indices for one point).
    """
    numbers = []
    for option in options:
        value = option.obj if isinstance(option, pyll.Literal) else None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            return None
        if not math.isfinite(float(value)):
            return None
        numbers.append(float(value))
    if len(numbers) < MIN_ORDERED_OPTIONS or len(set(numbers)) != len(numbers):
        return None
    return tuple(numbers)


def _log_scaled(grid: tuple[float, ...]) -> bool:
    """Log scale for positive grids spaced more evenly in log than in linear terms.

    Evenness is the ratio of the largest to the smallest gap between neighbours: 1 for
    ``[16, 32, 64, 128]`` or ``[1e-4, 1e-3, 1e-2]`` on a log scale, 1 for ``[1, 2, 3, 4]`` on a linear
    one.  The GP's length scale is one number per dimension, so the scale on which the options are
    evenly spread is the one on which one length scale fits them all.  Ties stay linear.
    """
    if grid[0] <= 0:
        return False
    return _unevenness(np.log(grid)) < _unevenness(np.asarray(grid))


def _unevenness(points: np.ndarray) -> float:
    gaps = np.diff(points)
    return float(gaps.max() / gaps.min())


def _callers_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the user's line (the first frame outside this
    package and hyperopt: the ``fmin`` call or the ``translate`` call), not at this module."""
    level, frame = 1, sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (module == "sigopt_hyperopt" or module.startswith(("sigopt_hyperopt.", "hyperopt"))):
            return level
        frame, level = frame.f_back, level + 1
    return 1


def _uniform(label, dist, active_when, low, high) -> Parameter:
    low, high = _ordered_bounds(label, low, high)
    if low == high:
        return Parameter(label, dist, "fixed", active_when, fixed_value=float(low))
    return Parameter(label, dist, "double", active_when, low=low, high=high)


def _loguniform(label, dist, active_when, low, high) -> Parameter:
    low, high = _ordered_bounds(label, low, high)
    return _log_double(label, dist, active_when, math.exp(low), math.exp(high))


def _normal(label, dist, active_when, mu, sigma) -> Parameter:
    mu, sigma = _normal_args(label, mu, sigma)
    low, high = mu - NORMAL_BOUND_SIGMAS * sigma, mu + NORMAL_BOUND_SIGMAS * sigma
    return Parameter(label, dist, "double", active_when, low=low, high=high, prior=(mu, sigma))


def _lognormal(label, dist, active_when, mu, sigma) -> Parameter:
    mu, sigma = _normal_args(label, mu, sigma)
    return _log_double(
        label, dist, active_when, _exp(label, mu - NORMAL_BOUND_SIGMAS * sigma), _exp(label, mu + NORMAL_BOUND_SIGMAS * sigma)
    )


def _quniform(label, dist, active_when, low, high, q) -> Parameter:
    low, high = _ordered_bounds(label, low, high)
    return _quantized_int(label, dist, active_when, low, high, q)


def _qnormal(label, dist, active_when, mu, sigma, q) -> Parameter:
    mu, sigma = _normal_args(label, mu, sigma)
    low, high = mu - NORMAL_BOUND_SIGMAS * sigma, mu + NORMAL_BOUND_SIGMAS * sigma
    return _quantized_int(label, dist, active_when, low, high, q)


def _qloguniform(label, dist, active_when, low, high, q) -> Parameter:
    low, high = _ordered_bounds(label, low, high)
    return _quantized_log_grid(label, dist, active_when, _exp(label, low), _exp(label, high), q)


def _qlognormal(label, dist, active_when, mu, sigma, q) -> Parameter:
    mu, sigma = _normal_args(label, mu, sigma)
    return _quantized_log_grid(
        label, dist, active_when, _exp(label, mu - NORMAL_BOUND_SIGMAS * sigma), _exp(label, mu + NORMAL_BOUND_SIGMAS * sigma), q
    )


def _randint(label, dist, active_when, low, high) -> Parameter:
    low, high = (0, low) if high is None else (low, high)
    if int(low) != low or int(high) != high or high <= low:
        raise UnsupportedSpaceError(label, f"randint needs integer bounds with low < high, got {low}, {high}")
    low, high = int(low), int(high) - 1
    if low == high:
        return Parameter(label, dist, "fixed", active_when, fixed_value=low)
    return Parameter(label, dist, "int", active_when, low=low, high=high)


_DISTRIBUTIONS = {
    "uniform": _uniform,
    "loguniform": _loguniform,
    "normal": _normal,
    "lognormal": _lognormal,
    "quniform": _quniform,
    "qloguniform": _qloguniform,
    "qnormal": _qnormal,
    "qlognormal": _qlognormal,
    "randint": _randint,
}


def _finite(label: str, **values: Any) -> dict[str, float]:
    out = {}
    for name, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UnsupportedSpaceError(label, f"{name}={value!r} is not a number") from None
        if not math.isfinite(number):
            raise UnsupportedSpaceError(label, f"{name}={value!r} is not finite")
        out[name] = number
    return out


def _ordered_bounds(label: str, low: Any, high: Any) -> tuple[float, float]:
    bounds = _finite(label, low=low, high=high)
    if bounds["low"] > bounds["high"]:
        raise UnsupportedSpaceError(label, f"low ({low}) is above high ({high})")
    return bounds["low"], bounds["high"]


def _normal_args(label: str, mu: Any, sigma: Any) -> tuple[float, float]:
    args = _finite(label, mu=mu, sigma=sigma)
    if args["sigma"] <= 0:
        raise UnsupportedSpaceError(label, f"sigma must be positive, got {sigma}")
    return args["mu"], args["sigma"]


def _exp(label: str, x: float) -> float:
    try:
        value = math.exp(x)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value) or value <= 0:
        raise UnsupportedSpaceError(label, f"exp({x}) is outside the range of floating point numbers")
    return value


def _quantum(label: str, q: Any) -> float:
    q = _finite(label, q=q)["q"]
    if q <= 0:
        raise UnsupportedSpaceError(label, f"q must be positive, got {q}")
    return q


def _multiples(label: str, low: float, high: float, q: float) -> tuple[int, int]:
    """The range of k with k*q inside [low, high] (with a little slack for float round-off)."""
    k_low, k_high = math.ceil(low / q - _TOLERANCE), math.floor(high / q + _TOLERANCE)
    if k_low > k_high:
        raise UnsupportedSpaceError(label, f"no multiple of q={q} lies between {low} and {high}")
    return k_low, k_high


def _log_double(label, dist, active_when, low: float, high: float) -> Parameter:
    if low == high:
        return Parameter(label, dist, "fixed", active_when, fixed_value=low)
    return Parameter(label, dist, "double", active_when, low=low, high=high, log=True)


def _quantized_int(label, dist, active_when, low: float, high: float, q: Any) -> Parameter:
    q = _quantum(label, q)
    k_low, k_high = _multiples(label, low, high, q)
    if k_low == k_high:
        return Parameter(label, dist, "fixed", active_when, fixed_value=float(k_low * q), q=q)
    return Parameter(label, dist, "int", active_when, low=k_low, high=k_high, q=q)


def _quantized_log_grid(label, dist, active_when, low: float, high: float, q: Any) -> Parameter:
    q = _quantum(label, q)
    k_low, k_high = _multiples(label, low, high, q)
    k_low = max(k_low, 1)  # a log scale needs positive values
    if k_low > k_high:
        raise UnsupportedSpaceError(label, f"no positive multiple of q={q} lies between {low} and {high}")
    if k_high - k_low + 1 <= MAX_GRID_SIZE:
        ks = np.arange(k_low, k_high + 1)
    else:
        ks = np.unique(np.round(np.geomspace(k_low, k_high, MAX_GRID_SIZE)).astype(np.int64))
    grid = tuple(float(k * q) for k in ks)
    if len(grid) == 1:
        return Parameter(label, dist, "fixed", active_when, fixed_value=grid[0], q=q)
    return Parameter(label, dist, "grid", active_when, grid=grid, q=q, log=True)


# -- conditionals ---------------------------------------------------------------------------------


def _conditional_labels(found: Mapping[str, _Found], parameters: Mapping[str, Parameter]) -> set[str]:
    """Choices that become SigOpt conditionals: every option holds a parameter SigOpt will see.

    SigOpt requires at least one parameter under every conditional value, and conditionals do not
    count as parameters, so a choice with an empty branch stays a categorical parameter.  Inner
    choices are decided first because an outer choice's branches count on what they became.
    """
    order = _dependencies_first(sorted(parameters.values(), key=lambda p: (_depth(p), found[p.label].order)))
    choices = [p for p in order if p.kind == "categorical" and found[p.label].options is not None]
    conditionals: set[str] = set()
    for choice in reversed(choices):
        populated = {
            index
            for p in parameters.values()
            if p.in_sigopt and p.label not in conditionals and p.label != choice.label
            for alternative in p.active_when
            for label, index in alternative
            if label == choice.label
        }
        if populated >= set(range(len(choice.categories))):
            conditionals.add(choice.label)
    return conditionals


def _sigopt_conditions(
    active_when: frozenset[frozenset[tuple[str, int]]], categories: Mapping[str, tuple[str, ...]]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The tightest product-form superset of hyperopt's activity rule, over SigOpt conditionals."""
    conditions = []
    for conditional, values in categories.items():
        allowed: set[int] = set()
        for alternative in active_when:
            indices = {index for choice, index in alternative if choice == conditional}
            if not indices:
                allowed = set(range(len(values)))
                break
            allowed |= indices
        if allowed and allowed != set(range(len(values))):
            conditions.append((conditional, tuple(values[i] for i in sorted(allowed))))
    return tuple(sorted(conditions))


def _check_conditional_coverage(space: TranslatedSpace) -> None:
    """SigOpt's rule: every combination of conditional values must enable at least one parameter."""
    conditionals = [p for p in space.parameters if p.kind == "conditional"]
    if not conditionals:
        return
    combinations = math.prod(len(c.categories) for c in conditionals)
    if combinations > MAX_CONDITIONAL_COMBINATIONS:
        raise UnsupportedSpaceError(
            None,
            f"its {len(conditionals)} nested choices make {combinations} combinations, more than SigOpt "
            f"checks ({MAX_CONDITIONAL_COMBINATIONS}); flatten some choices into plain categoricals",
        )
    others = [p for p in space.parameters if p.in_sigopt and p.kind != "conditional"]
    names = [c.label for c in conditionals]
    for combination in itertools.product(*(c.categories for c in conditionals)):
        assignments = dict(zip(names, combination))
        if not any(_conditions_hold(p.conditions, assignments) for p in others):
            raise UnsupportedSpaceError(
                names[0],
                f"no hyperparameter is active when {assignments}; SigOpt needs one under every branch",
            )
