"""Fencing: a driver that lost its search writes nothing more (real FerretDB, real driver and worker processes).

Driver A (a 2-second lease) stops itself with SIGSTOP inside an algorithm call; once its lease
expired, driver B takes the search over and runs it to ``max_evals``; A gets SIGCONT while B runs.
A must stop with ``SearchBusyError`` without writing: no trial inserted after the take-over, none of
B's queued jobs cancelled, nothing reported to SigOpt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from bson import ObjectId
from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_DONE, JOB_STATE_NEW

from sigopt_hyperopt.mongo import CHANGES_COLLECTION, MongoTrials, SearchBusyError
from sigopt_hyperopt.mongo.fence import CANCEL, INSERT, take_over
from sigopt_hyperopt.mongo.lease import DRIVERS_COLLECTION, DriverLease
from sigopt_hyperopt.engines.remote.engine import TRIAL_ID_METADATA_KEY

from .paused_driver import BUSY_EXIT_CODE
from .sigopt_http_server import SigOptHttpServer
from .test_mongo import ROOT, queue_placeholder_jobs, start_workers

TOKEN = "token-for-the-fencing-tests"
MAX_EVALS = 40
PAUSED_LEASE_S = 2.0


def start_driver(mongo_db: str, exp_key: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.paused_driver", mongo_db, exp_key, *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def process_state(pid: int) -> str:
    """The kernel's one-letter state of a process (``T``: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def wait_until(condition, timeout: float, what: str, *alive: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for process in alive:
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"{what}: process {process.pid} exited with {process.returncode}\n{out}\n{err[-3000:]}")
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.1)


def pause_a_driver_and_take_its_search_over(mongo_db: str, tmp_path: Path, exp_key: str):
    """Run the scenario; returns (A's exit status, A's stderr, B's exit status, B's stderr, the search's docs)."""
    workers = start_workers(mongo_db, 3, f"--exp-key={exp_key}", "--reserve-timeout=300")
    pause_file = tmp_path / "paused"
    a = start_driver(mongo_db, exp_key, str(MAX_EVALS), str(PAUSED_LEASE_S), "3", str(pause_file))
    b = None
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key=exp_key)
    drivers = trials.handle.db[DRIVERS_COLLECTION]
    try:
        wait_until(lambda: pause_file.exists() and process_state(a.pid) == "T", 300, "A never paused", a)
        before = len(trials.all_trial_docs())
        time.sleep(PAUSED_LEASE_S + 1.5)  # A's lease expires: nobody renews it while A is stopped
        b = start_driver(mongo_db, exp_key, str(MAX_EVALS), "30")
        wait_until(lambda: (drivers.find_one({"_id": f"jobs/{exp_key}"}) or {}).get("pid") == b.pid, 60,
                   "B did not take the search over", b)
        wait_until(lambda: len(trials.all_trial_docs()) >= before + 8, 300, "B queued nothing", b)
        a.send_signal(signal.SIGCONT)  # A wakes up in the middle of B's search
        a_out, a_err = a.communicate(timeout=180)
        b_out, b_err = b.communicate(timeout=300)
    finally:
        for process in (a, b):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.communicate(timeout=30)
    docs = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key=exp_key).all_trial_docs()
    return a.returncode, a_err, b.returncode, b_err, docs


def assert_b_ran_the_whole_search(a_status, a_err, b_status, b_err, docs):
    assert b_status == 0, b_err[-3000:]
    assert a_status == BUSY_EXIT_CODE, a_err[-3000:]
    assert "was taken over by another driver" in a_err, a_err[-3000:]
    states = Counter(d["state"] for d in docs)
    assert states[JOB_STATE_CANCEL] == 0, f"A cancelled B's jobs: {states}"
    assert len(docs) == MAX_EVALS and states[JOB_STATE_DONE] == MAX_EVALS, f"A wrote after the take-over: {states}"
    assert len({d["tid"] for d in docs}) == len(docs)


def test_a_paused_driver_that_lost_its_lease_writes_nothing_and_cancels_nothing(mongo_db, tmp_path, monkeypatch):
    monkeypatch.delenv("SIGOPT_API_TOKEN", raising=False)  # the embedded engine
    assert_b_ran_the_whole_search(*pause_a_driver_and_take_its_search_over(mongo_db, tmp_path, "paused"))


def test_a_paused_remote_driver_reports_nothing_after_losing_its_lease(mongo_db, tmp_path, monkeypatch):
    with SigOptHttpServer(TOKEN, page_size=4) as server:
        monkeypatch.setenv("SIGOPT_API_TOKEN", TOKEN)
        monkeypatch.setenv("SIGOPT_API_URL", server.url)
        outcome = pause_a_driver_and_take_its_search_over(mongo_db, tmp_path, "paused-remote")
    assert_b_ran_the_whole_search(*outcome)
    [experiment] = server.experiments.values()
    done = sorted(d["tid"] for d in outcome[-1] if d["state"] == JOB_STATE_DONE)
    attempts = Counter(metadata.get(TRIAL_ID_METADATA_KEY) for metadata, _ in server.observation_attempts)
    assert {tid: n for tid, n in attempts.items() if n > 1} == {}, "a trial was reported twice"
    assert sorted(attempts) == done
    assert all(status == 200 for _, status in server.observation_attempts), server.observation_attempts
    assert sorted(o["metadata"][TRIAL_ID_METADATA_KEY] for o in experiment.observations) == done
    assert experiment.open_suggestions == []


