"""The hyperparameter schedule and cache: a pure function of the observations, fitted once per refit point."""

from __future__ import annotations

import numpy as np
import pytest
from hyperopt import hp
from sigoptlite.builders import LocalExperimentBuilder, LocalObservationBuilder
from sigoptlite.sources import GPSource

from sigopt_hyperopt.engines.embedded.model import (
    FIT_SUBSET_MAX,
    REFIT_EVERY_UP_TO,
    REFIT_GROWTH,
    HyperparameterCache,
    fingerprint,
    fit_subset,
    fitted_count,
    refit_points,
    rescale_to,
)
from sigopt_hyperopt.engines.base import experiment_spec
from sigopt_hyperopt.space import translate

SPACE = {"a": hp.uniform("a", 0, 1), "b": hp.uniform("b", -2, 2)}


def experiment():
    spec = experiment_spec(translate(SPACE), name="t")
    return LocalExperimentBuilder({k: v for k, v in spec.items() if k in ("name", "parameters", "metrics")})


def observations(exp, count: int, seed: int = 0, failed_every: int = 0):
    rng = np.random.default_rng(seed)
    made = []
    for i in range(count):
        a, b = float(rng.uniform(0, 1)), float(rng.uniform(-2, 2))
        failed = bool(failed_every) and i % failed_every == failed_every - 1
        values = None if failed else [{"name": "loss", "value": (a - 0.3) ** 2 + (b - 0.5) ** 2 + 0.1 * float(rng.normal())}]
        made.append(LocalObservationBuilder({"assignments": {"a": a, "b": b}, "values": values, "failed": failed,
                                             "task": None}, experiment=exp))
    return made


def test_refit_points_are_every_count_then_grow_by_the_factor():
    points = refit_points(400)
    assert points[:REFIT_EVERY_UP_TO] == list(range(1, REFIT_EVERY_UP_TO + 1))
    later = points[REFIT_EVERY_UP_TO - 1:]
    assert all(b == int(np.ceil(a * REFIT_GROWTH)) for a, b in zip(later, later[1:]))
    assert points[-1] <= 400 < int(np.ceil(points[-1] * REFIT_GROWTH))


def test_the_fitted_count_is_a_monotone_step_function_of_the_observation_count():
    counts = [fitted_count(n) for n in range(0, 1000)]
    assert counts == [fitted_count(n) for n in range(0, 1000)]  # pure
    assert all(0 <= c <= n for n, c in enumerate(counts))
    assert all(a <= b for a, b in zip(counts, counts[1:]))
    assert len(set(counts[100:1000])) < 25  # few refits once the search is long
    assert counts[500] >= 500 * 0.75


def test_the_fit_subset_is_bounded_deterministic_and_keeps_the_best_results():
    exp = experiment()
    made = observations(exp, 400, failed_every=7)
    subset = fit_subset(made, exp)
    assert len(subset) == FIT_SUBSET_MAX
    assert fit_subset(made, exp) == subset
    oldest = made[: fitted_count(len(made))]
    values = {id(o): o.get_metric_evaluation_by_name("loss").value for o in oldest if not o.failed}
    best = sorted(values.values())[: FIT_SUBSET_MAX // 3]
    kept = {id(o) for o in subset}
    assert all(any(values.get(i) == v for i in kept) for v in best)
    assert all(id(o) in {id(x) for x in oldest} for o in subset)  # only held observations


def test_the_fingerprint_follows_the_data_exactly():
    exp = experiment()
    made = observations(exp, 30)
    assert fingerprint(exp, made) == fingerprint(exp, observations(exp, 30))
    assert fingerprint(exp, made) != fingerprint(exp, observations(exp, 30, seed=1))
    assert fingerprint(exp, made) != fingerprint(exp, made[:-1])


def test_the_cache_fits_once_per_refit_point_and_a_fresh_cache_gets_the_same_hyperparameters():
    exp = experiment()
    made = observations(exp, 70)
    running = HyperparameterCache()
    source = GPSource(exp)
    for count in range(40, 71):
        last = running.hyperparameters(source, made[:count])
    assert running.fits_computed == len({fitted_count(n) for n in range(40, 71)})

    np.random.seed(5)
    expected = np.random.random(2)
    np.random.seed(5)
    fresh = HyperparameterCache()
    assert fresh.hyperparameters(GPSource(exp), made) == last
    assert (np.random.random(2) == expected).all()  # the fit's own seed never leaks out


def test_a_signal_variance_fitted_on_a_narrower_range_is_rescaled():
    fitted = [{"alpha": 2.0, "length_scales": [[0.1]], "tikhonov": 0.5, "task_length": None}]
    assert rescale_to(fitted, 1.0, 2.0)[0]["alpha"] == pytest.approx(0.5)
    assert rescale_to(fitted, 1.0, 2.0)[0]["tikhonov"] == pytest.approx(0.125)
    assert rescale_to(fitted, 1.0, 2.0)[0]["length_scales"] == [[0.1]]
    assert rescale_to(fitted, 0.0, 2.0) == fitted
    assert fitted[0]["alpha"] == 2.0  # not modified in place
