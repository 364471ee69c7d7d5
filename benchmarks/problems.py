"""Benchmark problems, each defined once: bounds, optimum, objective, and its space for every library."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np
from hyperopt import hp


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter, described once and rendered for hyperopt and for Optuna."""

    name: str
    kind: str  # "float", "logfloat", "int"
    low: float
    high: float
    step: float | None = None

    def hyperopt(self) -> Any:
        if self.kind == "logfloat":
            return hp.loguniform(self.name, math.log(self.low), math.log(self.high))
        if self.kind == "int":
            return hp.quniform(self.name, self.low, self.high, self.step or 1)
        return hp.uniform(self.name, self.low, self.high)

    def optuna(self, trial: Any) -> float:
        if self.kind == "logfloat":
            return trial.suggest_float(self.name, self.low, self.high, log=True)
        if self.kind == "int":
            return float(trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1)))
        return trial.suggest_float(self.name, self.low, self.high)


@dataclass(frozen=True)
class Problem:
    name: str
    dimensions: tuple[Dimension, ...]
    objective: Callable[[dict[str, float]], float]
    optimum: float | None  # None: regret is measured against the best loss any run found

    def hyperopt_space(self) -> dict[str, Any]:
        return {d.name: d.hyperopt() for d in self.dimensions}


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
