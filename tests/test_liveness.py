"""Liveness on the MongoDB path: who gives up, whose clock counts, and what a stopped search leaves.

Real worker processes against FerretDB; a machine whose clock is wrong is a worker process whose wall
clock is shifted (tests/skewed_clock: libfaketime breaks Python's sleeps here, see its docstring).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from hyperopt import fmin, hp
from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW

from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.mongo import MongoTrials
from sigopt_hyperopt.mongo.worker import GAVE_UP_EXIT_CODE

from .objectives import always_fails, quadratic, runs_until_released
from .test_mongo import ROOT, start_workers, stop_workers

SPACE = {"x": hp.uniform("x", -1, 1)}


def worker_command(mongo_db, *extra):
    return [sys.executable, "-m", "sigopt_hyperopt.cli", "worker", f"--mongo={mongo_db}", "--poll-interval=0.2",
            "--reserve-timeout=20", *extra]


def worker_env():
    return {**{k: v for k, v in os.environ.items() if k != "SIGOPT_API_TOKEN"}, "PYTHONPATH": str(ROOT)}


def drive_in_background(trials, fn, max_evals, space=None, **kwargs):
    """fmin in a thread; returns (thread, outcome dict)."""
    outcome = {}

    def drive():
        try:
            outcome["best"] = fmin(fn, space or SPACE, algo=sigopt_suggest, max_evals=max_evals, trials=trials,
                                   rstate=np.random.default_rng(0), show_progressbar=False, **kwargs)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome["error"] = error

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    return thread, outcome


def test_a_worker_that_gives_up_exits_non_zero_and_fmin_honours_its_timeout(mongo_db):
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="gives-up", queue_len=3)
    thread, outcome = drive_in_background(trials, always_fails, 20, timeout=8, catch_eval_exceptions=True)
    worker = subprocess.run(worker_command(mongo_db, "--exp-key=gives-up", "--max-consecutive-failures=2"),
                            cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert worker.returncode == GAVE_UP_EXIT_CODE, worker.stdout + worker.stderr
    assert "gave up after 2 failed jobs in a row" in worker.stdout + worker.stderr

    thread.join(timeout=120)  # the timeout is 8 s: before the fix the driver waited for the queued jobs forever
    assert not thread.is_alive(), "fmin ignored its timeout while jobs were still queued"
    states = [doc["state"] for doc in trials.all_trial_docs()]
    assert states.count(JOB_STATE_ERROR) == 2
    assert JOB_STATE_NEW not in states and states.count(JOB_STATE_CANCEL) >= 1  # nothing left for a late worker


def test_the_cluster_supervisor_restarts_a_worker_that_gave_up(mongo_db, tmp_path):
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="restarted", queue_len=4)
    thread, _ = drive_in_background(trials, always_fails, 30, timeout=20, catch_eval_exceptions=True)
    pids = tmp_path / "pids"
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "sigopt_hyperopt.cluster.supervise", "--pids-file", str(pids), "--first-pause", "0.2",
         "--", "worker", f"--mongo={mongo_db}", "--exp-key=restarted", "--poll-interval=0.2",
         "--max-consecutive-failures=1"], cwd=ROOT, env=worker_env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (not pids.exists() or len(pids.read_text().split()) < 3):
            time.sleep(0.2)
        assert pids.exists() and len(pids.read_text().split()) >= 3, "the worker was not started again"
    finally:
        supervisor.terminate()
        supervisor.communicate(timeout=60)
        thread.join(timeout=120)


def test_a_worker_whose_clock_is_slow_keeps_its_job(mongo_db, tmp_path):
    """Liveness is judged by the database server's clock, not by each machine's."""
    release = tmp_path / "release"
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="clock", queue_len=1)
    space = {"x": hp.uniform("x", -1, 1), "release": str(release)}
    thread, outcome = drive_in_background(trials, runs_until_released, 1, space=space)
    slow_env = {**worker_env(), "PYTHONPATH": f"{ROOT / 'tests' / 'skewed_clock'}{os.pathsep}{ROOT}",
                "SKEWED_CLOCK_SECONDS": "-90"}
    slow = subprocess.Popen(worker_command(mongo_db, "--exp-key=clock", "--heartbeat-interval=0.5", "--max-jobs=1"),
                            cwd=ROOT, env=slow_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_until(lambda: any(d.get("owner") for d in trials.all_trial_docs()))
    # A second worker scans for stale jobs (every stale_after / 4 seconds) while it waits for work.
    [scanner] = start_workers(mongo_db, 1, "--exp-key=clock", "--stale-after=2", "--max-jobs=1")
    try:
        wait_until(lambda: trials.handle.db.workers.count_documents({}) >= 2)  # the scanner is up
        time.sleep(4)  # several scans: each would have found the job's heartbeat 90 s old
        release.touch()
        thread.join(timeout=120)
        [doc] = trials.all_trial_docs()
        assert doc["state"] == JOB_STATE_DONE
        assert doc.get("requeues", 0) == 0, "the live job of the slow-clock worker was requeued"
        assert "error" not in outcome
    finally:
        release.touch()
        stop_workers([scanner])
        slow.terminate()
        slow.communicate(timeout=30)


def wait_until(condition, seconds=90):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def test_a_worker_without_workdir_leaves_no_directory_behind(mongo_db, tmp_path):
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="workdir", queue_len=2)
    thread, outcome = drive_in_background(trials, quadratic, 4)
    worker = subprocess.Popen(worker_command(mongo_db, "--exp-key=workdir", "--max-jobs=4"), cwd=tmp_path,
                              env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    thread.join(timeout=120)
    worker.communicate(timeout=60)
    assert "error" not in outcome and len(trials.trials) == 4
    assert list(Path(tmp_path).iterdir()) == []  # was one empty directory per job
