"""Benchmark problems, each defined once: its space (rendered for hyperopt and for Optuna), objective, optimum.

A problem's space is a tuple of :class:`Dimension` and :class:`Conditional` items.  Each renders
itself the way a user of that library would write it: ``hp.choice`` of numbers for a numeric choice
in hyperopt, ``suggest_categorical`` with the same numbers in Optuna (Optuna has no ordered-choice
type; an Optuna user writes exactly that).  Nested choices are ``hp.choice`` of dicts in hyperopt and
define-by-run branches in Optuna.  Either way the objective receives one flat dict: every active
dimension by name, each conditional's chosen branch by the conditional's name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Union

import numpy as np
from hyperopt import hp

BRANCH_KEY = "__branch__"
"""Where a hyperopt conditional's dict keeps the name of the branch it stands for."""


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter, described once and rendered for hyperopt and for Optuna.

    ``kind``: ``float``, ``logfloat``, ``int`` (a quantized range, step ``step``), ``logint``,
    ``categorical`` (``options``: strings or bools) or ``choice`` (``options``: numbers, in the
    order the user lists them).
    """

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    step: float | None = None
    options: tuple[Any, ...] = ()

    def hyperopt(self) -> Any:
        if self.kind == "logfloat":
            return hp.loguniform(self.name, math.log(self.low), math.log(self.high))
        if self.kind == "int":
            return hp.quniform(self.name, self.low, self.high, self.step or 1)
        if self.kind == "logint":
            return hp.qloguniform(self.name, math.log(self.low), math.log(self.high), 1)
        if self.kind in ("categorical", "choice"):
            return hp.choice(self.name, list(self.options))
        return hp.uniform(self.name, self.low, self.high)

    def optuna(self, trial: Any) -> Any:
        if self.kind == "logfloat":
            return trial.suggest_float(self.name, self.low, self.high, log=True)
        if self.kind == "int":
            return float(trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1)))
        if self.kind == "logint":
            return float(trial.suggest_int(self.name, int(self.low), int(self.high), log=True))
        if self.kind in ("categorical", "choice"):
            return trial.suggest_categorical(self.name, list(self.options))
        return trial.suggest_float(self.name, self.low, self.high)


@dataclass(frozen=True)
class Conditional:
    """A choice between branches, each with its own dimensions (nested ``hp.choice`` in hyperopt)."""

    name: str
    branches: tuple[tuple[str, tuple["Item", ...]], ...]

    def hyperopt(self) -> Any:
        return hp.choice(self.name, [{BRANCH_KEY: key, **{d.name: d.hyperopt() for d in items}}
                                     for key, items in self.branches])

    def optuna_into(self, trial: Any, values: dict[str, Any]) -> None:
        key = trial.suggest_categorical(self.name, [key for key, _ in self.branches])
        values[self.name] = key
        for item in dict(self.branches)[key]:
            _optuna_item(item, trial, values)


Item = Union[Dimension, Conditional]


def _optuna_item(item: Item, trial: Any, values: dict[str, Any]) -> None:
    if isinstance(item, Conditional):
        item.optuna_into(trial, values)
    else:
        values[item.name] = item.optuna(trial)


def _flatten(name: str, value: Any, values: dict[str, Any]) -> None:
    if isinstance(value, dict) and BRANCH_KEY in value:
        values[name] = value[BRANCH_KEY]
        for key, inner in value.items():
            if key != BRANCH_KEY:
                _flatten(key, inner, values)
    else:
        values[name] = value


@dataclass(frozen=True)
class Problem:
    """A benchmark problem: its space once, the objective on the flat values, and what "solved" means.

    ``optimum`` is the known minimum, or None: regret is then measured against the best loss any run
    found.  ``noise`` is the standard deviation of Gaussian noise the runner adds to what the
    algorithm sees; regret is always measured on the noiseless objective at the point the algorithm
    believes best (its best observed loss), as a user would deploy it.
    """

    name: str
    dimensions: tuple[Item, ...]
    objective: Callable[[dict[str, Any]], float]
    optimum: float | None
    noise: float = 0.0
    description: str = ""

    def hyperopt_space(self) -> dict[str, Any]:
        return {d.name: d.hyperopt() for d in self.dimensions}

    def from_hyperopt(self, params: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in params.items():
            _flatten(name, value, values)
        return values

    def optuna_params(self, trial: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for item in self.dimensions:
            _optuna_item(item, trial, values)
        return values

    @property
    def dimension(self) -> int:
        """Dimensions of the largest branch combination (what the table calls D)."""
        return _count(self.dimensions)


def _count(items: tuple[Item, ...]) -> int:
    total = 0
    for item in items:
        if isinstance(item, Conditional):
            total += 1 + max(_count(inner) for _, inner in item.branches)
        else:
            total += 1
    return total


def branin(p: dict[str, float]) -> float:
    x, y = p["x"], p["y"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(p: dict[str, float]) -> float:
    x = np.array([p[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


@lru_cache(maxsize=1)
def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def gradient_boosting(p: dict[str, float]) -> float:
    """3-fold cross-validated log loss of gradient boosting on scikit-learn's breast-cancer data."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    features, labels = _breast_cancer()
    model = GradientBoostingClassifier(
        learning_rate=p["learning_rate"], n_estimators=int(p["n_estimators"]), max_depth=int(p["max_depth"]),
        subsample=p["subsample"], random_state=0,
    )
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    return -float(cross_val_score(model, features, labels, cv=folds, scoring="neg_log_loss").mean())


PROBLEMS: dict[str, Problem] = {
    "branin": Problem("branin", (Dimension("x", "float", -5, 10), Dimension("y", "float", 0, 15)), branin, 0.397887),
    "hartmann6": Problem("hartmann6", tuple(Dimension(f"x{i}", "float", 0, 1) for i in range(6)), hartmann6, -3.32237),
    "gradient_boosting": Problem(
        "gradient_boosting",
        (
            Dimension("learning_rate", "logfloat", 1e-3, 1.0),
            Dimension("n_estimators", "int", 10, 100, 10),
            Dimension("max_depth", "int", 1, 5),
            Dimension("subsample", "float", 0.5, 1.0),
        ),
        gradient_boosting,
        None,
    ),
}
"""The search-quality benchmark's three problems (benchmarks/quality.py); the suite has its own."""
