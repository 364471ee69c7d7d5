"""The remote engine: the real ``sigopt`` client over HTTP against a SigOpt-compatible server.

The server pages its lists by 4 items, so every listing follows the client's paging; faults are
injected by the server (scripted or at a seeded random rate), and retries use short backoffs
(``FAST_RETRIES``) so the tests take seconds.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections import Counter
from functools import partial

import gridfs
import numpy as np
import pymongo
import pytest
from hyperopt import STATUS_FAIL, Trials, fmin, hp
from hyperopt.base import JOB_STATE_DONE

from sigopt_hyperopt import (
    AuthenticationError,
    ConfigurationError,
    EngineError,
    SearchMismatchError,
    report_finished,
    sigopt_suggest,
)
from sigopt_hyperopt.reporting import MISC_KEY
from sigopt_hyperopt.session import _sessions
from sigopt_hyperopt.engines.remote.engine import TRIAL_ID_METADATA_KEY
from sigopt_hyperopt.engines.remote.retry import RetryPolicy
from sigopt_hyperopt.store import MARK_PREFIX, TrialsLedger

from .remote_driver import FAST_RETRIES, drive
from .remote_driver import SPACE as SPACE_1D
from .sigopt_http_server import SigOptHttpServer
from .test_mongo import ROOT, start_workers

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
    with SigOptHttpServer(TOKEN, page_size=4) as running:
        monkeypatch.setenv("SIGOPT_API_TOKEN", TOKEN)
        monkeypatch.setenv("SIGOPT_API_URL", running.url)
        yield running


def run(trials, max_evals, seed=0, fn=loss, algo=None, space=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fmin(fn, space or SPACE, algo=algo or partial(sigopt_suggest, retry=FAST_RETRIES), max_evals=max_evals,
                    trials=trials, rstate=np.random.default_rng(seed), show_progressbar=False, **kwargs)


def the_experiment(server):
    [experiment] = server.experiments.values()
    return experiment


def experiment_of(server, trials):
    """The search's experiment, by the id in the trials (a lost create answer may leave an empty one)."""
    return server.experiments[TrialsLedger(trials).load().experiment_id]


def reported_tids(experiment):
    return [o["metadata"][TRIAL_ID_METADATA_KEY] for o in experiment.observations]


def assert_reported_exactly_once(experiment, expected_tids):
    counts = Counter(reported_tids(experiment))
    assert {tid: n for tid, n in counts.items() if n > 1} == {}, "a trial was reported twice"
    assert sorted(counts) == sorted(expected_tids)


def assert_no_orphan_suggestion(experiment, trial_docs):
    held = {d["misc"][MISC_KEY]["suggestion"] for d in trial_docs if d["misc"].get(MISC_KEY)}
    assert {s["id"] for s in experiment.open_suggestions} <= held


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


def test_report_finished_reports_the_trials_that_finished_after_fmins_last_call(server):
    trials = Trials()
    run(trials, 5)
    assert len(the_experiment(server).observations) == 4
    report_finished(trials, SPACE, retry=FAST_RETRIES)
    report_finished(trials, SPACE, retry=FAST_RETRIES)
    assert_reported_exactly_once(the_experiment(server), range(5))
    assert len(server.experiments) == 1 and the_experiment(server).open_suggestions == []


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
    for name in [n for n in trials.attachments if n.startswith(MARK_PREFIX)]:
        del trials.attachments[name]
    from sigopt_hyperopt.session import _sessions

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
    from sigopt_hyperopt.session import _sessions

    _sessions.pop(trials)
    monkeypatch.delenv("SIGOPT_API_TOKEN")
    with pytest.raises(ConfigurationError, match="set SIGOPT_API_TOKEN"):
        run(trials, 5)


