"""Faults on the worker's side of the queue: lost replies, results a server refuses, malformed jobs.

Real worker processes against a real server (FerretDB unless ``MONGO_URL``); a lost reply or a
refused request is made by tests/wire_proxy.py, a real TCP proxy between the worker and the server.
"""

from __future__ import annotations

import math
import time
import warnings
from functools import partial

import numpy as np
import pytest
from hyperopt import hp
from hyperopt.exceptions import AllTrialsFailed
from hyperopt.base import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING

import sigopt_hyperopt
from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.mongo import MongoJobs, MongoTrials
from sigopt_hyperopt.engines.remote.engine import TRIAL_ID_METADATA_KEY

from .objectives import inf_loss, minus_inf_loss, nan_inside_the_result, nan_loss, quadratic
from .remote_driver import FAST_RETRIES
from .test_cli import run_cli
from .test_liveness import drive_in_background
from .test_mongo import queue_placeholder_jobs, start_workers
from .test_remote import experiment_of, server  # noqa: F401  (fixture)
from .test_worker import fmin_in_background, stop_all
from .wire_proxy import Fault, WireProxy

SPACE = {"x": hp.uniform("x", -1, 1)}


def through(proxy: WireProxy, mongo_db: str) -> str:
    """The worker's ``--mongo`` for the test's database, reached through the proxy."""
    return f"{proxy.address}/{mongo_db.split('/', 1)[1]}"


def _sets(command: dict, key: str) -> list[dict]:
    """The ``$set`` documents of a findAndModify or update command on the jobs collection."""
    if command.get("findAndModify") == "jobs":
        return [command.get("update", {}).get("$set", {})]
    if command.get("update") == "jobs":
        return [u.get("u", {}).get("$set", {}) for u in command.get(key, [])]
    return []


def marks_running(command: dict) -> bool:
    return any(s.get("state") == JOB_STATE_RUNNING for s in _sets(command, "updates"))


def writes_a_result(command: dict) -> bool:
    return any(s.get("state") == JOB_STATE_DONE for s in _sets(command, "updates"))


def test_a_lost_reply_to_the_claim_is_recognised_by_the_retried_reserve(mongo_server, mongo_db):
    """The server marks the job RUNNING; the worker never hears it. Before, the retry looked for a
    NEW job, moved on, and the job stayed RUNNING under a live worker forever (fmin never returned)."""
    fault = Fault(marks_running)
    with WireProxy(mongo_server, [fault]) as proxy:
        workers = start_workers(through(proxy, mongo_db), 1, "--heartbeat-interval=0.3", "--stale-after=30")
        try:
            trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="lost-claim")
            thread, outcome = fmin_in_background(trials, quadratic, 3, 1)
            thread.join(timeout=120)
            assert len(fault.hits) == 1, "the proxy lost no reply"
            docs = list(trials.handle.jobs.find({"exp_key": "lost-claim"}))
            assert not thread.is_alive(), [(d["tid"], d["state"], d.get("owner")) for d in docs]
            assert "error" not in outcome, outcome
            assert sorted(d["tid"] for d in docs) == [0, 1, 2]
            assert all(d["state"] == JOB_STATE_DONE and d["result"]["status"] == "ok" for d in docs)
            [claimed] = [d for d in docs if d["_id"] == fault.hits[0]["query"]["_id"]]
            assert claimed.get("requeues", 0) == 0  # run by the worker that claimed it, not recovered later
        finally:
            stop_all(workers)


def test_the_stale_scan_finds_a_running_job_that_its_live_owner_no_longer_names(mongo_db):
    """The database as a lost reply left it: the job RUNNING, its owner alive but busy with other
    things (its registry entry names no job). Before, the scan went through the registry only and
    never saw the job."""
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="unnamed")
    queue_placeholder_jobs(trials, 1)
    jobs = MongoJobs.new_from_connection_str(f"mongo://{mongo_db}/jobs")
    job = jobs.reserve("worker-a", exp_key="unnamed")
    jobs.announce_worker("worker-a", "unnamed", 600, busy=False)  # alive, running nothing
    time.sleep(1.0)  # the job's last refresh is now older than the scan's 0.5 s
    assert jobs.requeue_stale(0.5, 3, "unnamed") == 1
    requeued = jobs.find_by_id(job["_id"])
    assert (requeued["state"], requeued["owner"], requeued["attempt"], requeued["requeues"]) == (JOB_STATE_NEW, None, 1, 1)
    assert jobs.reserve("worker-b", exp_key="unnamed")["_id"] == job["_id"]
    assert jobs.requeue_stale(0.5, 3, "unnamed") == 0  # worker-b's job is fresh: left alone


