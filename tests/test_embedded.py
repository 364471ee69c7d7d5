"""The embedded engine: parallel suggestions, determinism, and the caller's random state."""

from __future__ import annotations

import numpy as np
from hyperopt import hp

from sigopt_hyperopt.embedded import EmbeddedEngine
from sigopt_hyperopt.engine import Observation
from sigopt_hyperopt.space import translate

BRANIN_SPACE = {"x": hp.uniform("x", -5, 10), "y": hp.uniform("y", 0, 15)}


def branin(x: float, y: float) -> float:
    b, c, r, s, t = 5.1 / (4 * np.pi**2), 5 / np.pi, 6, 10, 1 / (8 * np.pi)
    return float((y - b * x**2 + c * x - r) ** 2 + s * (1 - t) * np.cos(x) + s)


def observed_engine(count: int = 12) -> tuple[EmbeddedEngine, list[Observation]]:
    engine = EmbeddedEngine.for_space(translate(BRANIN_SPACE))
    rng = np.random.default_rng(3)
    observations = []
    for key in range(count):
        point = {"x": float(rng.uniform(-5, 10)), "y": float(rng.uniform(0, 15))}
        observations.append(Observation(key=key, assignments=point, value=branin(**point)))
    engine.sync(observations)
    return engine, observations


def test_parallel_suggestions_are_distinct_and_avoid_the_pending_points():
    engine, _ = observed_engine()
    pending = [{"x": 3.14, "y": 2.27}, {"x": -3.14, "y": 12.27}]
    suggestions = engine.suggest(4, pending, seed=11)
    points = [(s.assignments["x"], s.assignments["y"]) for s in suggestions]
    assert len(points) == 4
    distances = [np.hypot(a[0] - b[0], a[1] - b[1]) for i, a in enumerate(points) for b in points[i + 1:]]
    assert min(distances) > 1e-3, points
    for p in points:
        for q in pending:
            assert np.hypot(p[0] - q["x"], p[1] - q["y"]) > 1e-3


def test_pending_points_change_what_is_suggested():
    engine, _ = observed_engine()
    alone = engine.suggest(1, [], seed=5)[0].assignments
    # Pretend the point it wanted is already running: the next suggestion must go elsewhere.
    beside = engine.suggest(1, [alone], seed=5)[0].assignments
    assert np.hypot(alone["x"] - beside["x"], alone["y"] - beside["y"]) > 1e-3


def test_same_inputs_and_seed_give_the_same_points_and_leave_numpy_state_alone():
    engine, observations = observed_engine()
    np.random.seed(1234)
    before = np.random.get_state()[1].copy()
    first = engine.suggest(3, [observations[0].assignments], seed=7)
    assert (np.random.get_state()[1] == before).all()

    rebuilt = EmbeddedEngine.for_space(translate(BRANIN_SPACE))
    rebuilt.sync(observations)
    assert rebuilt.suggest(3, [observations[0].assignments], seed=7) == first
    assert rebuilt.suggest(3, [observations[0].assignments], seed=8) != first


def test_failed_observations_are_learned_without_breaking_the_model():
    engine, observations = observed_engine(14)
    failed = [Observation(key=100 + i, assignments={"x": 9.0 + 0.1 * i, "y": 14.0}, value=None, failed=True)
              for i in range(5)]
    engine.sync(observations + failed)
    assert len(engine.observations) == 19
    suggestions = engine.suggest(2, [], seed=1)
    assert len(suggestions) == 2


def test_a_small_discrete_space_still_gets_as_many_points_as_asked():
    engine = EmbeddedEngine.for_space(translate({"a": hp.choice("a", ["p", "q"]), "b": hp.randint("b", 2)}))
    observations = [
        Observation(key=i, assignments={"a": "pq"[i % 2], "b": (i // 2) % 2}, value=float(i)) for i in range(8)
    ]
    engine.sync(observations)
    assert len(engine.suggest(6, [], seed=2)) == 6
