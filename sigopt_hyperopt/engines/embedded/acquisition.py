"""SigOpt's next-points view with a cheaper search for the maximum of expected improvement.

libsigopt's ``GpNextPointsCategorical`` maximizes expected improvement (EI) with an evolution
strategy (500 starts, 100–500 generations) and then 200 Adam runs, once per point when several are
asked for: about 350 batched posterior evaluations and 0.8–2 s per point.  Profiling shows almost all
of it is Python overhead per batch, not arithmetic.  This view keeps libsigopt's model, its EI
(plain, augmented for noise, or with failures), its constant-liar parallelism and its conversion
back to categorical/integer points, and replaces only the search:

1. score a few thousand candidates in **one** batch: Latin-hypercube points over the whole domain
   plus small Gaussian clouds around the best observations (where EI's maximum usually is once
   the model has learned something);
2. polish the best few with a short Adam ascent (step sizes relative to each dimension's width);
3. for several points, add the chosen point as a constant-liar observation and score the same
   candidates again (they are drawn once per call).

With the engine's ``discrete_search`` option (the default) or ``log_ei`` the scan and the polish work
on the logarithm of EI (:mod:`~sigopt_hyperopt.engines.embedded.log_ei`), and the polish is one L-BFGS-B run over all
starts at once (the sum of their logEI, whose gradient separates by start: one batched posterior
evaluation per step, as Optuna's GPSampler and BoTorch batch their restarts); ``discrete_search``
also keeps every candidate on the space's own points (:mod:`~sigopt_hyperopt.engines.embedded.discrete_search`).
With ``keep_close_points`` (the default) a point may land as close to an evaluated one as EI wants;
libsigopt replaces any point within 1 % of an evaluated one by a random point, which kept searches
from converging on an optimum.  With ``mean_incumbent`` the improvement is measured from the lowest
posterior mean at an evaluated point.

All randomness comes from numpy's global generator, which the engine seeds per call.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from libsigopt.aux.constant import PARALLEL_CONSTANT_LIAR
from libsigopt.compute.optimization_auxiliary import AdamParameters
from libsigopt.compute.vectorized_optimizers import AdamOptimizer
from libsigopt.views.rest.gp_next_points_categorical import GpNextPointsCategorical, convert_from_one_hot

from .discrete_search import OneHotLayout, distinct_top, maximize_on_space, polish
from .log_ei import LogExpectedImprovement
from .options import DEFAULT_OPTIONS, EngineOptions


@dataclass(frozen=True)
class SearchBudget:
    """How hard to look for EI's maximum (defaults measured on Branin/Hartmann6, docs/benchmarks.md)."""

    global_candidates: int = 2000
    best_observations: int = 5
    local_candidates: int = 100
    """Per best observation and per cloud width."""
    local_widths: tuple[float, ...] = (0.1, 0.02)
    """Standard deviations of the clouds, as fractions of each dimension's width."""
    polish_starts: int = 4
    polish_steps: int = 30
    polish_step_size: float = 0.01
    """Adam's step, as a fraction of each dimension's width."""
    lbfgs_starts: int = 5
    lbfgs_iterations: int = 25


DEFAULT_BUDGET = SearchBudget()

REPEAT_TOLERANCE = 1e-6
"""With ``keep_close_points``: a suggestion this close to an evaluated point (libsigopt's scaled
distance, relative to the domain) counts as a repeat and is replaced by a random point."""


class _WidthScaledAdam(AdamOptimizer):
    """libsigopt's Adam with a step per dimension proportional to that dimension's width.

    libsigopt's Adam takes the same absolute step (0.01) in every dimension; on a dimension spanning
    [10, 100] a 30-step polish would not move at all.
    """

    def __init__(self, domain, acquisition_function, num_multistarts, step_fraction, maxiter):
        super().__init__(domain, acquisition_function, num_multistarts, AdamParameters(), maxiter)
        lower, upper = domain.get_lower_upper_bounds()
        self.learning_rate = step_fraction * (np.asarray(upper) - np.asarray(lower))


def _candidates(domain, acquisition_function, budget: SearchBudget) -> np.ndarray:
    pieces = [domain.generate_quasi_random_points_in_domain(budget.global_candidates)]
    predictor = acquisition_function.predictor
    order = np.argsort(predictor.points_sampled_value, kind="stable")  # libsigopt minimizes scaled values
    for index in order[: budget.best_observations]:
        centre = predictor.points_sampled[index]
        for width in budget.local_widths:
            pieces.append(domain.generate_random_points_near_point(budget.local_candidates, centre, width))
    return np.concatenate(pieces, axis=0)


def _scores(acquisition_function, points: np.ndarray) -> np.ndarray:
    return np.nan_to_num(acquisition_function.evaluate_at_point_list(points), nan=-np.inf)


def _polished(domain, acquisition_function, candidates: np.ndarray, scores: np.ndarray,
              budget: SearchBudget) -> np.ndarray:
    top = np.argsort(-scores, kind="stable")[: budget.polish_starts]
    if not acquisition_function.differentiable or budget.polish_steps <= 1:
        return candidates[top[0]]
    polish = _WidthScaledAdam(domain, acquisition_function, len(top), budget.polish_step_size, budget.polish_steps)
    best, _ = polish.optimize(selected_starts=candidates[top])
    # Adam keeps the best point it evaluated, its starts included, so this never loses to the scan.
    return best if polish.best_value >= scores[top[0]] else candidates[top[0]]


