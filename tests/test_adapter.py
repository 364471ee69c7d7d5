"""``sigopt_hyperopt.fmin``: hyperopt's fmin that leaves the SigOpt experiment complete.

Against the real ``sigopt`` client and tests/sigopt_http_server.py: after the search, the experiment
holds one observation per evaluated trial and no open suggestion, whether fmin returned, the
objective raised, or the user pressed Ctrl-C (a KeyboardInterrupt raised where hyperopt would see
it).  hyperopt's own fmin is run beside it to show what is being fixed.
"""

from __future__ import annotations

import inspect
import warnings
from functools import partial

import hyperopt
import numpy as np
import pytest
from hyperopt import STATUS_OK, Trials
from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING

import sigopt_hyperopt
from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.mongo import MongoTrials
from sigopt_hyperopt.engines.remote.engine import TRIAL_ID_METADATA_KEY
from sigopt_hyperopt.reporting import MISC_KEY

from .remote_driver import FAST_RETRIES, SPACE
from .objectives import slow_quadratic
from .test_mongo import start_workers, stop_workers
from .test_remote import assert_reported_exactly_once, experiment_of, server  # noqa: F401  (fixture)

ALGO = partial(sigopt_suggest, retry=FAST_RETRIES)


def quadratic(params):
    return (params["x"] - 0.3) ** 2


def search(trials, max_evals, fn=quadratic, *, run=sigopt_hyperopt.fmin, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return run(fn, SPACE, algo=ALGO, max_evals=max_evals, trials=trials, rstate=np.random.default_rng(0),
                   show_progressbar=False, **kwargs)


def evaluated(trials):
    return [d["tid"] for d in trials._dynamic_trials if d["state"] in (JOB_STATE_DONE, JOB_STATE_ERROR)]


def test_the_signature_is_hyperopts():
    """hyperopt's parameters, in its order, with its defaults; then the multimetric keywords (keyword-only)."""
    ours = dict(inspect.signature(sigopt_hyperopt.fmin).parameters)
    extras = {name: ours.pop(name) for name in ("metrics", "linear_constraints")}
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is None for p in extras.values())
    theirs = inspect.signature(hyperopt.fmin).parameters
    assert list(ours) == list(theirs)
    assert {name: p.default for name, p in ours.items()} == {name: p.default for name, p in theirs.items()}


def test_the_experiment_is_complete_where_hyperopts_fmin_leaves_the_last_suggestion_open(server):
    theirs = Trials()
    search(theirs, 6, run=hyperopt.fmin)
    left_open = experiment_of(server, theirs)
    assert len(left_open.observations) == 5 and len(left_open.open_suggestions) == 1

    ours = Trials()
    best = search(ours, 6)
    experiment = experiment_of(server, ours)
    assert experiment is not left_open
    assert_reported_exactly_once(experiment, range(6))
    assert experiment.open_suggestions == []
    assert best == ours.argmin  # hyperopt's return value


def test_with_no_algo_and_no_trials_it_is_sigopts_embedded_engine_and_returns_like_hyperopt(monkeypatch):
    monkeypatch.delenv("SIGOPT_API_TOKEN", raising=False)
    best = sigopt_hyperopt.fmin(quadratic, SPACE, max_evals=6, rstate=np.random.default_rng(1),
                                show_progressbar=False, return_argmin=False)
    assert set(best) == {"x"} and -1 <= best["x"] <= 1


def test_ctrl_c_in_the_objective_leaves_the_evaluated_trials_reported_and_no_open_suggestion(server):
    calls = []

    def interrupted_on_the_fourth(params):
        calls.append(params)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return quadratic(params)

    trials = Trials()
    with pytest.raises(KeyboardInterrupt):
        search(trials, 8, interrupted_on_the_fourth)
    experiment = experiment_of(server, trials)
    assert_reported_exactly_once(experiment, [0, 1, 2])
    assert experiment.open_suggestions == []
    [stopped] = [d for d in trials._dynamic_trials if d["tid"] == 3]
    assert stopped["state"] == JOB_STATE_CANCEL
    assert experiment.suggestions[stopped["misc"][MISC_KEY]["suggestion"]]["state"] == "deleted"

    # The search continues from there: new points, and still exactly one observation per evaluation.
    search(trials, 8)
    assert_reported_exactly_once(experiment, evaluated(trials))
    assert len(evaluated(trials)) == 8 and experiment.open_suggestions == []


