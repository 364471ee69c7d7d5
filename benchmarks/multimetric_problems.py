"""The multimetric benchmark's problems: two objectives, optionally constraints, each defined once.

Each problem declares its metrics as the multimetric contract does (name, objective, strategy,
threshold), so every column is told the same thing: ``sigopt`` gets them as ``Metric`` objects, Optuna
as study directions plus a ``constraints_func``.  Its objective returns every metric by name.

Hypervolume is measured in the *minimized* space of the two optimized metrics (a maximized metric is
negated) against a fixed reference point per problem, chosen a little beyond the worst end of the
true front (ZDT, DTLZ2: ``(1.1, 1.1)``, the usual choice; Binh–Korn ``(140, 50)``, its usual one; the
forest ``(-0.85, 3.7)``: error above 15 % or more than 5,000 tree nodes count for nothing).  Where
the Pareto set is known, ``pareto_set`` gives points on it, and the true front's hypervolume (from
20,001 of them) is the 100 % of the report's "share of the attainable".

* **ZDT1, ZDT2, ZDT3** (Zitzler, Deb and Thiele 2000), 5 variables: convex, concave and disconnected
  fronts; optimal where every variable but the first is 0.
* **DTLZ2** (Deb, Thiele, Laumanns and Zitzler 2002), 2 objectives, 4 variables: a quarter circle,
  optimal where every variable but the first is 0.5.
* **Binh–Korn** (Binh and Korn 1997), 2 variables, two constraints, as constraint metrics:
  ``g1 = (x-5)^2 + y^2 <= 25`` and ``g2 = (x-8)^2 + (y+3)^2 >= 7.7``.  Pareto set: ``x = y`` on
  ``[0, 3]``, then ``y = 3`` for ``x`` in ``[3, 5]``.
* **forest**: a random forest on scikit-learn's breast-cancer data (bundled, offline): 3-fold
  cross-validated accuracy (maximized) against the model's size, ``log10`` of the tree nodes of the
  fitted forest (mean over folds; minimized).  Four hyperparameters.  The front is unknown: the report
  measures against the best hypervolume any run found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from .hypervolume import hypervolume, non_dominated
from .problems import Dimension

FRONT_POINTS = 20_001


@dataclass(frozen=True)
class MetricSpec:
    """One declared metric, as the contract's ``Metric`` takes it."""

    name: str
    objective: str = "minimize"
    strategy: str = "optimize"
    threshold: float | None = None

    def satisfied(self, value: float) -> bool:
        """True when the value meets the threshold (always, without one)."""
        if self.threshold is None:
            return True
        return value <= self.threshold if self.objective == "minimize" else value >= self.threshold

    def violation(self, value: float) -> float:
        """Optuna's constraint value: at most 0 when satisfied."""
        if self.threshold is None:
            return 0.0
        return value - self.threshold if self.objective == "minimize" else self.threshold - value


