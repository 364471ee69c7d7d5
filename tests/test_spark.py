"""sigopt_suggest under hyperopt's SparkTrials on a real local Spark (``local[2]``, Java from Debian).

SparkTrials evaluates each trial as a Spark job while a dispatcher thread writes states and results
into the trial documents; fmin's thread calls the algorithm meanwhile, with trials running.  One Spark
session serves the module (starting one takes about ten seconds).
"""

from __future__ import annotations

import sys
import warnings
from collections import Counter
from functools import partial

import numpy as np
import pytest
from hyperopt import Trials, fmin, hp
from hyperopt.base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
    Domain,
)
from hyperopt.spark import SparkTrials
from pyspark import cloudpickle
from pyspark.sql import SparkSession

import sigopt_hyperopt
from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.bandwidth import default_parallel_bandwidth
from sigopt_hyperopt.engines.embedded.engine import EMBEDDED_EXPERIMENT_ID
from sigopt_hyperopt.engines.remote.engine import TRIAL_ID_METADATA_KEY
from sigopt_hyperopt.reporting import MISC_KEY, classify
from sigopt_hyperopt.space import translate
from sigopt_hyperopt.store import TrialsLedger

from . import spark_objectives
from .remote_driver import FAST_RETRIES
from .spark_objectives import RELEASE, bowl, every_other_raises, first_returns_then_block, slow_bowl
from .test_remote import server  # noqa: F401  (the SigOpt test server, as a fixture)

GRID = {"x": hp.quniform("x", 0, 10, 1), "y": hp.quniform("y", 0, 10, 1)}
"""121 points: on a grid a repeated point is exactly equal, so "distinct" needs no tolerance."""


