"""The GP's hyperparameters by maximum a posteriori, fitted to convergence in the log domain.

libsigopt fits its Gaussian process's hyperparameters by bare maximum likelihood: ten SLSQP starts in
the *linear* domain, stopped at a relative tolerance of 1e-2.  Measured on the suite, three things
follow: with few observations the likelihood prefers length scales far shorter than the function's
(the GP becomes a set of spikes and expected improvement explores at random); the fit stops long
before the optimum (length scales spanning three decades in a linear domain are badly conditioned);
and a fitted noise variance cannot fall below 1e-4 of the values' variance, which hides the precision
a noiseless objective allows (fitted noise cost Branin 10x in regret).

This module keeps libsigopt's model and its log marginal likelihood (value and gradient,
``GaussianProcessLogMarginalLikelihood``) and replaces the search:

- **priors** (so the fit is a posterior mode): each numeric length scale, as a multiple of its
  parameter's width, is log-normal with a median that grows with the square root of the dimension
  (the dimension-scaled prior of Hvarfner, Hellsten and Nardi, "Vanilla Bayesian optimization performs
  great in high dimensions", 2024, which BoTorch now uses by default); the signal variance is
  log-normal around the values' variance; a fitted noise variance has a prior that is nearly flat
  for small noise and penalizes noise above a few per cent of the variance (the shape Optuna's
  GPSampler uses on standardized values);
- **bounds** libsigopt's below, wider above (length scales up to ``LENGTH_SCALE_UPPER`` widths, noise
  down to ``NOISE_LOWER`` of the variance);
- **L-BFGS-B in log parameters** from the given hyperparameters (the last anchor's, or libsigopt's
  defaults) and, unless ``fast_fit`` makes it a single run, the prior's median; with ``prior_draws``
  (off, except in the multimetric fits) also from a few draws from the prior.

Every draw comes from numpy's global generator, which the caller seeds from the fitted data.
"""

from __future__ import annotations

import math
from typing import Collection

import numpy as np
from scipy.optimize import minimize
from libsigopt.aux.constant import CATEGORICAL_EXPERIMENT_PARAMETER_NAME, MINIMUM_VALUE_VAR
from libsigopt.compute.log_likelihood import GaussianProcessLogMarginalLikelihood
from libsigopt.compute.misc.constant import DEFAULT_COVARIANCE_KERNEL, DISCRETE_UNIQUENESS_LENGTH_SCALE_MIN_BOUND
from libsigopt.compute.misc.data_containers import HistoricalData
from libsigopt.views.rest.gp_hyper_opt_multimetric import GpHyperOptMultimetricView, form_one_hot_hyperparameter_domain

LENGTH_SCALE_UPPER = 20.0
"""Largest numeric length scale, in widths of its parameter (libsigopt stops at 1)."""
LENGTH_SCALE_PRIOR_SIGMA = math.sqrt(3.0)
"""Standard deviation of log(length scale / width) under the prior."""
TIGHT_WEIGHT = 0.1
ALPHA_PRIOR_SIGMA = 1.5
"""Standard deviation of log(signal variance / values' variance) under the prior."""
NOISE_LOWER = 1e-6
"""Smallest fitted noise variance, as a fraction of the values' variance (libsigopt: 1e-4)."""
NOISE_UPPER = 1.0
NOISE_PRIOR_RATE = 30.0
NOISE_PRIOR_SHAPE = 1.1
"""Gamma(shape, rate) on noise variance / values' variance: about flat below 1 %, small above 10 %."""
RANDOM_STARTS = 4
"""With ``prior_draws``: starts drawn from the prior in a full fit, besides the given hyperparameters and
the prior's median."""
MAX_ITERATIONS = 200
FAST_FTOL = 1e-6
FAST_GTOL = 1e-3
"""With ``fast_fit``: L-BFGS-B stops at this relative decrease / projected gradient (scipy: 2.2e-9, 1e-5)."""
FAILED = 1e30
"""What an unfactorizable kernel matrix scores (L-BFGS-B backs off from it)."""


