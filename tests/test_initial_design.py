"""The space-filling first points: one per slice of every parameter where random draws clump, and a
pure function of the trials."""

from __future__ import annotations

import numpy as np
from hyperopt import hp

from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
from sigopt_hyperopt.engines.base import Observation, experiment_spec
from sigopt_hyperopt.engines.embedded.options import EngineOptions
from sigopt_hyperopt.space import translate

SPACE = {f"x{i}": hp.uniform(f"x{i}", 0, 1) for i in range(8)}
FIRST = 17  # 8-D: 2 x 8 + 1 first points before the model
DESIGN = EngineOptions(space_filling_design=True)


def engine(options: EngineOptions) -> EmbeddedEngine:
    return EmbeddedEngine(experiment_spec(translate(SPACE), name="design"), options)


def fewest_slices(points: list[dict]) -> int:
    """Over the parameters: the fewest of its 17 equal slices that the points fall in."""
    return min(len({int(p[name] * FIRST) for p in points}) for name in SPACE)


def observed(points: list[dict]) -> list[Observation]:
    return [Observation(key=key, assignments=p, value=float(sum(p.values()))) for key, p in enumerate(points)]


def sequential(options: EngineOptions, seed: int, count: int = FIRST) -> list[dict]:
    """A search that asks for one point at a time, as hyperopt's fmin does."""
    search, points = engine(options), []
    for key in range(count):
        search.sync(observed(points))
        points.append(search.suggest(1, [], seed + key)[0].assignments)
    return points


def test_a_first_batch_is_the_design_a_search_gets_one_point_at_a_time():
    for seed in range(2):
        batch = [s.assignments for s in engine(DESIGN).suggest(FIRST, [], seed)]
        assert batch == sequential(DESIGN, seed)  # the same seed for the first point: the same design
        assert fewest_slices(batch) >= FIRST - 1


def test_one_point_at_a_time_still_fills_the_slices_where_random_draws_clump():
    design = [fewest_slices(sequential(DESIGN, seed)) for seed in range(3)]
    uniform = [fewest_slices(sequential(EngineOptions(), seed)) for seed in range(3)]
    # The first point is drawn before the design's seed is known; the other 16 follow one design.
    assert min(design) >= FIRST - 1
    assert max(uniform) < FIRST - 1  # 17 uniform draws fill about 11 of 17 slices


def test_the_design_is_the_same_for_the_same_trials_and_differs_between_searches():
    first = sequential(DESIGN, seed=3, count=6)
    again = engine(DESIGN)
    again.sync(observed(first[:5]))
    assert again.suggest(1, [], seed=999)[0].assignments == first[5]  # the call's seed no longer matters
    other = sequential(DESIGN, seed=4, count=6)
    assert not np.allclose([first[5][k] for k in SPACE], [other[5][k] for k in SPACE])


def test_pending_points_take_their_places_in_the_design_and_the_model_follows_it():
    search = engine(DESIGN)
    batch = [s.assignments for s in search.suggest(4, [], 7)]
    rest = [s.assignments for s in search.suggest(FIRST - 4, batch, 8)]
    assert fewest_slices(batch + rest) >= FIRST - 1
    search.sync(observed(batch + rest))
    assert len(search.suggest(2, [], 9)) == 2  # past the design: the model's points