def test_attaching_to_an_experiment_with_other_parameters_is_refused_with_a_readable_diff(server):
    run(Trials(), 2)
    other = {
        "x": hp.uniform("x", -3, 2),
        "model": hp.choice("model", [{"c": hp.uniform("c", -3, 3)}, {"n": hp.quniform("n", 1, 9, 2)}]),
        "act": hp.choice("act", ["relu", "sigmoid"]),
        "y": hp.uniform("y", 0, 1),
    }
    algo = partial(sigopt_suggest, experiment_id=the_experiment(server).id, retry=FAST_RETRIES)
    with pytest.raises(SearchMismatchError) as raised:
        fmin(lambda p: 0.0, other, algo=algo, max_evals=2, trials=Trials(), show_progressbar=False)
    lines = str(raised.value).splitlines()
    assert "  - parameter 'y' is in the space but not in the experiment" in lines
    assert "  - parameter 'x': bounds [-3, 2] in the space, [-2, 2] in the experiment" in lines
    assert "  - parameter 'act': categorical values ['relu', 'sigmoid'] in the space, ['relu', 'tanh'] in the experiment" in lines
    assert "  - parameter 'c': transformation none in the space, log in the experiment" in lines
    assert not any("'n'" in line for line in lines)  # what matches is not listed


def test_no_suggestion_is_left_open_after_a_sequential_search(server):
    run(Trials(), 7)
    experiment = the_experiment(server)
    assert len(experiment.open_suggestions) == 1  # the last trial's, not yet reported
    assert experiment.max_open_suggestions == 1
    assert Counter(status for _, _, status in server.requests)[500] == 0


def test_an_embedded_search_moves_to_a_server_when_a_token_is_set(server, monkeypatch):
    from sigopt_hyperopt.session import _sessions

    monkeypatch.delenv("SIGOPT_API_TOKEN")
    trials = Trials()
    run(trials, 4)
    assert server.experiments == {}
    _sessions.pop(trials)
    monkeypatch.setenv("SIGOPT_API_TOKEN", TOKEN)
    run(trials, 7)
    tids = reported_tids(the_experiment(server))
    assert sorted(tids) == list(range(6))


# -- faults, retries, exactly-once ------------------------------------------------------------


def test_a_search_completes_under_20_percent_faults_and_reports_every_trial_exactly_once(server, caplog):
    caplog.set_level(logging.DEBUG)
    # Guarantee the cases that matter most, then fail one request in five at random.
    server.faults.script("lost", method="POST", route="observations")
    server.faults.script("lost_500", method="POST", route="observations")
    server.faults.script("lost", method="POST", route="suggestions")
    server.faults.random_rate = 0.2
    trials = Trials()
    run(trials, 12)
    server.faults.random_rate = 0.0
    experiment = experiment_of(server, trials)
    assert_reported_exactly_once(experiment, [t["tid"] for t in trials.trials][:-1])  # the last finished after the last call
    assert_no_orphan_suggestion(experiment, trials.trials)
    kinds = Counter(kind for kind, _, _ in server.faults.injected)
    assert kinds["lost"] + kinds["lost_500"] >= 3
    assert sum(kinds.values()) >= 0.1 * len(server.requests)  # the rate was really applied
    assert "attempt 2 of" in caplog.text  # the retries were logged...
    assert TOKEN not in caplog.text  # ...and the token never was
    assert TOKEN.encode() not in pickle.dumps(trials)  # nor is it in the trial docs or attachments


def test_an_answer_lost_after_an_observation_was_recorded_does_not_record_it_twice(server):
    for kind in ("lost", "lost_500", "lost", "drop", "503"):
        server.faults.script(kind, method="POST", route="observations")
    trials = Trials()
    run(trials, 6)
    experiment = the_experiment(server)
    assert_reported_exactly_once(experiment, range(5))
    assert [k for k, method, path in server.faults.injected if path.endswith("/observations")] == [
        "lost", "lost_500", "lost", "drop", "503"]