def length_scale_prior_median(dimension: int) -> float:
    """The prior's median length scale, in widths: exp(sqrt(2) + log(d) / 2)."""
    return math.exp(math.sqrt(2.0) + 0.5 * math.log(max(dimension, 1)))


class _Layout:
    """Where each hyperparameter sits in libsigopt's vector [alpha, one-hot length scales..., noise]."""

    def __init__(self, view, historical: HistoricalData, use_noise: bool, wide_prior: bool = False,
                 categorical_prior: Collection[int] = ()) -> None:
        self.wide_prior = wide_prior
        domain = form_one_hot_hyperparameter_domain(
            view.domain, historical, use_noise,
            DISCRETE_UNIQUENESS_LENGTH_SCALE_MIN_BOUND[DEFAULT_COVARIANCE_KERNEL], view.task_cost_populated,
        )
        lower, upper = (np.asarray(b, dtype=float) for b in domain.get_lower_upper_bounds())
        self.variance = max(float(np.var(historical.points_sampled_value)), MINIMUM_VALUE_VAR)
        self.widths = np.full(len(lower), np.nan)  # numeric length scales only
        index = 1
        for mapping in view.domain.one_hot_to_categorical_mapping:
            if mapping["var_type"] == CATEGORICAL_EXPERIMENT_PARAMETER_NAME:
                for _ in mapping["input_ind_value_map"]:
                    if mapping["output_ind"] in categorical_prior:  # a one-hot coordinate spans 1; categories may be alike
                        self.widths[index] = 1.0
                        upper[index] = LENGTH_SCALE_UPPER
                    index += 1
                continue
            bounds = view.domain.domain_components[mapping["output_ind"]]["elements"]
            self.widths[index] = bounds[-1] - bounds[0]
            upper[index] = LENGTH_SCALE_UPPER * self.widths[index]
            index += 1
        self.numeric = ~np.isnan(self.widths)
        self.noise = len(lower) - 1 if use_noise else None
        if self.noise is not None:
            lower[self.noise] = NOISE_LOWER * self.variance
            upper[self.noise] = NOISE_UPPER * self.variance
        self.log_lower, self.log_upper = np.log(lower), np.log(upper)
        dimension = view.domain.one_hot_dim
        self.log_median = np.log(np.clip(np.where(self.numeric, length_scale_prior_median(dimension) * np.nan_to_num(
            self.widths, nan=1.0), np.exp(0.5 * (self.log_lower + self.log_upper))), lower, upper))
        self.log_median[0] = math.log(self.variance)
        if self.noise is not None:
            self.log_median[self.noise] = math.log(1e-3 * self.variance)

    def log_prior(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The log prior density (up to a constant) and its gradient in the log parameters."""
        value, gradient = 0.0, np.zeros_like(theta)
        if not self.wide_prior:
            inverse_square = np.exp(-2.0 * (theta[self.numeric] - np.log(self.widths[self.numeric])))
            value -= TIGHT_WEIGHT * float(np.sum(inverse_square + 1.0 / inverse_square))
            gradient[self.numeric] = 2.0 * TIGHT_WEIGHT * (inverse_square - 1.0 / inverse_square)
        else:
            z = (theta[self.numeric] - self.log_median[self.numeric]) / LENGTH_SCALE_PRIOR_SIGMA
            value -= 0.5 * float(np.sum(z * z))
            gradient[self.numeric] = -z / LENGTH_SCALE_PRIOR_SIGMA
        z0 = (theta[0] - math.log(self.variance)) / ALPHA_PRIOR_SIGMA
        value -= 0.5 * z0 * z0
        gradient[0] = -z0 / ALPHA_PRIOR_SIGMA
        if self.noise is not None:
            ratio = math.exp(theta[self.noise]) / self.variance
            value += (NOISE_PRIOR_SHAPE - 1.0) * math.log(ratio) - NOISE_PRIOR_RATE * ratio
            gradient[self.noise] = (NOISE_PRIOR_SHAPE - 1.0) - NOISE_PRIOR_RATE * ratio
        return value, gradient

    def draw(self) -> np.ndarray:
        """A start drawn from the prior (categorical length scales uniform in log), within the bounds."""
        theta = self.log_median.copy()
        theta[self.numeric] += LENGTH_SCALE_PRIOR_SIGMA * np.random.standard_normal(int(self.numeric.sum()))
        theta[0] += ALPHA_PRIOR_SIGMA * np.random.standard_normal()
        categorical = ~self.numeric
        categorical[0] = False
        if self.noise is not None:
            categorical[self.noise] = False
            theta[self.noise] = np.random.uniform(self.log_lower[self.noise], math.log(0.1 * self.variance))
        theta[categorical] = np.random.uniform(self.log_lower[categorical], self.log_upper[categorical])
        return np.clip(theta, self.log_lower, self.log_upper)


def _negative_log_posterior(likelihood: GaussianProcessLogMarginalLikelihood, layout: _Layout):
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        try:
            likelihood.hyperparameters = theta
            value = likelihood.compute_log_likelihood()  # libsigopt's: 2 x log likelihood + const
            gradient = likelihood.compute_grad_log_likelihood()
        except (np.linalg.LinAlgError, ValueError):
            return FAILED, np.zeros_like(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            return FAILED, np.zeros_like(theta)
        prior, prior_gradient = layout.log_prior(theta)
        return -(value + 2.0 * prior), -(gradient + 2.0 * prior_gradient)
    return objective


class MapHyperparameterFit(GpHyperOptMultimetricView):
    """libsigopt's hyperparameter view, fitting a posterior mode with L-BFGS-B (see the module)."""

    random_starts = RANDOM_STARTS

    def call_hyperopt_per_metric(self, one_hot_points, values, value_vars, hyperparameter_dict):
        historical = HistoricalData(self.dim_with_task)
        historical.append_historical_data(one_hot_points, values, value_vars)
        use_noise = hyperparameter_dict["tikhonov"] is not None
        likelihood = GaussianProcessLogMarginalLikelihood(
            self.form_one_hot_covariance_base(self.domain, hyperparameter_dict), historical,
            mean_poly_indices=self.polynomial_indices, use_auto_noise=use_noise, log_domain=True,
        )
        options = self.params.get("engine_options")
        layout = _Layout(self, historical, use_noise, wide_prior=bool(options and options.wide_prior),
                         categorical_prior=set(self.params.get("categorical_prior_parameters") or ()))
        given = np.clip(likelihood.hyperparameters, layout.log_lower, layout.log_upper)
        fast = bool(options and options.fast_fit)
        draws = self.random_starts if options is None or options.prior_draws else 0
        starts = [given] if fast and draws == 0 else [given, layout.log_median]
        starts += [layout.draw() for _ in range(draws)]
        objective = _negative_log_posterior(likelihood, layout)
        bounds = list(zip(layout.log_lower, layout.log_upper))
        best_theta, best_value = given, objective(given)[0]
        tolerances = {"ftol": FAST_FTOL, "gtol": FAST_GTOL} if fast else {}
        for start in starts:
            result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                              options={"maxiter": MAX_ITERATIONS, **tolerances})
            if result.fun < best_value:
                best_theta, best_value = np.clip(result.x, layout.log_lower, layout.log_upper), float(result.fun)
        fitted = np.exp(best_theta).tolist()
        alpha = fitted.pop(0)
        tikhonov = fitted.pop(-1) if use_noise else None
        task_length = fitted.pop(-1) if self.task_cost_populated else None
        return {
            "alpha": alpha,
            "length_scales": self.domain.map_one_hot_length_scales_to_categorical(fitted),
            "task_length": task_length,
            "tikhonov": tikhonov,
        }


class WarmMapHyperparameterFit(MapHyperparameterFit):
    """The same fit from the given hyperparameters and the prior's median only."""

    random_starts = 0
