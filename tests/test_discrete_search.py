"""Expected improvement searched on the space's own points, and suggestions allowed close to the data."""

from __future__ import annotations

import numpy as np
from hyperopt import hp
from libsigopt.compute.domain import CategoricalDomain

from sigopt_hyperopt.engines.embedded.discrete_search import OneHotLayout, maximize_on_space
from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
from sigopt_hyperopt.engines.base import Observation, experiment_spec
from sigopt_hyperopt.engines.embedded.options import EngineOptions
from sigopt_hyperopt.space import translate

MIXED = CategoricalDomain([
    {"var_type": "double", "elements": [0.0, 1.0]},
    {"var_type": "categorical", "elements": [0, 1, 2]},
    {"var_type": "int", "elements": [1, 5]},
    {"var_type": "quantized", "elements": [0.1, 0.5, 2.0]},
])


def test_the_layout_snaps_relaxed_points_onto_the_space():
    layout = OneHotLayout.of(MIXED)
    assert layout.dim == 6 and layout.free.tolist() == [True, False, False, False, False, False]
    relaxed = np.array([[0.3, 0.2, 0.7, 0.4, 2.6, 0.9], [0.9, 0.5, 0.1, 0.2, 4.9, 1.4]])
    assert layout.snap(relaxed).tolist() == [[0.3, 0, 1, 0, 3, 0.5], [0.9, 1, 0, 0, 5, 2.0]]


def test_neighbours_change_one_discrete_parameter_by_one_step():
    layout = OneHotLayout.of(MIXED)
    point = np.array([0.3, 0.0, 1.0, 0.0, 5.0, 0.5])
    around = {tuple(p) for p in layout.neighbours(point)}
    assert around == {
        (0.3, 1, 0, 0, 5, 0.5), (0.3, 0, 0, 1, 5, 0.5),  # the other two categories
        (0.3, 0, 1, 0, 4, 0.5),  # 5 is the integer's upper bound: one way only
        (0.3, 0, 1, 0, 5, 0.1), (0.3, 0, 1, 0, 5, 2.0),  # the grid's two neighbours
    }


class _Quadratic:
    """A stand-in acquisition: highest at x = 0.62 in category 2, integer 4, grid value 2.0."""

    differentiable = True

    def _score(self, points):
        points = np.atleast_2d(points)
        return (-(points[:, 0] - 0.62) ** 2 + points[:, 3] - 0.3 * (points[:, 4] - 4) ** 2 + 0.2 * points[:, 5])

    def values(self, points):
        return self._score(points)

    def values_and_gradients(self, points):
        gradient = np.zeros_like(points)
        gradient[:, 0] = -2 * (points[:, 0] - 0.62)
        gradient[:, 3] = 1.0
        gradient[:, 4] = -0.6 * (points[:, 4] - 4)
        gradient[:, 5] = 0.2
        return self._score(points), gradient


def test_the_search_reaches_the_best_point_of_the_space_from_a_poor_start():
    layout = OneHotLayout.of(MIXED)
    lower, upper = (np.asarray(b, dtype=float) for b in MIXED.one_hot_domain.get_lower_upper_bounds())
    start = layout.snap(np.array([[0.1, 0.9, 0.0, 0.0, 1.0, 0.1]]))  # category 0, integer 1, grid 0.1
    best = maximize_on_space(layout, lower, upper, _Quadratic(), start, starts=1, iterations=50)
    assert best[1:].tolist() == [0, 0, 1, 4, 2.0]
    assert abs(best[0] - 0.62) < 1e-4


def _engine(options: EngineOptions, space: dict, objective, count: int, seed: int = 1):
    engine = EmbeddedEngine(experiment_spec(translate(space), name="test"), options=options)
    rng = np.random.default_rng(seed)
    observations = []
    for key in range(count):
        point = {name: float(rng.uniform(0, 1)) for name in space}
        observations.append(Observation(key=key, assignments=point, value=objective(point)))
    engine.sync(observations)
    return engine, observations


def test_a_suggestion_may_refine_the_best_point_when_close_points_are_kept():
    # A smooth bowl sampled densely near its minimum: expected improvement is highest a hair away
    # from the best observation, closer than libsigopt's 1 % rule allows.
    space = {"x": hp.uniform("x", 0, 1)}
    bowl = lambda p: (p["x"] - 0.4137) ** 2  # noqa: E731
    near = [0.40, 0.41, 0.42, 0.43, 0.39, 0.415, 0.412]
    for keep in (False, True):
        engine, observations = _engine(EngineOptions(keep_close_points=keep), space, bowl, 10)
        observations += [Observation(key=100 + i, assignments={"x": x}, value=bowl({"x": x})) for i, x in enumerate(near)]
        engine.sync(observations)
        x = engine.suggest(1, [], seed=3)[0].assignments["x"]
        distance = min(abs(x - o.assignments["x"]) for o in observations)
        if keep:
            assert abs(x - 0.4137) < 0.003, x  # refines the minimum
            assert distance > 0
        else:
            assert distance > 0.0099, x  # libsigopt's rule: anything nearer was replaced by a random point


def test_a_mixed_space_search_suggests_points_of_the_space_deterministically():
    space = {"x": hp.uniform("x", 0, 1), "kind": hp.choice("kind", ["a", "b", "c"]),
             "depth": hp.quniform("depth", 1, 8, 1)}

    def objective(p):
        return (p["x"] - 0.3) ** 2 + {"a": 1.0, "b": 0.0, "c": 0.5}[p["kind"]] + 0.1 * abs(p["depth"] - 5)

    options = EngineOptions(discrete_search=True, keep_close_points=True)
    engine = EmbeddedEngine(experiment_spec(translate(space), name="test"), options=options)
    rng = np.random.default_rng(0)
    observations = []
    for key in range(12):
        point = {"x": float(rng.uniform(0, 1)), "kind": "abc"[int(rng.integers(3))], "depth": float(rng.integers(1, 9))}
        observations.append(Observation(key=key, assignments=point, value=objective(point)))
    engine.sync(observations)
    first = [s.assignments for s in engine.suggest(3, [], seed=7)]
    again = [s.assignments for s in engine.suggest(3, [], seed=7)]
    assert first == again
    for a in first:
        assert a["kind"] in ("a", "b", "c") and float(a["depth"]).is_integer() and 1 <= a["depth"] <= 8