@pytest.fixture(scope="module")
def spark():
    cloudpickle.register_pickle_by_value(spark_objectives)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_PYTHON", sys.executable)  # Spark's workers run this environment's Python
        session = (
            SparkSession.builder.master("local[2]")
            .appName("sigopt-hyperopt-tests")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()
    cloudpickle.unregister_pickle_by_value(spark_objectives)


@pytest.fixture
def no_token(monkeypatch):
    monkeypatch.delenv("SIGOPT_API_TOKEN", raising=False)


def run(fn, trials, max_evals, algo, minimize=fmin, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyspark: "Tags will not be inherited"
        return minimize(fn, GRID, algo=algo, max_evals=max_evals, trials=trials, rstate=np.random.default_rng(0),
                        show_progressbar=False, **kwargs)


def point(doc):
    return tuple(sorted((label, values[0]) for label, values in doc["misc"]["vals"].items() if values))


class Recorded:
    """An algorithm that records, at each call, the finished trials before it and the points pending after it.

    A trial pending after the call was pending during all of it (states only move forward, and the
    call's own documents are inserted by fmin later).
    """

    def __init__(self, algo):
        self.algo = algo
        self.calls: list[tuple[int, list[tuple], list[tuple]]] = []

    def __call__(self, new_ids, domain, trials, seed):
        finished = sum(doc["state"] == JOB_STATE_DONE for doc in list(trials._dynamic_trials))
        docs = self.algo(new_ids, domain, trials, seed)
        pending = [point(d) for d in list(trials._dynamic_trials) if d["state"] in (JOB_STATE_NEW, JOB_STATE_RUNNING)]
        self.calls.append((finished, pending, [point(d) for d in docs]))
        return docs


def overlapping(docs):
    """Pairs of trials whose evaluations overlapped in time (book_time to refresh_time)."""
    return [(a["tid"], b["tid"]) for a in docs for b in docs
            if a["tid"] < b["tid"] and a["book_time"] < b["refresh_time"] and b["book_time"] < a["refresh_time"]]


def test_parallel_trials_get_points_distinct_from_the_pending_ones(spark, no_token):
    trials = SparkTrials(parallelism=2, spark_session=spark)
    algo = Recorded(sigopt_suggest)
    run(slow_bowl(1.0), trials, 12, algo)
    docs = list(trials._dynamic_trials)
    assert [d["state"] for d in docs] == [JOB_STATE_DONE] * 12
    assert all(d["misc"][MISC_KEY]["experiment"] == EMBEDDED_EXPERIMENT_ID for d in docs)
    assert all(d["result"]["loss"] == bowl(dict(point(d))) for d in docs)
    assert overlapping(docs), "two Spark tasks never ran at once"
    # The model's phase starts after 5 valid results on 2 parameters; it must have met pending points.
    assert any(finished >= 5 and pending for finished, pending, _ in algo.calls), algo.calls
    for finished, pending, returned in algo.calls:
        assert len(set(returned)) == len(returned)
        assert not set(returned) & set(pending), f"a pending point suggested again after {finished} results"


def test_a_remote_search_under_spark_reports_every_trial_once_with_failures_as_failed(spark, server, tmp_path):
    trials = SparkTrials(parallelism=2, spark_session=spark)
    # This package's fmin: when it returns, the experiment is complete (no report_finished needed).
    run(every_other_raises(str(tmp_path)), trials, 8, partial(sigopt_suggest, retry=FAST_RETRIES),
        minimize=sigopt_hyperopt.fmin)

    states = {d["tid"]: d["state"] for d in trials._dynamic_trials}
    assert Counter(states.values()) == {JOB_STATE_DONE: 4, JOB_STATE_ERROR: 4}
    experiment = server.experiments[TrialsLedger(trials).load().experiment_id]
    reported = [o["metadata"][TRIAL_ID_METADATA_KEY] for o in experiment.observations]
    assert sorted(reported) == sorted(states)  # each finished trial exactly once
    assert {o["metadata"][TRIAL_ID_METADATA_KEY]: o["failed"] for o in experiment.observations} == {
        tid: state == JOB_STATE_ERROR for tid, state in states.items()
    }
    losses = {d["tid"]: d["result"]["loss"] for d in trials._dynamic_trials if d["state"] == JOB_STATE_DONE}
    for observation in experiment.observations:
        if not observation["failed"]:
            assert observation["values"][0]["value"] == losses[observation["metadata"][TRIAL_ID_METADATA_KEY]]
    assert experiment.open_suggestions == []
    assert experiment.body["parallel_bandwidth"] == 2  # SparkTrials' parallelism, not fmin's one-point queue
    assert experiment.max_open_suggestions <= 2


def test_a_spark_timeout_cancels_running_trials_starts_no_other_and_releases_their_suggestions(spark, server,
                                                                                                tmp_path):
    # Every evaluation but the first blocks until released, so only SparkTrials' timeout ends the search,
    # while sigopt_suggest waits for one of the two allowed suggestions to be free.
    returned_after_cancel = []

    def algo(new_ids, domain, trials, seed):
        docs = sigopt_suggest(new_ids, domain, trials, seed, retry=FAST_RETRIES)
        if trials._fmin_cancelled:
            returned_after_cancel.extend(d["tid"] for d in docs)
            (tmp_path / RELEASE).touch()  # a trial started now would otherwise block fmin for ever
        return docs

    trials = SparkTrials(parallelism=2, spark_session=spark, timeout=8)
    try:  # this package's fmin: hyperopt's, then the search is finished (no report_finished needed)
        run(first_returns_then_block(str(tmp_path)), trials, 10, algo, minimize=sigopt_hyperopt.fmin,
            return_argmin=False)
    finally:
        (tmp_path / RELEASE).touch()

    assert returned_after_cancel == [], "a trial was queued after fmin was cancelled"
    states = {d["tid"]: d["state"] for d in trials._dynamic_trials}
    assert JOB_STATE_CANCEL in states.values()
    assert not {JOB_STATE_NEW, JOB_STATE_RUNNING} & set(states.values())
    experiment = server.experiments[TrialsLedger(trials).load().experiment_id]
    finished = sorted(tid for tid, state in states.items() if state in (JOB_STATE_DONE, JOB_STATE_ERROR))
    assert sorted(o["metadata"][TRIAL_ID_METADATA_KEY] for o in experiment.observations) == finished
    assert experiment.open_suggestions == []
    cancelled = {d["misc"][MISC_KEY]["suggestion"] for d in trials._dynamic_trials if d["state"] == JOB_STATE_CANCEL}
    assert {experiment.suggestions[s]["state"] for s in cancelled} == {"deleted"}


def test_the_default_parallel_bandwidth_is_the_spark_parallelism(spark):
    assert default_parallel_bandwidth(SparkTrials(parallelism=3, spark_session=spark), 1) == 3


def test_a_done_state_written_before_its_result_is_read_as_running_not_as_a_failure(no_token):
    # SparkTrials' dispatcher sets trial["state"] = DONE, then trial["result"]; a reader in between
    # sees the placeholder result fmin gave the trial.
    trials = Trials()
    run(bowl, trials, 2, sigopt_suggest)
    doc = trials._dynamic_trials[1]
    doc["result"] = Domain(bowl, GRID).new_result()
    state = classify(trials._dynamic_trials, translate(Domain(bowl, GRID)), EMBEDDED_EXPERIMENT_ID)
    assert [o.key for o in state.observations] == [0]
    assert state.pending == [doc["misc"][MISC_KEY]["assignments"]]
