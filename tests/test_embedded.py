"""The embedded engine: parallel suggestions, determinism (also across a restart), the caller's random
state, and model-phase points in hyperopt's support."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hyperopt import hp

from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
from sigopt_hyperopt.engines.embedded.options import DEFAULT_OPTIONS, EngineOptions
from sigopt_hyperopt.engines.base import Observation, experiment_spec
from sigopt_hyperopt.space import translate

from .hyperopt_support import assert_points_in_support
from .spaces import spaces

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


# -- reuse of the GP hyperparameters, restarts, and the model phase on every kind of space ------------

def branin_observations(count: int, seed: int = 3) -> list[Observation]:
    rng = np.random.default_rng(seed)
    points = [{"x": float(rng.uniform(-5, 10)), "y": float(rng.uniform(0, 15))} for _ in range(count)]
    return [Observation(key=key, assignments=p, value=branin(**p)) for key, p in enumerate(points)]


def test_a_driver_that_reused_hyperparameters_and_a_restarted_one_suggest_the_same_points():
    observations = branin_observations(54)
    running = EmbeddedEngine.for_space(translate(BRANIN_SPACE))
    for count in range(46, 55):  # a search going on (past the refit-every-call phase): one more result per call
        running.sync(observations[:count])
        last = running.suggest(2, [observations[0].assignments], seed=count)
    fits = running._hyperparameters.fits_computed
    assert fits < 9, "the running engine refitted at every call: nothing was reused"

    restarted = EmbeddedEngine.for_space(translate(BRANIN_SPACE))
    restarted.sync(observations)
    assert restarted.suggest(2, [observations[0].assignments], seed=54) == last
    assert restarted._hyperparameters.fits_computed == 1


def test_the_order_the_results_come_in_does_not_change_the_suggestions():
    observations = branin_observations(30)
    forward = EmbeddedEngine.for_space(translate(BRANIN_SPACE))
    forward.sync(observations)
    shuffled = EmbeddedEngine.for_space(translate(BRANIN_SPACE))
    shuffled.sync(list(reversed(observations)))
    assert forward.suggest(3, [], seed=4) == shuffled.suggest(3, [], seed=4)


def test_a_call_that_fits_and_one_that_reuses_both_leave_numpy_state_alone():
    engine = EmbeddedEngine.for_space(translate(BRANIN_SPACE))
    engine.sync(branin_observations(40))
    np.random.seed(99)
    expected = np.random.random(3)
    np.random.seed(99)
    engine.suggest(1, [], seed=1)  # fits (40 is an anchor: from scratch)
    engine.suggest(1, [], seed=2)  # reuses
    assert engine._hyperparameters.fits_computed == 1
    assert (np.random.random(3) == expected).all()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(space=spaces)
def test_model_phase_points_on_random_spaces_are_in_hyperopt_support(space):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        translated = translate(space)
    engine = EmbeddedEngine.for_space(translated)
    rng = np.random.default_rng(len(repr(space)))
    observations: list[Observation] = []
    while engine._in_initialization_phase() or len(observations) < 6:
        for s in engine.suggest(4, [], seed=len(observations)):
            observations.append(Observation(key=len(observations), assignments=s.assignments, value=float(rng.normal())))
        engine.sync(observations)
    assert not engine._in_initialization_phase()

    suggestions = engine.suggest(4, [observations[-1].assignments], seed=7)
    # The exact round trip is the space translator's property (tests/test_space.py); here the support.
    assert_points_in_support(space, translated, [s.assignments for s in suggestions], first_tid=len(observations),
                             round_trip=False)


# -- the engine's ingredients (EngineOptions) ------------------------------------------------------

def test_warm_refits_are_a_pure_schedule_a_restarted_driver_gets_the_same_points():
    observations = branin_observations(30)
    running = EmbeddedEngine.for_space(translate(BRANIN_SPACE))
    for count in range(12, 31):  # each count between anchors chains from the anchor's fit
        running.sync(observations[:count])
        last = running.suggest(2, [observations[0].assignments], seed=count)
    restarted = EmbeddedEngine.for_space(translate(BRANIN_SPACE))
    restarted.sync(observations)
    assert restarted.suggest(2, [observations[0].assignments], seed=30) == last
    # The anchor at 24, then the chain 25..30 (each warm refit starts from the previous count's fit).
    assert restarted._hyperparameters.fits_computed == 7


def test_every_ingredient_can_be_switched_off_and_each_changes_the_answer_deterministically():
    observations = branin_observations(20)
    default = EmbeddedEngine.for_space(translate(BRANIN_SPACE))
    default.sync(observations)
    expected = default.suggest(2, [], seed=3)
    plain = EngineOptions(**{name: False for name in vars(DEFAULT_OPTIONS)})
    for options in (plain, DEFAULT_OPTIONS):
        np.random.seed(5)
        state = np.random.get_state()[1].copy()
        engine = EmbeddedEngine(EmbeddedEngine.for_space(translate(BRANIN_SPACE))._spec, options=options)
        engine.sync(observations)
        points = engine.suggest(2, [], seed=3)
        assert (np.random.get_state()[1] == state).all()
        assert points == engine.suggest(2, [], seed=3)
        assert (points == expected) == (options == DEFAULT_OPTIONS)


def test_a_noisy_objective_gets_a_fitted_noise_level_and_a_posterior_mean_incumbent():
    rng = np.random.default_rng(0)
    points = [{"x": float(rng.uniform(-5, 10)), "y": float(rng.uniform(0, 15))} for _ in range(25)]
    observations = [Observation(key=k, assignments=p, value=branin(**p) + float(rng.normal(scale=20)))
                    for k, p in enumerate(points)]
    noise = EngineOptions(fit_noise=True, mean_incumbent=True)  # switched on: off by default
    engine = EmbeddedEngine(experiment_spec(translate(BRANIN_SPACE), name="noisy"), noise)
    engine.sync(observations)
    engine.suggest(1, [], seed=0)
    fitted = list(engine._hyperparameters._fits.values())[-1][0]
    exact = EmbeddedEngine(experiment_spec(translate(BRANIN_SPACE), name="noisy"), noise)
    exact.sync(branin_observations(25, seed=0))
    exact.suggest(1, [], seed=0)
    assert fitted["tikhonov"] > list(exact._hyperparameters._fits.values())[-1][0]["tikhonov"]
