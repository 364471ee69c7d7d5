"""``sigopt_hyperopt.fmin``: hyperopt's ``fmin`` that leaves the SigOpt experiment complete.

hyperopt calls the algorithm only when it wants new points, so with ``hyperopt.fmin`` the trials
that finish after its last call (at least the last one) are reported only when the search is
continued, and their suggestions stay open on a SigOpt server meanwhile.  This ``fmin`` is
hyperopt's, same signature and return value, with ``algo`` defaulting to :func:`sigopt_suggest`;
when it returns or raises, it finishes the search:

* trials evaluated in this process (``Trials``) that did not finish, because the objective was
  interrupted (KeyboardInterrupt) or raised, are marked cancelled: nobody will evaluate them;
* under ``MongoTrials``, an interrupted search's queued jobs are cancelled; jobs already running on
  workers are left to finish and are reported when the search is continued (their suggestions stay
  open, correctly: those points are being evaluated); the interrupt reaches the caller as
  :class:`~sigopt_hyperopt.errors.SearchInterrupted`, which says how to continue;
* every finished trial not reported yet is reported, failures included, and the suggestions of
  cancelled trials are deleted, so the experiment holds exactly the search's evaluations;
* a ``MongoTrials`` driver that lost its search to another driver (``SearchBusyError``) does none of
  this: the trials are the other driver's now (see :mod:`sigopt_hyperopt.mongo.fence`).

With another ``algo`` (``tpe.suggest``...) it is hyperopt's ``fmin`` and nothing more.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any, Callable, Iterable

import cloudpickle
import hyperopt
from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_NEW, JOB_STATE_RUNNING, Trials
from hyperopt.fmin import generate_trials_to_calculate, space_eval
from hyperopt.utils import coarse_utcnow

from .algo import sigopt_suggest
from .errors import MetricsError, SearchBusyError
from .metrics import LinearConstraint, Metric, check_metrics
from .metrics_results import best_feasible
from .fmin_checks import CheckedObjective, all_trials_failed, check_max_evals, no_trial_succeeded
from .reporting import all_trial_docs
from .session import current_session

logger = logging.getLogger(__name__)


def fmin(
    fn: Callable[..., Any],
    space: Any,
    algo: Callable[..., Any] | None = None,
    max_evals: int | None = None,
    timeout: float | None = None,
    loss_threshold: float | None = None,
    trials: Any = None,
    rstate: Any = None,
    allow_trials_fmin: bool = True,
    pass_expr_memo_ctrl: Any = None,
    catch_eval_exceptions: bool = False,
    verbose: bool = True,
    return_argmin: bool = True,
    points_to_evaluate: list[dict] | None = None,
    max_queue_len: int = 1,
    show_progressbar: Any = True,
    early_stop_fn: Callable[..., Any] | None = None,
    trials_save_file: str = "",
    *,
    metrics: Iterable[Metric] | None = None,
    linear_constraints: Iterable[LinearConstraint] | None = None,
) -> Any:
    """Minimize ``fn`` over ``space`` as ``hyperopt.fmin`` does, with SigOpt, and finish the experiment.

    Every argument means what it means to ``hyperopt.fmin``; ``algo`` defaults to
    :func:`~sigopt_hyperopt.sigopt_suggest` (configure it with ``functools.partial``).  The trials
    object is created here when none is given, so the search can be finished; it is the same one
    hyperopt would make (from ``trials_save_file`` or ``points_to_evaluate``).

    Unlike hyperopt's, it refuses a ``max_evals`` that can run nothing before any work, raises
    :class:`~sigopt_hyperopt.errors.ObjectiveResultError` when the objective returns something that
    is not a result, and :class:`~sigopt_hyperopt.errors.AllTrialsFailedError` (a hyperopt
    ``AllTrialsFailed``) naming the first failure when no trial succeeded.

    ``metrics`` (a list of :class:`~sigopt_hyperopt.metrics.Metric`) makes it a multimetric search
    (see docs/multimetric.md): the objective returns ``{"status": "ok", "metrics": {...}}``, the
    ``loss`` hyperopt needs is filled from the first optimized metric when the objective gives none,
    ``max_evals`` is SigOpt's observation budget, and the return value is the point of
    :func:`~sigopt_hyperopt.metrics_results.best_feasible` (the best feasible trial; with two optimized
    metrics, the Pareto front's trial best on the first).  ``linear_constraints`` bound sums of numeric
    parameters.  Both are checked before any evaluation.
    """
    if trials is None:
        trials = _new_trials(points_to_evaluate, trials_save_file)
    check_max_evals(max_evals, trials)
    declared: tuple[Metric, ...] = ()
    if metrics is not None or linear_constraints is not None:
        algo, declared = _with_metrics(algo, metrics, linear_constraints, max_evals)
    if not hasattr(trials, "_spark"):  # Spark executors need not have this package to unpickle the objective
        fn = CheckedObjective(fn, declared)
    completed = False
    try:
        result = hyperopt.fmin(
            fn, space, algo=sigopt_suggest if algo is None else algo, max_evals=max_evals, timeout=timeout,
            loss_threshold=loss_threshold, trials=trials, rstate=rstate, allow_trials_fmin=allow_trials_fmin,
            pass_expr_memo_ctrl=pass_expr_memo_ctrl, catch_eval_exceptions=catch_eval_exceptions,
            verbose=verbose, return_argmin=return_argmin, max_queue_len=max_queue_len,
            show_progressbar=show_progressbar, early_stop_fn=early_stop_fn, trials_save_file=trials_save_file,
        )
        completed = True
        if declared:
            return _best_feasible_point(trials, space, declared, result, return_argmin)
        return result
    except Exception as error:
        if not no_trial_succeeded(error, trials):
            raise
        completed = True  # every evaluation ran; there is only no best one
        raise all_trials_failed(trials) from None
    finally:
        finish_search(trials, interrupted=not completed)


def _with_metrics(algo: Any, metrics: Iterable[Metric] | None, linear_constraints: Iterable[LinearConstraint] | None,
                  max_evals: Any) -> tuple[Any, tuple[Metric, ...]]:
    """``sigopt_suggest`` configured with the declaration (checked now, before any evaluation), and
    ``max_evals`` as its observation budget unless ``algo`` gives one."""
    if algo is None or algo is sigopt_suggest:
        base: dict[str, Any] = {}
    elif isinstance(algo, functools.partial) and algo.func is sigopt_suggest and not algo.args:
        base = dict(algo.keywords)
    else:
        raise MetricsError("metrics= and linear_constraints= work with SigOpt's algorithm only: leave algo= out, or "
                           "give algo=functools.partial(sigopt_suggest, ...).")
    for key, value in (("metrics", metrics), ("linear_constraints", linear_constraints)):
        if value is not None and base.get(key) is not None:
            raise MetricsError(f"{key}= is given both to fmin and in algo's partial: give it once.")
        if value is not None:
            base[key] = list(value)
    if base.get("observation_budget") is None and max_evals is not None and max_evals < sys.maxsize:
        base["observation_budget"] = int(max_evals)
    declared = check_metrics(base.get("metrics"), observation_budget=base.get("observation_budget"),
                             budget_hint="give max_evals= (it is the observation budget)")
    return functools.partial(sigopt_suggest, **base), declared


def _best_feasible_point(trials: Any, space: Any, metrics: tuple[Metric, ...], hyperopts: Any,
                         return_argmin: bool) -> Any:
    """What a multimetric fmin returns: best_feasible's point, in the form hyperopt's fmin returns one."""
    best = best_feasible(trials, metrics)
    if best is None:
        logger.warning("no trial of the search is feasible (every threshold met); returning hyperopt's best loss "
                       "instead (see pareto_front/best_feasible, and the thresholds)")
        return hyperopts
    return best.params if return_argmin else space_eval(space, best.params)


def finish_search(trials: Any, *, interrupted: bool = False) -> None:
    """Report what finished and close what will never finish (see the module's docstring).

    Does nothing for trials no SigOpt algorithm ran on in this process, nor for a driver that lost its
    search to another one (``MongoTrials.lost_search``): it owns none of the trials any more, the
    other driver cancels and reports them, and each write would be refused (see mongo/fence.py).
    """
    session = current_session(trials)
    if session is None:
        return
    try:
        _finish(trials, session, interrupted)
    except SearchBusyError as error:  # taken over while finishing: the other driver finishes the search
        logger.warning("not finishing the search here: %s", error)


def _finish(trials: Any, session: Any, interrupted: bool) -> None:
    lost = getattr(trials, "lost_search", None)
    if lost:
        logger.warning("not finishing the search here (nothing cancelled, nothing reported): %s", lost)
        return
    if not getattr(trials, "asynchronous", False):
        _cancel_unfinished_in_process(trials)
    elif interrupted and hasattr(trials, "cancel_queued"):
        cancelled = trials.cancel_queued()
        if cancelled:
            logger.info("cancelled %d queued job(s) of the interrupted search", cancelled)
    if hasattr(trials, "refresh"):
        trials.refresh()
    state = session.report(trials)
    if interrupted and session.engine.kind == "remote":
        # Interrupted while a suggestion was being created: it is open and no trial holds it.
        session.engine.delete_orphans(state.owned)
    if state.held:
        logger.warning("%d evaluation(s) of experiment %s are still running; they are reported when the search "
                       "is continued (or by report_finished)", len(state.held), session.engine.experiment_id)


def _cancel_unfinished_in_process(trials: Any) -> None:
    """Trials a synchronous ``fmin`` left queued or running: their evaluation stopped with it."""
    now = coarse_utcnow()
    for doc in all_trial_docs(trials):
        if doc["state"] in (JOB_STATE_NEW, JOB_STATE_RUNNING):
            doc["state"] = JOB_STATE_CANCEL
            doc["refresh_time"] = now


def _new_trials(points_to_evaluate: list[dict] | None, trials_save_file: str) -> Any:
    """The trials object ``hyperopt.fmin`` would create for these arguments."""
    if trials_save_file and os.path.exists(trials_save_file):
        with open(trials_save_file, "rb") as saved:
            return cloudpickle.load(saved)  # what hyperopt saved it with
    if points_to_evaluate is not None:
        return generate_trials_to_calculate(points_to_evaluate)
    return Trials()