def _polished_log_ei(domain, log_ei: LogExpectedImprovement, candidates: np.ndarray, scores: np.ndarray,
                     budget: SearchBudget) -> np.ndarray:
    """The best point of one L-BFGS-B run over the top distinct candidates (logEI summed over starts)."""
    top = distinct_top(candidates, scores, budget.lbfgs_starts)
    best_point, best_score = candidates[top[0]], scores[top[0]]
    if not log_ei.differentiable or budget.lbfgs_iterations <= 0 or not np.isfinite(best_score):
        return best_point
    lower, upper = (np.asarray(b, dtype=float) for b in domain.get_lower_upper_bounds())
    every = np.ones(len(lower), dtype=bool)
    ends, end_scores = polish(log_ei, candidates[top], lower, upper, every, budget.lbfgs_iterations)
    winner = int(np.argmax(end_scores))
    # Never worse than the scan: L-BFGS-B can stop at a worse point when a start's slope misleads it.
    return ends[winner] if end_scores[winner] > best_score else best_point


def set_mean_incumbent(acquisition_function, evaluated: int) -> None:
    """Measure improvement from the lowest posterior mean among the first ``evaluated`` points.

    With a fitted noise level a lucky observation lies below the function; improvement over it
    undervalues every point near the optimum.  The lies of pending points come after the evaluated
    ones in the model's data and are left out.
    """
    predictor = acquisition_function.predictor
    points = predictor.points_sampled[:evaluated]
    if len(points):
        acquisition_function.best_value = float(np.min(predictor.compute_mean_of_points(points)))


def maximize_with_constant_liar(domain, acquisition_function, count: int,
                                budget: SearchBudget = DEFAULT_BUDGET,
                                options: EngineOptions = DEFAULT_OPTIONS,
                                layout: OneHotLayout | None = None) -> np.ndarray:
    """``count`` points, each maximizing EI given the ones before it as constant-liar observations.

    With the ``discrete_search`` option and the space's ``layout``, every candidate is a point of the
    space and the search is :func:`~sigopt_hyperopt.engines.embedded.discrete_search.maximize_on_space`'s.
    """
    af = copy.deepcopy(acquisition_function)  # lies are appended to the model; keep the caller's clean
    candidates = _candidates(domain, af, budget)
    on_space = options.discrete_search and layout is not None
    if on_space:
        candidates = layout.snap(candidates)
        lower, upper = (np.asarray(b, dtype=float) for b in domain.get_lower_upper_bounds())
    log_ei = LogExpectedImprovement(af) if options.log_ei or on_space else None
    chosen = []
    for _ in range(count):
        # Every candidate is rescored: a lie next to good results can raise EI far from it (the GP
        # rings between the lie and its neighbours), so no candidate can be skipped safely.
        if on_space:
            point = maximize_on_space(layout, lower, upper, log_ei, candidates, budget.lbfgs_starts,
                                      budget.lbfgs_iterations)
        elif log_ei is not None:
            point = _polished_log_ei(domain, log_ei, candidates, log_ei.values(candidates), budget)
        else:
            point = _polished(domain, af, candidates, _scores(af, candidates), budget)
        chosen.append(point)
        if len(chosen) < count:
            af.append_lie_locations(np.atleast_2d(point))
    return np.array(chosen)


class BatchedGpNextPoints(GpNextPointsCategorical):
    """libsigopt's GP next-points view, searching EI with :func:`maximize_with_constant_liar`.

    Everything but the search is the parent's: the GP built from the model info, the acquisition
    function it chooses, the optimization domain, and the mapping back to distinct categorical points.
    Cases this search does not cover (qEI parallelism, multitask) are left to the parent.
    """

    budget: SearchBudget = DEFAULT_BUDGET

    def view(self):
        if self.params["parallelism"] != PARALLEL_CONSTANT_LIAR or self.task_cost_populated:
            return super().view()
        assert self.has_optimization_metrics, f"{self.view_name} must have optimization metrics"
        num_to_sample = self.params["num_to_sample"]
        gaussian_process = self.form_gaussian_process_for_acquisition_function()
        acquisition_function = self.form_acquisition_function(
            gaussian_process=gaussian_process,
            probabilistic_failures=self.form_probabilistic_failures_model(),
            use_parallel_ei=False,
        )
        options = self.params.get("engine_options", DEFAULT_OPTIONS)
        if options.mean_incumbent:
            pending = len(self.params["points_being_sampled"].points)
            set_mean_incumbent(acquisition_function, gaussian_process.num_sampled - pending)
        domain = self.form_af_optimization_domain(acquisition_function)
        one_hot_points = maximize_with_constant_liar(domain, acquisition_function, num_to_sample, self.budget,
                                                     options, OneHotLayout.of(self.domain))
        self.tag.update({"optimizer_info": {"search": repr(self.budget)}})
        if options.keep_close_points:
            proposed = convert_from_one_hot(one_hot_points, self.domain, acquisition_function)
            points = self.domain.replace_duplicate_points(proposed, self.points_sampled_points,
                                                          tolerance=REPEAT_TOLERANCE)
        else:
            points, _ = self.convert_one_hot_points_to_distinct_categorical_points(one_hot_points,
                                                                                   acquisition_function)
        assert len(points) == num_to_sample or self.domain.is_discrete
        return {
            "acceptable": [self.domain.check_point_acceptable(p) for p in points],
            "endpoint": self.view_name,
            "points_to_sample": points,
            "tag": self.tag,
        }
