"""The warp of the losses: increasing (the order of results is kept), fitted to their shape."""

from __future__ import annotations

import numpy as np
from scipy import stats

from sigopt_hyperopt.engines.embedded.output_warping import LAMBDA_GRID, fit_warp, yeo_johnson


def test_the_transform_is_scipys_yeo_johnson():
    x = np.random.default_rng(0).normal(scale=3, size=50)
    for exponent in (-2.0, -0.5, 0.0, 1.0, 2.0, 1.3):
        assert np.allclose(yeo_johnson(x, exponent), stats.yeojohnson(x, lmbda=exponent))


def test_the_warp_is_increasing_and_its_slope_matches_it():
    rng = np.random.default_rng(1)
    for values in (rng.lognormal(sigma=2, size=40), rng.normal(size=30), np.r_[rng.uniform(0.2, 0.4, 20), 1e6]):
        warp = fit_warp(values)
        grid = np.linspace(values.min(), values.max(), 2001)
        warped = warp.apply(grid)
        assert np.all(np.diff(warped) > 0)
        middle = grid[1000]
        step = 1e-6 * max(abs(middle), 1.0)
        numeric = (warp.apply(np.array([middle + step])) - warp.apply(np.array([middle - step]))) / (2 * step)
        assert np.isclose(warp.slope(np.array([middle]))[0], numeric[0], rtol=1e-4)


def test_a_diverging_loss_no_longer_squashes_the_others():
    values = np.r_[np.linspace(0.30, 0.40, 19), 1e6]
    warped = fit_warp(values).apply(values)
    bulk = np.ptp(warped[:-1]) / np.ptp(warped)
    assert bulk > 0.1  # unwarped, the 19 ordinary losses span 1e-7 of the range
    assert warped[-1] == warped.max()


def test_gaussian_values_are_left_nearly_linear_and_skewed_ones_are_not():
    rng = np.random.default_rng(2)
    assert abs(fit_warp(rng.normal(size=200)).exponent - 1) <= 0.3
    assert fit_warp(rng.lognormal(sigma=1.5, size=200)).exponent < 0.5
    assert fit_warp(rng.lognormal(size=50)).exponent in LAMBDA_GRID


def test_constant_and_tiny_inputs_do_not_break_it():
    assert np.all(np.isfinite(fit_warp(np.full(10, 3.0)).apply(np.full(10, 3.0))))
    assert fit_warp(np.array([1.0, 2.0])).exponent is None
    assert np.all(np.isfinite(fit_warp(np.array([])).apply(np.array([1.0]))))