@dataclass(frozen=True)
class MultiProblem:
    """A benchmark problem with two optimized metrics (and possibly constraint metrics)."""

    name: str
    dimensions: tuple[Dimension, ...]
    metrics: tuple[MetricSpec, ...]
    evaluate: Callable[[dict[str, Any]], dict[str, float]]
    reference: tuple[float, float]
    """The hypervolume's reference point, in the minimized space of the optimized metrics."""
    pareto_set: Callable[[np.ndarray], list[dict[str, float]]] | None = None
    """Points of the Pareto set for first coordinates in [0, 1] (None: unknown)."""
    description: str = ""

    @property
    def dimension(self) -> int:
        return len(self.dimensions)

    @property
    def optimized(self) -> tuple[MetricSpec, ...]:
        return tuple(m for m in self.metrics if m.strategy == "optimize")

    @property
    def constrained(self) -> bool:
        return any(m.threshold is not None for m in self.metrics)

    def hyperopt_space(self) -> dict[str, Any]:
        return {d.name: d.hyperopt() for d in self.dimensions}

    def optuna_params(self, trial: Any) -> dict[str, Any]:
        return {d.name: d.optuna(trial) for d in self.dimensions}

    def objectives(self, values: dict[str, float]) -> tuple[float, float]:
        """The two optimized metrics, minimized (a maximized one negated): where hypervolume is measured."""
        first, second = (values[m.name] if m.objective == "minimize" else -values[m.name] for m in self.optimized)
        return first, second

    def feasible(self, values: dict[str, float]) -> bool:
        return all(m.satisfied(values[m.name]) for m in self.metrics)

    def hypervolume(self, evaluations: list[dict[str, float]]) -> float:
        """The hypervolume of the feasible evaluations."""
        return hypervolume([self.objectives(v) for v in evaluations if self.feasible(v)], self.reference)

    def front(self) -> np.ndarray | None:
        """The true front (minimized objectives, sorted by the first), from the Pareto set; None if unknown."""
        return _front(self.name)

    def front_hypervolume(self) -> float | None:
        front = self.front()
        return hypervolume(front, self.reference) if front is not None else None


@lru_cache(maxsize=None)
def _front(name: str) -> np.ndarray | None:
    problem = MULTIMETRIC[name]
    if problem.pareto_set is None:
        return None
    values = [problem.evaluate(p) for p in problem.pareto_set(np.linspace(0.0, 1.0, FRONT_POINTS))]
    return non_dominated([problem.objectives(v) for v in values if problem.feasible(v)])


# -- ZDT and DTLZ2 ------------------------------------------------------------------------------------

ZDT_DIMENSION = 5
DTLZ2_DIMENSION = 4


def _xs(params: dict[str, Any], n: int) -> np.ndarray:
    return np.array([float(params[f"x{i}"]) for i in range(n)])


def _zdt(shape: Callable[[float, float], float]) -> Callable[[dict[str, Any]], dict[str, float]]:
    def evaluate(params: dict[str, Any]) -> dict[str, float]:
        x = _xs(params, ZDT_DIMENSION)
        f1 = float(x[0])
        g = 1.0 + 9.0 * float(np.sum(x[1:])) / (ZDT_DIMENSION - 1)
        return {"f1": f1, "f2": float(g * shape(f1, g))}

    return evaluate


zdt1 = _zdt(lambda f1, g: 1.0 - math.sqrt(f1 / g))
zdt2 = _zdt(lambda f1, g: 1.0 - (f1 / g) ** 2)
zdt3 = _zdt(lambda f1, g: 1.0 - math.sqrt(f1 / g) - (f1 / g) * math.sin(10.0 * math.pi * f1))


def _zdt_set(ts: np.ndarray) -> list[dict[str, float]]:
    return [{"x0": float(t), **{f"x{i}": 0.0 for i in range(1, ZDT_DIMENSION)}} for t in ts]


def dtlz2(params: dict[str, Any]) -> dict[str, float]:
    x = _xs(params, DTLZ2_DIMENSION)
    g = float(np.sum((x[1:] - 0.5) ** 2))
    angle = float(x[0]) * math.pi / 2
    return {"f1": (1.0 + g) * math.cos(angle), "f2": (1.0 + g) * math.sin(angle)}


def _dtlz2_set(ts: np.ndarray) -> list[dict[str, float]]:
    return [{"x0": float(t), **{f"x{i}": 0.5 for i in range(1, DTLZ2_DIMENSION)}} for t in ts]


# -- Binh and Korn: two constraints ----------------------------------------------------------------------

def binh_korn(params: dict[str, Any]) -> dict[str, float]:
    x, y = float(params["x"]), float(params["y"])
    return {"f1": 4 * x**2 + 4 * y**2, "f2": (x - 5) ** 2 + (y - 5) ** 2,
            "g1": (x - 5) ** 2 + y**2, "g2": (x - 8) ** 2 + (y + 3) ** 2}


