"""The MAP hyperparameter fit: libsigopt's GP and likelihood, priors and L-BFGS-B of ours."""

from __future__ import annotations

import numpy as np
import pytest
from hyperopt import hp
from sigoptlite.builders import LocalExperimentBuilder, LocalObservationBuilder
from sigoptlite.sources import GPSource

from sigopt_hyperopt.engines.embedded.model import HyperparameterCache
from sigopt_hyperopt.engines.base import Observation, experiment_spec
from sigopt_hyperopt.engines.embedded.options import EngineOptions
from sigopt_hyperopt.engines.embedded.map_fit import LENGTH_SCALE_UPPER, length_scale_prior_median
from sigopt_hyperopt.space import translate

SPACE = {"a": hp.uniform("a", 0, 1), "b": hp.uniform("b", -2, 2), "unused": hp.uniform("unused", 0, 10)}
MAP_NOISE = EngineOptions(output_warping=False, map_fit=True, fit_noise=True, warm_fit=False)


def experiment():
    spec = experiment_spec(translate(SPACE), name="t")
    return LocalExperimentBuilder({k: v for k, v in spec.items() if k in ("name", "parameters", "metrics")})


def observations(exp, count: int, noise_sd: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    made, values = [], []
    for _ in range(count):
        point = {"a": float(rng.uniform(0, 1)), "b": float(rng.uniform(-2, 2)), "unused": float(rng.uniform(0, 10))}
        value = np.sin(6 * point["a"]) + (point["b"] - 0.5) ** 2 + noise_sd * float(rng.normal())
        values.append(value)
        made.append(LocalObservationBuilder({"assignments": point, "values": [{"name": "loss", "value": value}],
                                             "failed": False, "task": None}, experiment=exp))
    return made, np.array(values)


def fit(options: EngineOptions, noise_sd: float, count: int = 40, seed: int = 0) -> tuple[dict, float]:
    """The fitted hyperparameters and the scale libsigopt put the values on (0.2 / their range)."""
    exp = experiment()
    data, values = observations(exp, count, noise_sd, seed)
    fitted = HyperparameterCache(options=options).hyperparameters(GPSource(exp), data)[0]
    return fitted, 0.2 / float(np.ptp(values))


def test_the_fitted_noise_matches_the_noise_in_the_data_and_vanishes_without_it():
    noisy, scale = fit(MAP_NOISE, noise_sd=0.2)
    true_variance = (0.2 * scale) ** 2
    assert true_variance / 4 < noisy["tikhonov"] < true_variance * 4
    exact, _ = fit(MAP_NOISE, noise_sd=0.0)
    assert exact["tikhonov"] < noisy["tikhonov"] / 100  # libsigopt's own bounds stop at 1e-4 of the variance


def test_a_parameter_the_function_ignores_gets_a_long_length_scale():
    fitted, _ = fit(EngineOptions(map_fit=True, warm_fit=False), noise_sd=0.0)
    names = [p.name for p in experiment().parameters]
    scales = {name: scale for name, (scale,) in zip(names, fitted["length_scales"])}
    a, b, unused = scales["a"], scales["b"], scales["unused"]
    assert unused / 10 > 3 * max(a / 1, b / 4)  # in widths of each parameter
    assert unused <= LENGTH_SCALE_UPPER * 10


@pytest.mark.parametrize("options", [MAP_NOISE, EngineOptions(map_fit=True)])
def test_a_fresh_cache_fits_the_same_hyperparameters(options):
    first, _ = fit(options, noise_sd=0.1, count=25)
    again, _ = fit(options, noise_sd=0.1, count=25)
    assert first == again


def test_the_prior_median_length_scale_grows_with_the_square_root_of_the_dimension():
    assert length_scale_prior_median(4) == pytest.approx(2 * length_scale_prior_median(1))


def test_a_chained_fast_fit_is_the_same_whatever_counts_were_fitted_before():
    """fast_fit starts each warm refit from the previous count's fit: a chain back to the anchor, so a
    driver that starts at 22 observations recomputes the chain (anchor 16, then 17..22) and gets what
    a driver that saw every count got."""
    exp = experiment()
    data, _ = observations(exp, 22, noise_sd=0.1)
    options = EngineOptions(fast_fit=True)
    incremental = HyperparameterCache(options=options)
    for count in range(10, 23):
        last = incremental.hyperparameters(GPSource(exp), data[:count])
    fresh = HyperparameterCache(options=options)
    assert fresh.hyperparameters(GPSource(exp), data) == last
    assert fresh.fits_computed == 7  # the anchor at 16 and the chain 17..22, nothing older


CATEGORICAL_SPACE = {"x": hp.uniform("x", 0, 1), "colour": hp.choice("colour", ["red", "green", "blue"]),
                     "branch": hp.choice("branch", [{"kind": "flat", "v": hp.uniform("v", 0, 1)},
                                                    {"kind": "bumpy", "w": hp.uniform("w", 0, 1)}])}


def categorical_fit(options: EngineOptions) -> tuple[dict[str, list[float]], str]:
    """Length scales (by parameter) and the fit's digest, for a function that ignores the colour."""
    from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
    from sigopt_hyperopt.engines.embedded.model import categorical_parameters, fingerprint

    translated = translate(CATEGORICAL_SPACE)
    assert [c["name"] for c in translated.sigopt_conditionals] == ["branch"]
    engine = EmbeddedEngine(experiment_spec(translated, name="t"), options=options)
    points = engine._random_points(30)
    engine.sync([Observation(key=key, assignments=point,
                             value=(point["x"] - 0.3) ** 2 + (np.sin(9 * point["w"]) if "w" in point else point["v"]))
                 for key, point in enumerate(points)])
    source = GPSource(engine._experiment)
    fitted = HyperparameterCache(options=options, conditionals=["branch"]).hyperparameters(source, engine._observations)[0]
    names = [p.name for p in source.experiment.parameters]
    prior = categorical_parameters(source.experiment, ["branch"]) if options.categorical_prior else []
    return dict(zip(names, fitted["length_scales"])), fingerprint(source.experiment, engine._observations, options, prior)


def test_a_categorical_the_function_ignores_is_modelled_as_alike_but_a_conditionals_branches_are_not():
    with_prior, digest_with = categorical_fit(EngineOptions())
    without, digest_without = categorical_fit(EngineOptions(categorical_prior=False))
    assert max(without["colour"]) <= 1.01 and max(without["branch"]) <= 1.01  # libsigopt's cap
    assert min(with_prior["colour"]) > 2.0  # the colours are alike: long one-hot length scales
    assert max(with_prior["branch"]) <= 1.01  # the branches are different functions: libsigopt's bounds
    assert digest_with != digest_without


def test_the_categorical_prior_changes_nothing_on_a_space_without_categoricals():
    from sigopt_hyperopt.engines.embedded.model import fingerprint

    exp = experiment()
    data, _ = observations(exp, 20, 0.0)
    on, off = EngineOptions(), EngineOptions(categorical_prior=False)
    assert fingerprint(exp, data, on) == fingerprint(exp, data, off)
    assert (HyperparameterCache(options=on).hyperparameters(GPSource(exp), data)
            == HyperparameterCache(options=off).hyperparameters(GPSource(exp), data))


@pytest.mark.parametrize("prior_draws, runs", [(False, 1), (True, 6)])
def test_a_full_fit_starts_once_from_the_defaults_unless_the_prior_draws_are_asked_for(monkeypatch, prior_draws, runs):
    """One L-BFGS-B run from libsigopt's defaults is the measured default; ``prior_draws`` brings back
    the prior's median and its four draws (what the multimetric fits keep)."""
    from sigopt_hyperopt.engines.embedded import map_fit

    starts = []
    real_minimize = map_fit.minimize

    def counted(objective, start, **kwargs):
        starts.append(np.array(start))
        return real_minimize(objective, start, **kwargs)

    monkeypatch.setattr(map_fit, "minimize", counted)
    fit(EngineOptions(prior_draws=prior_draws, warm_fit=False), noise_sd=0.0, count=12)
    assert len(starts) == runs
    assert len({s.tobytes() for s in starts}) == runs  # distinct starts, not one start repeated


def test_the_multimetric_fits_keep_the_prior_draws():
    from sigopt_hyperopt.engines.embedded.multimetric import METRIC_FIT_OPTIONS

    assert METRIC_FIT_OPTIONS.prior_draws and not EngineOptions().prior_draws
