"""Worker robustness with real processes and a real server: SIGKILL, SIGTERM, heartbeats."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
from hyperopt import fmin, hp
from hyperopt.base import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING

from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.session import _sessions
from sigopt_hyperopt.mongo import MongoTrials

from .objectives import kills_its_worker, one_second_quadratic, runs_until_released, three_second_quadratic
from .test_cli import run_cli
from .test_mongo import ROOT, queue_placeholder_jobs, start_workers

SPACE = {"x": hp.uniform("x", -1, 1)}


def fmin_in_background(trials, objective, max_evals, queue, space=None):
    outcome: dict = {}

    def drive():
        try:
            outcome["best"] = fmin(objective, space or SPACE, algo=sigopt_suggest, max_evals=max_evals, trials=trials,
                                   max_queue_len=queue, rstate=np.random.default_rng(0), show_progressbar=False)
        except BaseException as error:  # surfaced by the test
            outcome["error"] = error

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    return thread, outcome


def wait_for_running_job(trials, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = list(trials.handle.jobs.find({"exp_key": trials._exp_key, "state": JOB_STATE_RUNNING}))
        if running:
            return running[0]
        time.sleep(0.1)
    raise AssertionError("no job started running")


def owner_pid(job) -> int:
    return int(job["owner"].split(":")[1])  # host:pid:random


def stop_all(workers):
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=20)


def test_a_worker_killed_mid_trial_loses_nothing_and_doubles_nothing(mongo_db):
    workers = start_workers(mongo_db, 3, "--heartbeat-interval=0.3", "--stale-after=2")
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="sigkill")
        thread, outcome = fmin_in_background(trials, one_second_quadratic, 10, 3)
        victim = wait_for_running_job(trials)
        os.kill(owner_pid(victim), signal.SIGKILL)
        thread.join(timeout=120)
        assert not thread.is_alive() and "error" not in outcome, outcome
        docs = list(trials.handle.jobs.find({"exp_key": "sigkill"}))
        assert sorted(d["tid"] for d in docs) == list(range(10))
        assert all(d["state"] == JOB_STATE_DONE and d["result"]["status"] == "ok" for d in docs)
        recovered = next(d for d in docs if d["_id"] == victim["_id"])
        assert recovered["requeues"] == 1 and recovered["owner"] != victim["owner"]
        keys = [o.key for o in _sessions[trials].engine.observations]
        assert len(keys) == len(set(keys))
    finally:
        stop_all(workers)


def test_sigterm_hands_the_running_job_back_and_another_worker_finishes_it(mongo_db, tmp_path):
    [first] = start_workers(mongo_db, 1, "--grace-period=0.5", "--heartbeat-interval=0.3")
    later = []
    release = tmp_path / "release"
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="sigterm")
        # The job runs until the test releases it, so on a loaded machine it cannot finish inside the
        # grace period before the signal arrives (a fixed-length job did, once in CI).
        thread, outcome = fmin_in_background(trials, runs_until_released, 1, 1,
                                             space={**SPACE, "release": str(release)})
        job = wait_for_running_job(trials)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0
        handed_back = trials.handle.jobs.find_one({"_id": job["_id"]})
        assert handed_back["state"] == JOB_STATE_NEW and handed_back["owner"] is None
        assert "handed back" in first.stdout.read()
        release.touch()
        later = start_workers(mongo_db, 1)
        thread.join(timeout=60)
        assert not thread.is_alive() and "error" not in outcome, outcome
        assert trials.handle.jobs.find_one({"_id": job["_id"]})["state"] == JOB_STATE_DONE
    finally:
        stop_all([first, *later])


SIGNAL_BEFORE_THE_JOB_STARTS = """
import os, signal, sys
from sigopt_hyperopt.cli import main
from sigopt_hyperopt.mongo.worker import Worker

run_job = Worker._run_job

def stopped_just_before(self, job):
    os.kill(os.getpid(), signal.SIGTERM)  # after the loop's last look at the stop flag, before the job runs
    return run_job(self, job)