def _binh_korn_set(ts: np.ndarray) -> list[dict[str, float]]:
    # The path x = y from (0, 0) to (3, 3), then y = 3 to (5, 3), by arc length (3*sqrt(2) + 2 long).
    length = 3 * math.sqrt(2) + 2
    points = []
    for t in ts:
        s = float(t) * length
        if s <= 3 * math.sqrt(2):
            points.append({"x": s / math.sqrt(2), "y": s / math.sqrt(2)})
        else:
            points.append({"x": 3.0 + (s - 3 * math.sqrt(2)), "y": 3.0})
    return points


# -- a random forest: accuracy against size --------------------------------------------------------------

FOREST_FOLDS = 3


@lru_cache(maxsize=1)
def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def forest(params: dict[str, Any]) -> dict[str, float]:
    """3-fold cross-validated accuracy of a random forest and log10 of its tree nodes (mean over folds)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_validate

    features, labels = _breast_cancer()
    model = RandomForestClassifier(n_estimators=int(params["n_estimators"]), max_depth=int(params["max_depth"]),
                                   max_features=float(params["max_features"]),
                                   min_samples_leaf=int(params["min_samples_leaf"]), random_state=0, n_jobs=1)
    folds = StratifiedKFold(n_splits=FOREST_FOLDS, shuffle=True, random_state=0)
    scores = cross_validate(model, features, labels, cv=folds, return_estimator=True)
    nodes = np.mean([sum(tree.tree_.node_count for tree in fitted.estimators_) for fitted in scores["estimator"]])
    return {"accuracy": float(np.mean(scores["test_score"])), "log10_nodes": float(math.log10(nodes))}


def _unit(n: int) -> tuple[Dimension, ...]:
    return tuple(Dimension(f"x{i}", "float", 0.0, 1.0) for i in range(n))


TWO = (MetricSpec("f1"), MetricSpec("f2"))

MULTIMETRIC: dict[str, MultiProblem] = {
    "zdt1": MultiProblem("zdt1", _unit(ZDT_DIMENSION), TWO, zdt1, (1.1, 1.1), _zdt_set,
                         "ZDT1: convex front f2 = 1 - sqrt(f1)"),
    "zdt2": MultiProblem("zdt2", _unit(ZDT_DIMENSION), TWO, zdt2, (1.1, 1.1), _zdt_set,
                         "ZDT2: concave front f2 = 1 - f1^2"),
    "zdt3": MultiProblem("zdt3", _unit(ZDT_DIMENSION), TWO, zdt3, (1.1, 1.1), _zdt_set,
                         "ZDT3: front in five disconnected pieces"),
    "dtlz2": MultiProblem("dtlz2", _unit(DTLZ2_DIMENSION), TWO, dtlz2, (1.1, 1.1), _dtlz2_set,
                          "DTLZ2 with 2 objectives: front a quarter circle f1^2 + f2^2 = 1"),
    "binh_korn": MultiProblem(
        "binh_korn", (Dimension("x", "float", 0.0, 5.0), Dimension("y", "float", 0.0, 3.0)),
        (MetricSpec("f1"), MetricSpec("f2"), MetricSpec("g1", "minimize", "constraint", 25.0),
         MetricSpec("g2", "maximize", "constraint", 7.7)),
        binh_korn, (140.0, 50.0), _binh_korn_set,
        "Binh–Korn: two objectives, two constraint metrics (g1 <= 25, g2 >= 7.7)"),
    "forest": MultiProblem(
        "forest", (Dimension("n_estimators", "logint", 1, 64), Dimension("max_depth", "int", 1, 12),
                   Dimension("max_features", "float", 0.05, 1.0), Dimension("min_samples_leaf", "int", 1, 20)),
        (MetricSpec("accuracy", "maximize"), MetricSpec("log10_nodes")),
        forest, (-0.85, 3.7), None,
        "random forest on breast cancer: 3-fold CV accuracy (max) vs log10 tree nodes (min)"),
}