def test_a_lost_answer_is_not_repeated_for_trials_reported_by_their_point(server, monkeypatch):
    # Trials made by the embedded engine have no suggestion on the server: their observations are sent
    # by assignments, which a server accepts twice; only the check before the retry prevents that.
    monkeypatch.delenv("SIGOPT_API_TOKEN")
    trials = Trials()
    run(trials, 4)
    _sessions.pop(trials)
    monkeypatch.setenv("SIGOPT_API_TOKEN", TOKEN)
    for kind in ("lost", "lost_500", "lost"):
        server.faults.script(kind, method="POST", route="observations")
    run(trials, 5)
    experiment = the_experiment(server)
    assert_reported_exactly_once(experiment, range(4))
    assert all(o["suggestion"] is None for o in experiment.observations)
    assert len(server.faults.processed) == 3


def test_an_answer_lost_after_a_suggestion_was_created_leaks_no_open_suggestion(server):
    for kind in ("lost", "lost_500", "drop", "lost"):
        server.faults.script(kind, method="POST", route="suggestions")
    trials = Trials()
    run(trials, 5)
    experiment = the_experiment(server)
    assert_no_orphan_suggestion(experiment, trials.trials)
    assert len(experiment.open_suggestions) == 1 and experiment.max_open_suggestions == 1
    assert_reported_exactly_once(experiment, range(4))


def test_a_429_is_retried_no_sooner_than_the_server_asks(server):
    server.faults.retry_after = "1"
    server.faults.script("429", method="POST", route="suggestions")
    run(Trials(), 2)
    posts = [(at, status) for at, method, path, status in server.request_times
             if method == "POST" and path.endswith("/suggestions")]
    assert posts[0][1] == 429 and posts[1][1] == 200
    assert posts[1][0] - posts[0][0] >= 1.0  # FAST_RETRIES alone would have waited at most 0.01 s


def test_a_server_that_keeps_failing_gives_up_within_the_bounds_with_a_clear_error(server):
    run(Trials(), 2)
    server.faults.script("503", times=50, method="POST", route="suggestions")
    algo = partial(sigopt_suggest, retry=RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.01))
    _sessions.clear()
    with pytest.raises(EngineError, match=r"create a suggestion after 3 attempt\(s\).*HTTP 503"):
        run(Trials(), 2, algo=algo)
    assert len([k for k, method, path in server.faults.injected if path.endswith("/suggestions")]) == 3


def test_a_revoked_token_fails_fast_mid_search_with_what_to_fix(server):
    trials = Trials()
    run(trials, 3)
    server.faults.script("401", times=5)
    before = len(server.requests)
    with pytest.raises(AuthenticationError, match="Check SIGOPT_API_TOKEN") as raised:
        run(trials, 5)
    assert len(server.requests) == before + 1  # no retry: a wrong token is not a network problem
    assert "HTTP 401" in str(raised.value) and TOKEN not in str(raised.value)


def test_an_unknown_experiment_id_is_not_retried_and_says_what_to_check(server):
    algo = partial(sigopt_suggest, experiment_id="999", retry=FAST_RETRIES)
    with pytest.raises(EngineError, match="HTTP 404.*Check experiment_id"):
        run(Trials(), 2, algo=algo)
    assert [status for _, _, status in server.requests] == [404]


def test_slow_answers_within_the_timeout_are_waited_for(server):
    server.faults.slow_seconds = 0.3
    server.faults.script("slow", times=3)
    trials = Trials()
    run(trials, 4)
    assert_reported_exactly_once(the_experiment(server), range(3))
    assert [k for k, _, _ in server.faults.injected] == ["slow"] * 3
    assert 0 not in [status for _, _, status in server.requests]


def test_an_answer_slower_than_the_request_timeout_counts_as_lost_and_is_not_repeated(server):
    trials = Trials()
    run(trials, 3)
    server.faults.slow_seconds = 5
    server.faults.script("slow", method="POST", route="observations")
    patient = RetryPolicy(max_attempts=5, initial_delay=0.01, max_delay=0.05, request_timeout=1)
    _sessions.clear()
    run(trials, 5, algo=partial(sigopt_suggest, retry=patient))
    assert_reported_exactly_once(the_experiment(server), range(4))


# -- bandwidth ----------------------------------------------------------------------------------