@pytest.mark.parametrize("objective, stored_loss", [
    (nan_loss, math.nan), (inf_loss, math.inf), (minus_inf_loss, -math.inf), (nan_inside_the_result, math.nan),
])
def test_non_finite_losses_reach_sigopt_once_as_failed_and_the_worker_survives(server, mongo_db, objective,  # noqa: F811
                                                                                stored_loss):
    """FerretDB closes the connection on a NaN (the worker took it for an outage, gave up after its
    outage tolerance and left the job RUNNING) and refuses ±inf with an error (the job became ERROR)."""
    workers = start_workers(mongo_db, 1, "--outage-tolerance=10", "--reserve-timeout=0")
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="non-finite", outage_tolerance=20)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            try:
                sigopt_hyperopt.fmin(objective, SPACE, algo=partial(sigopt_suggest, retry=FAST_RETRIES), max_evals=3,
                                     trials=trials, timeout=60, rstate=np.random.default_rng(0), show_progressbar=False)
            except AllTrialsFailed:
                assert math.isnan(stored_loss)  # hyperopt's fmin has no best point when every loss is NaN
        docs = trials.all_trial_docs()
        assert [d["state"] for d in docs] == [JOB_STATE_DONE] * 3, [(d["state"], d.get("error")) for d in docs]
        for doc in docs:
            loss = doc["result"]["loss"]
            assert math.isnan(loss) if math.isnan(stored_loss) else loss == stored_loss
        if objective is nan_inside_the_result:
            metrics = docs[0]["result"]["metrics"]
            assert math.isnan(metrics["auc"][0]) and metrics["auc"][1] == 0.5 and metrics["gap"] == -math.inf
            assert metrics["note"] == "nan"  # a string stays a string
        observations = experiment_of(server, trials).observations
        assert sorted(o["metadata"][TRIAL_ID_METADATA_KEY] for o in observations) == [0, 1, 2]
        assert all(o["failed"] for o in observations)
        assert workers[0].poll() is None, workers[0].stdout.read()
    finally:
        stop_all(workers)


def test_a_result_the_server_refuses_by_closing_the_connection_ends_the_job_in_error(mongo_server, mongo_db):
    """A server that answers every ping but closes the connection on one write is refusing it (as
    FerretDB does for values it cannot store), not unreachable: the job becomes ERROR with the
    reason, and the worker goes on. Before, the worker retried it as an outage, exited, and left the
    job RUNNING."""
    fault = Fault(writes_a_result, action="refuse", times=None)
    with WireProxy(mongo_server, [fault]) as proxy:
        workers = start_workers(through(proxy, mongo_db), 1, "--outage-tolerance=10", "--reserve-timeout=0")
        try:
            trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="refused")
            thread, outcome = drive_in_background(trials, quadratic, 2, return_argmin=False)  # no trial succeeds
            thread.join(timeout=120)
            docs = list(trials.handle.jobs.find({"exp_key": "refused"}))
            assert fault.hits, "the proxy refused nothing"
            assert not thread.is_alive(), [(d["tid"], d["state"]) for d in docs]
            assert "error" not in outcome, outcome
            assert [d["state"] for d in docs] == [JOB_STATE_ERROR] * 2
            assert all("refused to store" in d["error"][1] for d in docs), [d["error"] for d in docs]
            assert workers[0].poll() is None, workers[0].stdout.read()
        finally:
            stop_all(workers)


def _job(tid: int, exp_key: str) -> dict:
    """A NEW job as a driver writes it."""
    return {"state": JOB_STATE_NEW, "tid": tid, "spec": None, "result": {"status": "new"},
            "misc": {"tid": tid, "cmd": ("domain_attachment", "FMinIter_Domain"), "workdir": None,
                     "idxs": {"x": [tid]}, "vals": {"x": [0.5]}},
            "exp_key": exp_key, "owner": None, "version": 0, "book_time": None, "refresh_time": None}


def test_malformed_jobs_end_in_error_with_the_reason_and_the_worker_goes_on(mongo_db, tmp_path):
    jobs = MongoJobs.new_from_connection_str(f"mongo://{mongo_db}/jobs")
    malformed = {
        "no tid": {k: v for k, v in _job(0, "malformed").items() if k != "tid"},
        "no exp_key": {k: v for k, v in _job(1, "malformed").items() if k != "exp_key"},
        "no misc": {k: v for k, v in _job(2, "malformed").items() if k != "misc"},
        "garbage misc": {**_job(3, "malformed"), "misc": {"tid": 3, "cmd": "garbage", "idxs": 7, "vals": None}},
        "garbage spec": {**_job(4, "malformed"), "spec": "garbage", "misc": "garbage"},
    }
    ids = {name: jobs.insert(doc)["_id"] for name, doc in malformed.items()}
    worker = run_cli("worker", f"--mongo={mongo_db}", "--poll-interval=0.2", "--reserve-timeout=3",
                     f"--workdir={tmp_path}", timeout=120)
    output = worker.stdout + worker.stderr
    assert worker.returncode == 0, output
    assert "Traceback" not in output, output
    states = {name: jobs.find_by_id(job_id) for name, job_id in ids.items()}
    assert {name: doc["state"] for name, doc in states.items()} == {name: JOB_STATE_ERROR for name in malformed}
    reasons = {name: doc["error"][1] for name, doc in states.items()}
    assert all(reason.startswith("malformed job: ") for reason in reasons.values()), reasons
    assert "tid" in reasons["no tid"] and "exp_key" in reasons["no exp_key"] and "misc" in reasons["no misc"]
    assert "misc" in reasons["garbage misc"] and "misc" in reasons["garbage spec"]