@pytest.mark.parametrize("catch", [True, False])
def test_an_objective_that_raises_is_reported_as_a_failure(server, catch):
    def fails_on_the_third(params, calls=[]):
        calls.append(params)
        if len(calls) == 3:
            raise RuntimeError("diverged")
        return quadratic(params)

    trials = Trials()
    if catch:
        search(trials, 5, fails_on_the_third, catch_eval_exceptions=True)
    else:
        with pytest.raises(RuntimeError, match="diverged"):
            search(trials, 5, fails_on_the_third)
    experiment = experiment_of(server, trials)
    expected = range(5) if catch else range(3)
    assert_reported_exactly_once(experiment, expected)
    assert [o["failed"] for o in sorted(experiment.observations, key=lambda o: o["metadata"][TRIAL_ID_METADATA_KEY])] == [
        tid == 2 for tid in expected]
    assert experiment.open_suggestions == []


def test_under_mongo_trials_the_experiment_is_complete_when_fmin_returns(server, mongo_db):
    workers = start_workers(mongo_db, 2)
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="complete")
        search(trials, 8, slow_quadratic, max_queue_len=2)
    finally:
        stop_workers(workers)
    experiment = experiment_of(server, trials)
    done = [d["tid"] for d in trials.all_trial_docs() if d["state"] == JOB_STATE_DONE]
    assert len(done) == 8
    assert_reported_exactly_once(experiment, done)
    assert experiment.open_suggestions == []


def test_under_mongo_trials_ctrl_c_cancels_the_queued_jobs_and_keeps_the_running_ones(server, mongo_db):
    workers = start_workers(mongo_db, 1)

    def ctrl_c_once_three_are_done(trials, *args):
        if trials.count_by_state_unsynced(JOB_STATE_DONE) >= 3:
            raise KeyboardInterrupt
        return False, args

    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="interrupted")
        with pytest.raises(KeyboardInterrupt):
            search(trials, 12, slow_quadratic, max_queue_len=3, early_stop_fn=ctrl_c_once_three_are_done)
        docs = trials.all_trial_docs()
        experiment = experiment_of(server, trials)
        assert not [d for d in docs if d["state"] == JOB_STATE_NEW], "queued jobs were left for the workers"
        cancelled = [d for d in docs if d["state"] == JOB_STATE_CANCEL]
        assert cancelled
        for doc in cancelled:
            assert experiment.suggestions[doc["misc"][MISC_KEY]["suggestion"]]["state"] == "deleted"
        # The job the worker was running is still being evaluated: its suggestion stays open (it may
        # have finished since the interrupt; it is then reported when the search continues).
        reported = [o["metadata"][TRIAL_ID_METADATA_KEY] for o in experiment.observations]
        assert len(reported) == len(set(reported)) >= 3
        assert set(reported) <= {d["tid"] for d in docs if d["state"] == JOB_STATE_DONE}
        unreported = {d["misc"][MISC_KEY]["suggestion"] for d in docs
                      if d["state"] != JOB_STATE_CANCEL and d["tid"] not in reported}
        assert len(unreported) <= 1 and {s["id"] for s in experiment.open_suggestions} == unreported

        # Continued later, the search waits for the running job, reports it and closes everything.
        search(trials, 0)
    finally:
        stop_workers(workers)
    docs = trials.all_trial_docs()
    assert not [d for d in docs if d["state"] in (JOB_STATE_NEW, JOB_STATE_RUNNING)]
    assert_reported_exactly_once(experiment, [d["tid"] for d in docs if d["state"] in (JOB_STATE_DONE, JOB_STATE_ERROR)])
    assert experiment.open_suggestions == []


def test_with_another_algorithm_it_is_hyperopts_fmin(server):
    trials = Trials()
    best = sigopt_hyperopt.fmin(quadratic, SPACE, algo=hyperopt.rand.suggest, max_evals=4, trials=trials,
                                rstate=np.random.default_rng(0), show_progressbar=False)
    assert len(trials.trials) == 4 and set(best) == {"x"}
    assert server.experiments == {}
    assert all(t["result"]["status"] == STATUS_OK for t in trials.trials)
