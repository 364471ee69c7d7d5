"""``sigopt_hyperopt.fmin`` turns hyperopt's cryptic failures into messages that say what to do.

Each case runs the real ``fmin`` with the embedded engine.  hyperopt's own wording for them:
``ValueError: dictionary update sequence element #0 ...`` (the objective returned a string),
a bare ``AllTrialsFailed`` (every loss NaN), ``Exception: There are no evaluation tasks ...``
(``max_evals=0``).
"""

from __future__ import annotations

import warnings

import hyperopt
import numpy as np
import pytest
from hyperopt import STATUS_FAIL, Trials, hp
from hyperopt.base import JOB_STATE_ERROR
from hyperopt.exceptions import AllTrialsFailed

import sigopt_hyperopt
from sigopt_hyperopt.errors import AllTrialsFailedError, ConfigurationError, ObjectiveResultError

SPACE = {"x": hp.uniform("x", -1, 1)}


def search(fn, max_evals=3, trials=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return sigopt_hyperopt.fmin(fn, SPACE, max_evals=max_evals, trials=trials if trials is not None else Trials(),
                                    rstate=np.random.default_rng(0), show_progressbar=False, **kwargs)


@pytest.mark.parametrize("returned, shown", [("0.25", "str '0.25'"), (None, "NoneType None"), ([0.25], "list [0.25]")])
def test_an_objective_returning_neither_a_number_nor_a_dict_is_told_what_to_return(returned, shown):
    with pytest.raises(ObjectiveResultError) as raised:
        search(lambda params: returned)
    message = str(raised.value)
    assert f"returned {shown}" in message
    assert "a number (the loss)" in message and "'status'" in message


def test_a_result_dict_without_a_status_or_a_loss_is_told_what_is_missing():
    with pytest.raises(ObjectiveResultError, match="no 'status'"):
        search(lambda params: {"loss": 1.0})
    with pytest.raises(ObjectiveResultError, match="'loss' is missing or not a number"):
        search(lambda params: {"status": "ok", "loss": "low"})


def test_numbers_and_result_dicts_still_pass_unchanged():
    trials = Trials()
    best = search(lambda params: {"loss": np.float32(params["x"] ** 2), "status": "ok", "extra": 7}, trials=trials)
    assert set(best) == {"x"}
    assert [t["result"]["extra"] for t in trials.trials] == [7, 7, 7]
    assert search(lambda params: True if params["x"] > 2 else params["x"] ** 2) is not None


def test_with_catch_eval_exceptions_the_trial_keeps_the_message_and_the_end_names_it():
    trials = Trials()
    with pytest.raises(AllTrialsFailedError) as raised:
        search(lambda params: "0.25", trials=trials, catch_eval_exceptions=True)
    assert [d["state"] for d in trials._dynamic_trials] == [JOB_STATE_ERROR] * 3
    assert "must return a number (the loss)" in trials._dynamic_trials[0]["misc"]["error"][1]
    assert "All 3 trials failed" in str(raised.value) and "returned str '0.25'" in str(raised.value)


def test_every_trial_nan_says_how_many_failed_and_why():
    with pytest.raises(AllTrialsFailedError) as raised:
        search(lambda params: float("nan"), max_evals=4)
    message = str(raised.value)
    assert "All 4 trials failed" in message and "loss nan" in message
    assert isinstance(raised.value, AllTrialsFailed)  # code catching hyperopt's exception still catches it


def test_every_trial_status_fail_gives_the_first_failures_own_words():
    with pytest.raises(AllTrialsFailedError, match=r"All 2 trials failed.*status 'fail'.*out of memory"):
        search(lambda params: {"status": STATUS_FAIL, "error": "out of memory"}, max_evals=2)


@pytest.mark.parametrize("max_evals", [0, -3, 2.5, "10"])
def test_a_max_evals_that_cannot_run_anything_is_refused_before_any_work(max_evals):
    calls = []
    trials = Trials()
    with pytest.raises(ConfigurationError, match="max_evals") as raised:
        search(lambda params: calls.append(params) or 0.0, max_evals=max_evals, trials=trials)
    assert "positive whole number" in str(raised.value)
    assert calls == [] and len(trials) == 0


def test_hyperopts_own_fmin_is_unchanged():
    """The checks belong to this package's fmin: hyperopt's keeps its own behaviour."""
    with pytest.raises(ValueError, match="dictionary update sequence"):
        hyperopt.fmin(lambda params: "0.25", SPACE, algo=sigopt_hyperopt.sigopt_suggest, max_evals=1,
                      trials=Trials(), show_progressbar=False)


def test_under_mongo_trials_the_workers_record_the_message_and_the_end_names_it(mongo_db):
    """The check travels with the objective to real workers; the driver's end quotes what they recorded."""
    from sigopt_hyperopt.mongo import MongoTrials

    from .test_mongo import start_workers, stop_workers

    workers = start_workers(mongo_db, 1)
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="returns-a-string")
        with pytest.raises(AllTrialsFailedError) as raised:
            search(lambda params: "0.25", max_evals=2, trials=trials)
    finally:
        stop_workers(workers)
    assert "All 2 trials failed" in str(raised.value)
    assert "returned str '0.25'" in str(raised.value) and "must return a number" in str(raised.value)


def test_max_evals_0_on_a_search_with_trials_returns_its_best_point():
    """``max_evals`` counts the stored trials: 0 (or any count already reached) only finishes the search."""
    trials = Trials()
    best = search(lambda params: params["x"] ** 2, max_evals=3, trials=trials)
    assert search(lambda params: pytest.fail("nothing is evaluated"), max_evals=0, trials=trials) == best
    with pytest.raises(ConfigurationError, match="max_evals=-1"):
        search(lambda params: 0.0, max_evals=-1, trials=trials)
