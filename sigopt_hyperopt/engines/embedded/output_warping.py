"""A monotone warp of the observed losses before the Gaussian process sees them.

Real model-tuning losses are skewed: a diverged run scores 1e6 next to losses around 0.3, or a
log-loss spans three decades.  A stationary GP fitted to such values spends its signal variance on
the outliers and flattens everything near the optimum, where the search should look.  HEBO (winner
of the NeurIPS 2020 black-box challenge) models a power transform of the values instead; this is the
same idea in numpy:

1. centre and scale the losses **robustly** (median, inter-quartile range), so that a few huge values
   do not squash the bulk of them into a point before the transform can see the shape;
2. a Yeo–Johnson transform whose exponent maximizes the Gaussian likelihood of the result (bounded,
   so a handful of points cannot pick an extreme one);
3. standardize.

Every step is increasing in the loss, so the order of the observations — what the search cares
about — is kept; per-point variances are carried through by the square of the warp's slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
LAMBDA_BOUNDS = (-2.0, 2.0)
"""Yeo–Johnson exponents allowed: -2 maps the upper tail to a bounded range, 2 stretches a lower tail."""
LAMBDA_GRID = np.linspace(*LAMBDA_BOUNDS, 81)
"""The exponent is the best of this grid (steps of 0.05): vectorized in one pass, and deterministic;
scipy's scalar optimizer through ``stats.yeojohnson_llf`` cost 90 ms a call here."""


def yeo_johnson(x: np.ndarray, exponent: float | np.ndarray) -> np.ndarray:
    """The Yeo–Johnson transform; ``exponent`` may be a column of several, giving one row each."""
    x = np.asarray(x, dtype=float)
    lam = np.asarray(exponent, dtype=float)
    positive = x >= 0
    a = np.log1p(np.abs(x))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pos = np.where(np.abs(lam) < 1e-8, a, np.expm1(lam * a) / np.where(np.abs(lam) < 1e-8, 1.0, lam))
        two = 2 - lam
        neg = np.where(np.abs(two) < 1e-8, -a, -np.expm1(two * a) / np.where(np.abs(two) < 1e-8, 1.0, two))
    return np.where(positive, pos, neg)


def _log_likelihoods(x: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """Gaussian profile log-likelihood of the transformed values, per exponent (the transform's Jacobian included)."""
    transformed = yeo_johnson(x[None, :], exponents[:, None])
    variance = np.maximum(np.var(transformed, axis=1), 1e-300)
    jacobian = np.sum(np.sign(x) * np.log1p(np.abs(x)))
    return -0.5 * x.size * np.log(variance) + (exponents - 1) * jacobian
MIN_POINTS = 4
"""Fewer observations than this are only standardized: a transform needs a shape to fit."""


@dataclass(frozen=True)
class OutputWarp:
    """An increasing map of losses fitted to a set of them; ``apply`` is elementwise."""

    centre: float
    scale: float
    exponent: float | None  # None: no power transform (too few points, or constant values)
    mean: float
    std: float

    def apply(self, values: np.ndarray) -> np.ndarray:
        return (self._power(self._robust(np.asarray(values, dtype=float))) - self.mean) / self.std

    def slope(self, values: np.ndarray) -> np.ndarray:
        """d apply / d value, for carrying per-point variances through the warp."""
        x = self._robust(np.asarray(values, dtype=float))
        if self.exponent is None:
            inner = np.ones_like(x)
        else:
            lam = self.exponent
            inner = np.where(x >= 0, np.power(np.abs(x) + 1, lam - 1), np.power(np.abs(x) + 1, 1 - lam))
        return inner / (self.scale * self.std)

    def _robust(self, values: np.ndarray) -> np.ndarray:
        return (values - self.centre) / self.scale

    def _power(self, x: np.ndarray) -> np.ndarray:
        if self.exponent is None:
            return x
        return yeo_johnson(x, self.exponent)


def fit_warp(values: np.ndarray) -> OutputWarp:
    """The warp for these (finite) losses."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return OutputWarp(0.0, 1.0, None, 0.0, 1.0)
    centre = float(np.median(values))
    q25, q75 = np.percentile(values, [25, 75])
    scale = float(q75 - q25) / 1.349  # the IQR of a unit normal
    if not scale > 1e-12:
        scale = float(np.std(values))
    if not scale > 1e-12:
        return OutputWarp(centre, 1.0, None, 0.0, 1.0)
    x = (values - centre) / scale
    exponent = None
    if values.size >= MIN_POINTS:
        scores = np.nan_to_num(_log_likelihoods(x, LAMBDA_GRID), nan=-np.inf)
        exponent = float(LAMBDA_GRID[int(np.argmax(scores))])
    transformed = x if exponent is None else yeo_johnson(x, exponent)
    std = float(np.std(transformed))
    return OutputWarp(centre, scale, exponent, float(np.mean(transformed)), std if std > 1e-12 else 1.0)