def test_the_change_log_stops_growing_once_no_driver_holds_the_search(mongo_db):
    """7b: workers log job changes only while a driver holds the search's lease, not after it left."""
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="left")
    workers = []
    try:
        with DriverLease(trials.handle, "left", seconds=30):
            pass  # a driver ran the search and left: its lease document stays, released
        changes = trials.handle.db[CHANGES_COLLECTION]
        queue_placeholder_jobs(trials, 6)  # jobs without a domain: each one ends in ERROR, a change each
        workers = start_workers(mongo_db, 1, "--exp-key=left", "--max-jobs=6", "--max-consecutive-failures=100")
        workers[0].communicate(timeout=120)
        assert changes.count_documents({"exp_key": "left"}) == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()


# -- the fence itself, in one process: the store refuses, whatever the driver believes ----------------


def expire(trials: MongoTrials, exp_key: str) -> None:
    """As if the lease's holder had been stopped on another machine past its expiry."""
    trials.handle.db[DRIVERS_COLLECTION].update_one(
        {"_id": f"jobs/{exp_key}"}, {"$set": {"host": "another-machine", "expires": trials.handle.now()}})


def driver(mongo_db: str, exp_key: str) -> tuple[MongoTrials, DriverLease]:
    """A driver holding the search (no renewal thread: only the store can tell it that it lost)."""
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key=exp_key)
    lease = DriverLease(trials.handle, exp_key, seconds=30)
    lease.acquire()
    trials._fence = take_over(trials.handle, lease)
    trials._view = None  # read after the take-over, as MongoTrials.fmin does
    return trials, lease


def test_a_driver_whose_generation_was_sealed_can_write_nothing(mongo_db):
    a, lease_a = driver(mongo_db, "sealed")
    queued = queue_placeholder_jobs(a, 3)
    a.attachments["note"] = b"1"
    expire(a, "sealed")
    b, lease_b = driver(mongo_db, "sealed")  # takes over: generation 2 seals generation 1
    assert (lease_a.generation, lease_b.generation) == (1, 2) and lease_a.lost is None  # A believes it holds it
    for write in (lambda: a.new_trial_ids(1), lambda: queue_placeholder_jobs(a, 1), a.cancel_queued,
                  lambda: a.attachments.__setitem__("note", b"2"), lambda: a.fence_writes("report trial 0")):
        with pytest.raises(SearchBusyError, match="was taken over by another driver"):
            write()
    assert "was taken over" in a.lost_search
    docs = b.all_trial_docs()
    assert sorted(d["tid"] for d in docs) == queued and all(d["state"] == JOB_STATE_NEW for d in docs)
    assert b.attachments["note"] == b"1"
    assert b.new_trial_ids(1) == [queued[-1] + 1]  # A's refused allocation took no id
    assert b.cancel_queued() == 3  # the new driver's writes go through


def test_a_write_allowed_before_the_take_over_but_not_done_is_finished_by_the_next_driver(mongo_db):
    a, _ = driver(mongo_db, "forward")
    [queued] = queue_placeholder_jobs(a, 1)
    tids = a.new_trial_ids(2)
    docs = a.new_trial_docs(tids, [None] * 2, [{"status": "new"}] * 2,
                            [{"tid": t, "cmd": None, "workdir": None, "idxs": {}, "vals": {}} for t in tids])
    for doc in docs:
        doc["_id"] = ObjectId()
    with pytest.raises(KeyboardInterrupt):  # stopped between its permits and its writes
        with a._fence.write(INSERT, docs=docs):
            raise KeyboardInterrupt
    [job] = [d for d in a.all_trial_docs() if d["tid"] == queued]
    with pytest.raises(KeyboardInterrupt):
        with a._fence.write(CANCEL, jobs=[{"job": job["_id"], "attempt": 0}]):
            raise KeyboardInterrupt
    expire(a, "forward")
    b, _ = driver(mongo_db, "forward")
    states = {d["tid"]: d["state"] for d in b.all_trial_docs()}
    assert states == {queued: JOB_STATE_CANCEL, tids[0]: JOB_STATE_NEW, tids[1]: JOB_STATE_NEW}
    queue = list(b.handle.queue.find({"exp_key": "forward"}))
    assert sorted(e["tid"] for e in queue) == tids  # the new trials are queued, once each
    a.handle.insert_many(docs)  # the stopped driver's write lands late: it finds the work done
    assert len(b.all_trial_docs()) == 3 and len(list(b.handle.queue.find({"exp_key": "forward"}))) == 2


def test_deleted_trials_are_not_inserted_again_by_the_next_driver(mongo_db):
    a, _ = driver(mongo_db, "deleted")
    queue_placeholder_jobs(a, 2)
    a.delete_all()
    expire(a, "deleted")
    b, _ = driver(mongo_db, "deleted")
    assert b.all_trial_docs() == []
