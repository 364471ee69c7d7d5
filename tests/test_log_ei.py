"""logEI: log of libsigopt's EI where EI is representable, finite and sloped where EI underflows."""

from __future__ import annotations

import numpy as np
from libsigopt.compute.expected_improvement import ExpectedImprovement
from scipy.stats import norm

from sigopt_hyperopt.engines.embedded.log_ei import LogExpectedImprovement, d_log_h, log_h

from .test_embedded import BRANIN_SPACE, observed_engine  # noqa: F401


def test_log_h_is_the_log_of_h_where_h_is_representable():
    z = np.linspace(-25, 8, 400)
    direct = np.log(z * norm.cdf(z) + norm.pdf(z))
    assert np.allclose(log_h(z), direct, rtol=1e-9, atol=1e-12)


def test_log_h_stays_finite_and_decreasing_where_h_underflows():
    z = -np.logspace(1.5, 12, 200)[::-1]  # -1e12 .. -31.6, increasing
    values = log_h(z)
    assert np.all(np.isfinite(values))
    assert np.all(np.diff(values) > 0)
    assert -40.0 * norm.cdf(-40.0) + norm.pdf(-40.0) == 0.0  # h itself underflows there


def test_the_derivative_of_log_h_matches_finite_differences():
    z = np.array([-1e4, -50.0, -5.0, -1.0, -0.3, 0.0, 2.0, 6.0])
    step = 1e-6 * np.maximum(1, np.abs(z))
    numeric = (log_h(z + step) - log_h(z - step)) / (2 * step)
    assert np.allclose(d_log_h(z, log_h(z)), numeric, rtol=1e-5)


def _branin_ei():
    """libsigopt's EI on the engine's real GP for 14 Branin results (captured from a real suggest call)."""
    from sigopt_hyperopt.engines.embedded.acquisition import BatchedGpNextPoints

    engine, _ = observed_engine(14)
    captured = {}

    class Capture(BatchedGpNextPoints):
        def view(self):
            gp = self.form_gaussian_process_for_acquisition_function()
            captured["ei"] = ExpectedImprovement(gp)
            captured["domain"] = self.form_af_optimization_domain(captured["ei"])
            return super().view()

    import sigopt_hyperopt.engines.embedded.engine as embedded

    original = embedded.BatchedGpNextPoints
    embedded.BatchedGpNextPoints = Capture
    try:
        engine.suggest(1, [], seed=0)
    finally:
        embedded.BatchedGpNextPoints = original
    return captured["ei"], captured["domain"]


def test_log_ei_on_libsigopts_gp_is_the_log_of_its_ei_and_its_gradient_is_right():
    ei, domain = _branin_ei()
    log_ei = LogExpectedImprovement(ei)
    points = domain.generate_quasi_random_points_in_domain(200)
    plain = ei.evaluate_at_point_list(points)
    representable = plain > 1e-200
    assert representable.sum() > 20
    assert np.allclose(log_ei.values(points)[representable], np.log(plain[representable]), rtol=1e-8, atol=1e-10)

    values, gradients = log_ei.values_and_gradients(points[:5])
    assert np.allclose(values, log_ei.values(points[:5]))
    step = 1e-6
    for axis in range(points.shape[1]):
        shift = np.zeros(points.shape[1])
        shift[axis] = step
        numeric = (log_ei.values(points[:5] + shift) - log_ei.values(points[:5] - shift)) / (2 * step)
        assert np.allclose(gradients[:, axis], numeric, rtol=1e-3, atol=1e-6)


def test_log_ei_is_finite_where_ei_is_zero():
    ei, domain = _branin_ei()
    ei.best_value = ei.best_value - 100.0  # an incumbent far below anything the model expects
    points = domain.generate_quasi_random_points_in_domain(100)
    assert np.all(ei.evaluate_at_point_list(points) == 0)
    values = LogExpectedImprovement(ei).values(points)
    assert np.all(np.isfinite(values))
    assert np.ptp(values) > 0  # still ranks the points