def test_parallel_bandwidth_defaults_to_fmins_queue_length_and_is_never_exceeded(server):
    trials = Trials()
    run(trials, 7, max_queue_len=3)
    experiment = the_experiment(server)
    assert experiment.body["parallel_bandwidth"] == 3
    assert experiment.max_open_suggestions == 3
    assert_reported_exactly_once(experiment, range(6))  # fmin asked for 3, 3, then 1: the 7th is unreported


def test_parallel_bandwidth_defaults_to_the_workers_the_trials_can_see(server):
    class TrialsWithWorkers(Trials):
        def live_workers(self):  # as MongoTrials counts the workers that heartbeat
            return 3

    trials = TrialsWithWorkers()
    run(trials, 3)
    assert the_experiment(server).body["parallel_bandwidth"] == 3


def test_a_default_bandwidth_grows_with_the_pool(server):
    class GrowingPool(Trials):
        calls = 0

        def live_workers(self):  # the driver started first; two more workers join later
            self.calls += 1
            return 1 if self.calls <= 2 else 3

    run(GrowingPool(), 5)
    assert the_experiment(server).body["parallel_bandwidth"] == 3


def test_a_bandwidth_the_user_set_is_kept(server):
    class BigPool(Trials):
        def live_workers(self):
            return 5

    run(BigPool(), 4, algo=partial(sigopt_suggest, parallel_bandwidth=2))
    assert the_experiment(server).body["parallel_bandwidth"] == 2


def test_a_queue_longer_than_the_bandwidth_in_process_is_refused_with_what_to_change(server):
    algo = partial(sigopt_suggest, parallel_bandwidth=2, retry=FAST_RETRIES)
    with pytest.raises(ConfigurationError, match=r"max_queue_len=2"):
        run(Trials(), 6, algo=algo, max_queue_len=3)
    assert the_experiment(server).max_open_suggestions == 2


# -- restart, metadata, secrets -----------------------------------------------------------------


class DriverDied(Exception):
    """Stands for a driver killed between receiving suggestions and storing their trials."""


def test_a_driver_that_died_before_storing_its_trials_leaves_no_orphan_after_restart(server):
    trials = Trials()
    calls = []

    def dies_on_the_fourth_call(new_ids, domain, trials, seed):
        docs = sigopt_suggest(new_ids, domain, trials, seed, retry=FAST_RETRIES)
        calls.append(docs)
        if len(calls) == 4:
            raise DriverDied
        return docs

    with pytest.raises(DriverDied):
        run(trials, 8, algo=dies_on_the_fourth_call)
    experiment = the_experiment(server)
    orphan = calls[-1][0]["misc"][MISC_KEY]["suggestion"]
    assert experiment.suggestions[orphan]["state"] == "open"
    _sessions.clear()  # a new driver process
    run(trials, 8)
    assert experiment.suggestions[orphan]["state"] == "deleted"
    assert_no_orphan_suggestion(experiment, trials.trials)
    assert_reported_exactly_once(experiment, [t["tid"] for t in trials.trials][:-1])


def test_observations_carry_the_trial_id_the_worker_host_and_the_evaluation_time(server):
    trials = Trials()
    run(trials, 4, fn=lambda p: time.sleep(0.05) or loss(p))
    observations = the_experiment(server).observations
    assert len(observations) == 3
    for observation in observations:
        metadata = observation["metadata"]
        assert metadata["worker_host"] == socket.gethostname()
        assert 0.05 <= metadata["evaluation_seconds"] < 60
        assert metadata[TRIAL_ID_METADATA_KEY] in {t["tid"] for t in trials.trials}


def test_attaching_to_an_experiment_made_elsewhere_runs_the_search_there(server):
    import sigopt

    from sigopt_hyperopt import translate
    from sigopt_hyperopt.engines.base import experiment_spec

    space = translate(SPACE)
    made_in_the_web_ui = sigopt.Connection(client_token=TOKEN).experiments().create(
        **experiment_spec(space, name="made elsewhere"))
    trials = Trials()
    run(trials, 4, algo=partial(sigopt_suggest, experiment_id=made_in_the_web_ui.id, retry=FAST_RETRIES))
    experiment = server.experiments[made_in_the_web_ui.id]
    assert len(server.experiments) == 1 and experiment.body["parallel_bandwidth"] == 1  # set on attach
    assert_reported_exactly_once(experiment, range(3))