Worker._run_job = stopped_just_before
sys.exit(main(sys.argv[1:]))
"""


def test_a_stop_that_lands_while_a_job_is_being_reserved_still_hands_it_back_in_the_grace_period(mongo_db, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SIGOPT_API_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    worker = subprocess.Popen(
        [sys.executable, "-c", SIGNAL_BEFORE_THE_JOB_STARTS, "worker", f"--mongo={mongo_db}", "--poll-interval=0.2",
         "--reserve-timeout=15", f"--workdir={tmp_path}", "--grace-period=0.5"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    release = tmp_path / "release"
    later = []
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="stop-while-reserving")
        thread, outcome = fmin_in_background(trials, runs_until_released, 1, 1,
                                             space={**SPACE, "release": str(release)})
        # Without the grace period the job would run until released (two minutes at most).
        assert worker.wait(timeout=30) == 0
        [job] = list(trials.handle.jobs.find({"exp_key": "stop-while-reserving"}))
        assert job["state"] == JOB_STATE_NEW and job["owner"] is None
        assert "handed back" in worker.stdout.read()
        release.touch()
        later = start_workers(mongo_db, 1)
        thread.join(timeout=60)
        assert not thread.is_alive() and "error" not in outcome, outcome
    finally:
        release.touch()
        stop_all([worker, *later])


def test_a_running_job_heartbeats(mongo_db):
    workers = start_workers(mongo_db, 1, "--heartbeat-interval=0.3")
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="heartbeat")
        thread, outcome = fmin_in_background(trials, three_second_quadratic, 1, 1)
        job = wait_for_running_job(trials)
        time.sleep(1.5)
        beating = trials.handle.jobs.find_one({"_id": job["_id"]})
        assert beating["state"] == JOB_STATE_RUNNING and beating["refresh_time"] > job["refresh_time"]
        thread.join(timeout=60)
        assert "error" not in outcome
    finally:
        stop_all(workers)



def test_a_job_that_keeps_killing_its_workers_is_marked_error_instead_of_looping(mongo_db):
    options = ("--heartbeat-interval=0.2", "--stale-after=1", "--max-requeues=1")
    workers = start_workers(mongo_db, 3, *options)
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="poison")
        fmin(kills_its_worker, SPACE, algo=sigopt_suggest, max_evals=1, trials=trials, return_argmin=False,
             rstate=np.random.default_rng(0), show_progressbar=False)
        [doc] = trials.all_trial_docs()
        assert doc["state"] == JOB_STATE_ERROR and doc["requeues"] == 1
        assert doc["error"] == ["WorkerDied", "its worker stopped without finishing it 2 times"]
        assert sum(1 for worker in workers if worker.poll() == -signal.SIGKILL) == 2  # two died, the third was spared
    finally:
        stop_all(workers)


def test_the_worker_accepts_every_option_of_hyperopt_mongo_worker(mongo_db, tmp_path):
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="opts")
    queue_placeholder_jobs(trials, 3)
    common = (f"--mongo={mongo_db}", "--exp-key=other", "--poll-interval=0.1", "--max-consecutive-failures=4",
              "--max-jobs=5", "--reserve-timeout=1", f"--workdir={tmp_path}", "--last-job-timeout=60",
              "--no-subprocesses")
    idle = run_cli("worker", *common, "--max-jobs-in-db=1000", timeout=60)
    assert idle.returncode == 0 and "no job within 1 s" in idle.stderr, idle.stderr
    full = run_cli("worker", *common, "--max-jobs-in-db=3", timeout=60)
    assert full.returncode == 0 and "3 jobs in the database (--max-jobs-in-db=3): stopping" in full.stderr, full.stderr


def test_an_objective_the_worker_cannot_import_makes_the_job_error_not_stuck(mongo_db, tmp_path, monkeypatch):
    (tmp_path / "driver_only_objective.py").write_text("def objective(params):\n    return params['x'] ** 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the driver can import it; the workers cannot
    from driver_only_objective import objective

    workers = start_workers(mongo_db, 1)
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="unimportable")
        fmin(objective, SPACE, algo=sigopt_suggest, max_evals=2, trials=trials, return_argmin=False,
             rstate=np.random.default_rng(0), show_progressbar=False)
        docs = trials.all_trial_docs()
        assert [d["state"] for d in docs] == [JOB_STATE_ERROR, JOB_STATE_ERROR]
        assert all("driver_only_objective" in d["error"][1] for d in docs)
        assert workers[0].poll() is None  # the worker carries on (until --max-consecutive-failures)
    finally:
        stop_all(workers)
