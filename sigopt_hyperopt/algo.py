"""``sigopt_suggest``: SigOpt as a hyperopt search algorithm.

Use it like any hyperopt algorithm::

    from functools import partial
    from hyperopt import fmin, Trials
    from sigopt_hyperopt import sigopt_suggest

    best = fmin(fn, space, algo=sigopt_suggest, max_evals=50, trials=Trials())
    best = fmin(fn, space, algo=partial(sigopt_suggest, name="svm", observation_budget=50), ...)

On every call it reports the trials that finished since the last call (exactly once), asks the
engine for as many points as hyperopt wants, telling it which points are still being evaluated, and
returns ordinary trial documents.  Everything it needs to continue later lives in the trials.

This module is the hyperopt algorithm protocol and nothing more: reading the trials is in
:mod:`.reporting`, opening the engine in :mod:`.opening`, the driver's cache in :mod:`.session`,
the open-suggestion limit in :mod:`.bandwidth`.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .metrics import LinearConstraint, Metric, check_metrics
from .bandwidth import default_parallel_bandwidth, follow_the_pool, wait_for_a_free_suggestion
from .options import DEFAULT_WAIT_TIMEOUT, SearchOptions
from .reporting import MISC_KEY, fmin_cancelled
from .engines.remote.retry import DEFAULT_POLICY, RetryPolicy
from .session import Session, session_for


def sigopt_suggest(
    new_ids: Sequence[int],
    domain: Any,
    trials: Any,
    seed: int,
    *,
    name: str | None = None,
    project: str | None = None,
    observation_budget: int | None = None,
    parallel_bandwidth: int | None = None,
    experiment_id: str | None = None,
    connection: Any = None,
    retry: RetryPolicy = DEFAULT_POLICY,
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    metrics: Iterable[Metric] | None = None,
    linear_constraints: Iterable[LinearConstraint] | None = None,
) -> list[dict]:
    """hyperopt's algorithm protocol: new trial documents for ``new_ids``, suggested by SigOpt.

    ``connection`` chooses the engine: ``None`` (default) uses the hosted or self-hosted API when
    ``SIGOPT_API_TOKEN`` is set and SigOpt's optimizer embedded in this process otherwise;
    ``"embedded"`` or ``"remote"`` force one; a ``sigopt.Connection`` is used as given.

    With a remote experiment, at most ``parallel_bandwidth`` suggestions are open at once (default:
    the number of workers the trials can see, ``SparkTrials.parallelism`` among them, else the number
    of points fmin asks for, its ``max_queue_len``).  Asked for more, it returns fewer documents, or,
    when none is free, waits up to ``wait_timeout`` seconds for a running trial to finish.  Once the
    trials say fmin was cancelled (``SparkTrials``' timeout or early stop), it returns no document, so
    nothing starts after the cancellation.  ``retry`` bounds the retries of failed API calls (see
    :class:`~sigopt_hyperopt.engines.remote.retry.RetryPolicy`).

    ``metrics`` (a list of :class:`~sigopt_hyperopt.metrics.Metric`) makes it a multimetric search:
    SigOpt optimizes the declared metrics (one or two) under the declared constraints, reading their
    values from each result's ``"metrics"`` dict; hyperopt still needs ``"loss"`` in each result
    (``sigopt_hyperopt.fmin`` fills it).  Such a search needs ``observation_budget``.
    ``linear_constraints`` (:class:`~sigopt_hyperopt.metrics.LinearConstraint`) bound sums of
    numeric parameters.  Both are checked before any evaluation (:class:`~sigopt_hyperopt.errors.MetricsError`).
    """
    options = search_options(name=name, project=project, observation_budget=observation_budget,
                             parallel_bandwidth=parallel_bandwidth, experiment_id=experiment_id,
                             connection=connection, retry=retry, wait_timeout=wait_timeout, metrics=metrics,
                             linear_constraints=linear_constraints)
    session = _session(trials, domain, options, requested=len(new_ids))
    if not new_ids:
        return []
    state = session.report(trials)
    count = len(new_ids)
    if session.bandwidth is not None and options.parallel_bandwidth is None and options.experiment_id is None:
        follow_the_pool(session, default_parallel_bandwidth(trials, count))
    if session.bandwidth is not None:
        if len(state.held) >= session.bandwidth:
            state = wait_for_a_free_suggestion(session, trials, state, lambda: session.report(trials))
        count = min(count, session.bandwidth - len(state.held))
    if fmin_cancelled(trials):  # e.g. SparkTrials' timeout ended a wait for a free suggestion
        return []
    suggestions = session.engine.suggest(count, state.pending, seed, owned=state.owned)
    if fmin_cancelled(trials):
        session.engine.release([s.id for s in suggestions if s.id is not None])
        return []
    miscs = []
    for tid, suggestion in zip(new_ids, suggestions):
        idxs, vals = session.space.to_idxs_vals(suggestion.assignments, tid)
        miscs.append(
            {
                "tid": tid,
                "cmd": domain.cmd,
                "workdir": domain.workdir,
                "idxs": idxs,
                "vals": vals,
                MISC_KEY: {
                    "experiment": session.engine.experiment_id,
                    "suggestion": suggestion.id,
                    "assignments": suggestion.assignments,
                },
            }
        )
    ids = [misc["tid"] for misc in miscs]
    return trials.new_trial_docs(ids, [None] * len(ids), [domain.new_result() for _ in ids], miscs)


sigopt_suggest.suggests_batches = True  # type: ignore[attr-defined]
"""SigOpt plans a batch's points together (and may return fewer): the pool's loop asks for whole batches."""


def report_finished(trials: Any, space: Any, **options: Any) -> None:
    """Report every finished trial not reported yet, without asking for new points.

    ``hyperopt.fmin`` calls the algorithm only when it wants new points, so the trials that finish
    after its last call reach SigOpt when the search is continued.  ``sigopt_hyperopt.fmin`` reports
    them itself; after ``hyperopt.fmin``, call this (with the space and the options given to
    ``sigopt_suggest``) to report them now::

        best = fmin(fn, space, algo=partial(sigopt_suggest, **options), trials=trials, max_evals=100)
        report_finished(trials, space, **options)
    """
    from hyperopt.base import Domain

    session = _session(trials, Domain(_never_called, space), search_options(**options), requested=0)
    if hasattr(trials, "refresh"):
        trials.refresh()
    session.report(trials)


def search_options(*, metrics: Iterable[Metric] | None = None,
                   linear_constraints: Iterable[LinearConstraint] | None = None, **options: Any) -> SearchOptions:
    """``sigopt_suggest``'s keywords as a :class:`SearchOptions`, the metrics checked (before any evaluation)."""
    declared = check_metrics(metrics, observation_budget=options.get("observation_budget"),
                             budget_hint="pass observation_budget= to sigopt_suggest (e.g. functools.partial("
                                         "sigopt_suggest, metrics=..., observation_budget=max_evals)); "
                                         "sigopt_hyperopt.fmin passes max_evals itself")
    if linear_constraints is not None and not isinstance(linear_constraints, (list, tuple)):
        linear_constraints = list(linear_constraints)
    return SearchOptions(**options, metrics=declared, linear_constraints=tuple(linear_constraints or ()))


def _never_called(params: Any) -> Any:
    raise RuntimeError("report_finished evaluates nothing")


def _session(trials: Any, domain: Any, options: SearchOptions, *, requested: int) -> Session:
    return session_for(trials, domain, options,
                       default_bandwidth=lambda: default_parallel_bandwidth(trials, requested))