# -- MongoTrials with worker processes ------------------------------------------------------------


def stop(processes):
    for process in processes:
        if process.poll() is None:
            process.terminate()
    return [process.communicate(timeout=30)[0] or "" for process in processes]


def database_text(mongo_db):
    """Every document and GridFS file of the search's database, as one string to search in."""
    address, name = mongo_db.split("/")
    with pymongo.MongoClient(f"mongodb://{address}") as client:
        db = client[name]
        texts = [json.dumps(doc, default=str) for c in db.list_collection_names() for doc in db[c].find()]
        fs = gridfs.GridFS(db)
        texts += [f.read().decode("latin-1") for f in fs.find()]
    return "\n".join(texts)


def test_under_mongo_trials_with_workers_and_faults_every_trial_is_reported_once_within_the_bandwidth(
        server, mongo_db, caplog):
    caplog.set_level(logging.DEBUG)
    server.faults.random_rate = 0.2
    workers = start_workers(mongo_db, 3)
    try:
        trials = drive(mongo_db, "faults", 10, max_queue_len=4, parallel_bandwidth=2)
        server.faults.random_rate = 0.0
        done = [d["tid"] for d in trials.all_trial_docs() if d["state"] == JOB_STATE_DONE]
        report_finished(trials, SPACE_1D, retry=FAST_RETRIES, parallel_bandwidth=2)  # the last ones, too
    finally:
        outputs = stop(workers)
    experiment = experiment_of(server, trials)
    assert len(done) == 10
    assert_reported_exactly_once(experiment, done)
    assert experiment.max_open_suggestions == 2  # the bandwidth was used, and never exceeded
    assert_no_orphan_suggestion(experiment, trials.all_trial_docs())
    hosts = {o["metadata"]["worker"] for o in experiment.observations}
    assert len(hosts) >= 2 and all(h.startswith(socket.gethostname() + ":") for h in hosts)
    assert sum(1 for kind, _, _ in server.faults.injected) >= 5
    for where in (database_text(mongo_db), caplog.text, *outputs):
        assert TOKEN not in where


def test_a_killed_driver_restarted_under_mongo_trials_creates_no_duplicate_and_no_orphan(server, mongo_db):
    workers = start_workers(mongo_db, 2)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen([sys.executable, "-m", "tests.remote_driver", mongo_db, "restart", "10", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(len(e.observations) >= 3 for e in server.experiments.values()):
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[0]
            time.sleep(0.1)
        # The driver's next suggestion is created on the server, and the driver dies before the answer.
        server.faults.slow_seconds = 120
        server.faults.script("slow", method="POST", route="suggestions")
        while not server.faults.processed:
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[0]
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        [experiment] = server.experiments.values()
        orphans = [s["id"] for s in experiment.open_suggestions]
        trials = drive(mongo_db, "restart", 10, parallel_bandwidth=2)  # a new driver
        done = [d["tid"] for d in trials.all_trial_docs() if d["state"] == JOB_STATE_DONE]
        report_finished(trials, SPACE_1D, retry=FAST_RETRIES, parallel_bandwidth=2)
    finally:
        stop(workers)
        if driver.poll() is None:
            driver.kill()
    assert len(done) == 10
    assert_reported_exactly_once(experiment, done)
    held = {d["misc"][MISC_KEY]["suggestion"] for d in trials.all_trial_docs()}
    lost = [s for s in orphans if s not in held]
    assert lost and all(experiment.suggestions[s]["state"] == "deleted" for s in lost)
    assert_no_orphan_suggestion(experiment, trials.all_trial_docs())
    assert experiment.max_open_suggestions <= 2
