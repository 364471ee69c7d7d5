"""The remote engine: the real ``sigopt`` client over HTTP against a SigOpt-compatible server."""

from __future__ import annotations

import pickle
import time
import warnings
from collections import Counter

import numpy as np
import pytest
from hyperopt import STATUS_FAIL, Trials, fmin, hp

from sigopt_hyperopt import AuthenticationError, ConfigurationError, EngineError, sigopt_suggest
from sigopt_hyperopt.algo import MISC_KEY
from sigopt_hyperopt.remote import TRIAL_ID_METADATA_KEY
from sigopt_hyperopt.store import REPORTED_KEY

from .sigopt_http_server import SigOptHttpServer

TOKEN = "secret-token-for-tests"
SPACE = {
    "x": hp.uniform("x", -2, 2),
    "model": hp.choice("model", [{"c": hp.loguniform("c", -3, 3)}, {"n": hp.quniform("n", 1, 9, 2)}]),
    "act": hp.choice("act", ["relu", "tanh"]),
}


def loss(params):
    model = params["model"]
    return params["x"] ** 2 + (model["c"] if "c" in model else model["n"] / 10)


@pytest.fixture
def server(monkeypatch):
    with SigOptHttpServer(TOKEN) as running:
        monkeypatch.setenv("SIGOPT_API_TOKEN", TOKEN)
        monkeypatch.setenv("SIGOPT_API_URL", running.url)
        yield running


def run(trials, max_evals, seed=0, fn=loss, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fmin(fn, SPACE, algo=sigopt_suggest, max_evals=max_evals, trials=trials,
                    rstate=np.random.default_rng(seed), show_progressbar=False, **kwargs)


def the_experiment(server):
    [experiment] = server.experiments.values()
    return experiment


def reported_tids(experiment):
    return [o["metadata"][TRIAL_ID_METADATA_KEY] for o in experiment.observations]


def test_a_search_runs_on_the_server_and_every_finished_trial_is_reported_once(server):
    trials = Trials()
    run(trials, 10)
    experiment = the_experiment(server)
    assert {p["name"] for p in experiment.body["parameters"]} == {"x", "c", "n", "act"}
    assert experiment.body["conditionals"] == [{"name": "model", "values": ["0", "1"]}]
    assert experiment.body["metrics"] == [{"name": "loss", "objective": "minimize"}]
    assert sorted(reported_tids(experiment)) == list(range(9))  # the 10th finished after the last call
    by_suggestion = {t["misc"][MISC_KEY]["suggestion"]: t for t in trials.trials}
    for observation in experiment.observations:
        trial = by_suggestion[observation["suggestion"]]
        assert observation["values"][0]["value"] == pytest.approx(trial["result"]["loss"])


def test_a_restarted_search_reattaches_and_reports_nothing_twice(server, tmp_path):
    save = str(tmp_path / "search.pkl")
    run(Trials(), 6, trials_save_file=save)
    with open(save, "rb") as f:
        trials = pickle.load(f)
    run(trials, 11, seed=1)
    experiment = the_experiment(server)  # still one experiment
    tids = reported_tids(experiment)
    assert sorted(tids) == list(range(10)) and len(set(tids)) == len(tids)


def test_a_lost_ledger_mark_is_recovered_from_the_observation_metadata(server):
    trials = Trials()
    run(trials, 6)
    # A crash between "observation created" and "noted as reported": the store forgets the marks.
    del trials.attachments[REPORTED_KEY]
    from sigopt_hyperopt.algo import _sessions

    _sessions.pop(trials)  # a new driver process
    run(trials, 9)
    tids = reported_tids(the_experiment(server))
    assert sorted(tids) == list(range(8)) and len(set(tids)) == len(tids)


def test_failed_trials_are_reported_as_failed_observations(server):
    def flaky(params):
        return {"status": STATUS_FAIL} if params["x"] < 0 else params["x"]

    trials = Trials()
    run(trials, 8, fn=flaky)
    observations = the_experiment(server).observations
    expected = {t["tid"]: t["misc"]["vals"]["x"][0] < 0 for t in trials.trials}
    assert {o["metadata"][TRIAL_ID_METADATA_KEY]: o["failed"] for o in observations} == {
        tid: failed for tid, failed in expected.items() if tid < 7
    }
    assert any(o["failed"] for o in observations) or not any(expected.values())


def test_a_wrong_token_fails_fast_before_any_evaluation_and_does_not_leak_the_token(server, monkeypatch):
    monkeypatch.setenv("SIGOPT_API_TOKEN", "wrong-token-value")
    calls = []
    with pytest.raises(AuthenticationError, match="SIGOPT_API_TOKEN") as raised:
        run(Trials(), 3, fn=lambda p: calls.append(p) or 0.0)
    assert calls == [] and "wrong-token-value" not in str(raised.value)
    assert server.experiments == {}


def test_an_unreachable_server_gives_a_clear_error_within_seconds(monkeypatch):
    monkeypatch.setenv("SIGOPT_API_TOKEN", TOKEN)
    monkeypatch.setenv("SIGOPT_API_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    started = time.monotonic()
    with pytest.raises(EngineError, match="Could not reach SigOpt"):
        run(Trials(), 2)
    assert time.monotonic() - started < 30


def test_a_remote_search_is_not_silently_continued_without_a_token(server, monkeypatch):
    trials = Trials()
    run(trials, 3)
    from sigopt_hyperopt.algo import _sessions

    _sessions.pop(trials)
    monkeypatch.delenv("SIGOPT_API_TOKEN")
    with pytest.raises(ConfigurationError, match="set SIGOPT_API_TOKEN"):
        run(trials, 5)


def test_attaching_to_an_experiment_with_other_parameters_is_refused_with_a_diff(server):
    from functools import partial

    from sigopt_hyperopt import SearchMismatchError

    run(Trials(), 2)
    other = {"y": hp.uniform("y", 0, 1)}
    algo = partial(sigopt_suggest, experiment_id=the_experiment(server).id)
    with pytest.raises(SearchMismatchError, match=r"missing \['y'\]"):
        fmin(lambda p: 0.0, other, algo=algo, max_evals=2, trials=Trials(), show_progressbar=False)


def test_no_suggestion_is_left_open_after_a_sequential_search(server):
    run(Trials(), 7)
    experiment = the_experiment(server)
    assert len(experiment.open_suggestions) == 1  # the last trial's, not yet reported
    assert experiment.max_open_suggestions == 1
    assert Counter(status for _, _, status in server.requests)[500] == 0


def test_an_embedded_search_moves_to_a_server_when_a_token_is_set(server, monkeypatch):
    from sigopt_hyperopt.algo import _sessions

    monkeypatch.delenv("SIGOPT_API_TOKEN")
    trials = Trials()
    run(trials, 4)
    assert server.experiments == {}
    _sessions.pop(trials)
    monkeypatch.setenv("SIGOPT_API_TOKEN", TOKEN)
    run(trials, 7)
    tids = reported_tids(the_experiment(server))
    assert sorted(tids) == list(range(6))
