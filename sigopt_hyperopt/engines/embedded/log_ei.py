"""The logarithm of expected improvement on libsigopt's GP posterior, with its gradient.

Expected improvement ``σ h(z)``, ``h(z) = z Φ(z) + φ(z)``, ``z = (best - μ) / σ``, underflows to
exactly 0 once ``z`` is below about -38, and long before that its gradient is too small for an
optimizer to follow: late in a search, or far from the data, EI is flat zero and a search for its
maximum picks an arbitrary point.  Ament et al. ("Unexpected Improvements to Expected Improvement
for Bayesian Optimization", NeurIPS 2023) compute ``log h(z)`` directly, finite and with a useful
slope for every ``z``; that is what this module does (in numpy, with scipy's ``log_ndtr`` and
``erfcx``), for libsigopt's own acquisition functions: plain EI, EI times the probability of
success when some evaluations failed, and augmented EI under per-point noise (their factors are
added as logarithms).  The maximizer of logEI is the maximizer of EI; only the landscape handed to
the optimizer changes.
"""

from __future__ import annotations

import math

import numpy as np
from libsigopt.compute.expected_improvement import ExpectedImprovementWithPenalty
from scipy.special import erfcx, log_ndtr

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_SQRT_HALF_PI = 0.5 * math.log(math.pi / 2)
_ASYMPTOTIC_BELOW = -1.0 / math.sqrt(np.finfo(float).eps)
"""Below this ``z`` the asymptotic expansion ``-z²/2 - log√(2π) - 2 log|z|`` is exact in doubles."""
_TINY = 1e-300


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x < 0, accurate at both ends (Mächler 2012)."""
    return np.where(x > -math.log(2), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def log_h(z: np.ndarray) -> np.ndarray:
    """log(z Φ(z) + φ(z)), finite for every finite z."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    upper = z > -1
    zu = z[upper]
    out[upper] = np.log(np.maximum(zu * np.exp(log_ndtr(zu)) + np.exp(-0.5 * zu**2 - _LOG_SQRT_2PI), _TINY))
    middle = (~upper) & (z > _ASYMPTOTIC_BELOW)
    zm = z[middle]
    out[middle] = -0.5 * zm**2 - _LOG_SQRT_2PI + _log1mexp(np.log(erfcx(-zm / math.sqrt(2)) * np.abs(zm))
                                                            + _LOG_SQRT_HALF_PI)
    lower = ~(upper | middle)
    zl = z[lower]
    out[lower] = -0.5 * zl**2 - _LOG_SQRT_2PI - 2 * np.log(np.abs(zl))
    return out


def d_log_h(z: np.ndarray, log_h_z: np.ndarray) -> np.ndarray:
    """d/dz log h(z) = Φ(z) / h(z) (h' = Φ), through logarithms so that it stays finite."""
    return np.exp(log_ndtr(z) - log_h_z)


class LogExpectedImprovement:
    """log EI of a libsigopt acquisition function (``ExpectedImprovement`` or one with a penalty).

    It reads the wrapped function's posterior and ``best_value``, so lies appended to it (constant
    liar) and a changed incumbent are seen at once.
    """

    def __init__(self, expected_improvement) -> None:
        self.base = expected_improvement
        self._penalized = isinstance(expected_improvement, ExpectedImprovementWithPenalty)

    @property
    def predictor(self):
        return self.base.predictor

    @property
    def differentiable(self) -> bool:
        return bool(self.base.differentiable)

    def values(self, points: np.ndarray) -> np.ndarray:
        core = self.base.compute_core_components(points, "func")
        result = log_h(core.z) + np.log(core.sqrt_var)
        if self._penalized:
            result = result + np.log(np.maximum(self.base._evaluate_penalty(core, "func").penalty, _TINY))
        return np.nan_to_num(result, nan=-np.inf)

    def values_and_gradients(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        core = self.base.compute_core_components(points, "both")
        sqrt_var = core.sqrt_var
        lh = log_h(core.z)
        value = lh + np.log(sqrt_var)
        dz = (-core.grad_mean - core.z[:, None] * core.grad_sqrt_var) / sqrt_var[:, None]
        gradient = d_log_h(core.z, lh)[:, None] * dz + core.grad_sqrt_var / sqrt_var[:, None]
        if self._penalized:
            penalty = self.base._evaluate_penalty(core, "both")
            safe = np.maximum(penalty.penalty, _TINY)
            value = value + np.log(safe)
            gradient = gradient + penalty.grad_penalty / safe[:, None]
        return value, gradient
