"""MongoTrials and the worker on pymongo 4, against a real MongoDB-wire server (FerretDB or MONGO_URL)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hyperopt import fmin, hp
from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_DONE, JOB_STATE_NEW, JOB_STATE_RUNNING

from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.mongo import DatabaseError, MongoJobs, MongoTrials

from .objectives import slow_quadratic

ROOT = Path(__file__).resolve().parent.parent


def start_workers(mongo_db: str, count: int, *extra: str) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if k != "SIGOPT_API_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    return [
        subprocess.Popen(
            [sys.executable, "-m", "sigopt_hyperopt.cli", "worker", f"--mongo={mongo_db}", "--poll-interval=0.2",
             "--reserve-timeout=15", f"--workdir={tempfile.mkdtemp(prefix='worker-')}", *extra],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for _ in range(count)
    ]



def stop_workers(workers: list[subprocess.Popen]) -> None:
    """A clean stop (SIGTERM), as a user or the cluster command does it."""
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=20)


def queue_placeholder_jobs(trials: MongoTrials, count: int) -> list[int]:
    """Queue ``count`` jobs without a domain: enough to exercise the queue, not to evaluate."""
    tids = trials.new_trial_ids(count)
    trials.insert_trial_docs(trials.new_trial_docs(
        tids, [None] * count, [{"status": "new"}] * count,
        [{"tid": t, "cmd": None, "workdir": None, "idxs": {}, "vals": {}} for t in tids]))
    return tids

def test_the_job_queue_works_on_pymongo_4(mongo_db):
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="queue")
    assert trials.new_trial_ids(3) == [0, 1, 2]
    assert trials.new_trial_ids(2) == [3, 4]
    docs = trials.new_trial_docs([0, 1], [None, None], [{"status": "new"}] * 2,
                                 [{"tid": t, "cmd": None, "workdir": None, "idxs": {}, "vals": {}} for t in (0, 1)])
    trials.insert_trial_docs(docs)
    trials.refresh()
    assert len(trials) == 2 and trials.count_by_state_unsynced(JOB_STATE_NEW) == 2
    jobs = trials.handle
    job = jobs.reserve("host-a", exp_key="queue")
    assert job["tid"] == 0 and job["state"] == JOB_STATE_RUNNING and job["owner"] == "host-a"
    jobs.update(job, {"state": JOB_STATE_DONE, "result": {"status": "ok", "loss": 1.0}})
    assert jobs.reserve("host-b", exp_key="queue")["tid"] == 1
    assert jobs.reserve("host-c", exp_key="queue") is None
    trials.attachments["blob"] = b"payload"
    assert trials.attachments["blob"] == b"payload"
    trials.refresh()
    assert trials.count_by_state_unsynced(JOB_STATE_DONE) == 1


def test_fmin_with_mongo_trials_and_worker_processes_completes_the_search(mongo_db):
    workers = start_workers(mongo_db, 2)
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="search")
        space = {"x": hp.uniform("x", -1, 1)}
        best = fmin(slow_quadratic, space, algo=sigopt_suggest, max_evals=12, trials=trials, max_queue_len=2,
                    rstate=np.random.default_rng(0), show_progressbar=False)
        trials.refresh()
        assert len(trials.trials) == 12
        assert all(t["state"] == JOB_STATE_DONE and t["result"]["status"] == "ok" for t in trials.trials)
        assert len({tuple(t["owner"]) for t in trials.trials}) == 2  # both workers took jobs
        assert "x" in best
    finally:
        stop_workers(workers)


@pytest.mark.parametrize(
    "url, message",
    [
        ("mongo://127.0.0.1:1/db/jobs", "No MongoDB server answered"),
        ("mongo://localhost/jobs-without-db/x/y", "Cannot read the database URL"),
        ("http://127.0.0.1:27017/db/jobs", "Unsupported database URL scheme"),
        ("mongo://127.0.0.1:27017/db/jobs?replicaSett=rs0", "Unknown option: replicasett"),
    ],
)
def test_bad_database_urls_fail_fast_with_a_clear_message(url, message):
    started = time.monotonic()
    with pytest.raises(DatabaseError, match=message):
        MongoTrials(url, exp_key="x")
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("password", ["s3cret-pw", "s3cr/et", "s3cr#et", "p@ss?w/rd", "s3cr%2Fet"])
def test_a_password_never_appears_in_the_error(mongo_server, password):
    """Also a password with an unencoded / or # (it made the URL unreadable, and the error showed it)."""
    for url in (f"mongo://alice:{password}@127.0.0.1:1/db/jobs", f"mongo://alice:{password}@127.0.0.1:x/db/jobs"):
        with pytest.raises(DatabaseError) as raised:
            MongoJobs.new_from_connection_str(url)
        assert password not in str(raised.value) and "alice:***@" in str(raised.value)


def test_url_options_and_several_hosts_are_honoured(mongo_server):
    """pymongo reads the URL: options reach the client (they were dropped) and several hosts are read."""
    jobs = MongoJobs.new_from_connection_str(f"mongo://{mongo_server}/db/jobs?maxPoolSize=7&appName=sigopt-test")
    assert jobs.conn.options.pool_options.max_pool_size == 7 and jobs.jobs.name == "jobs"
    with pytest.raises(DatabaseError, match="No MongoDB server answered"):
        # FerretDB is no member of a replica set rs0: a client that honours the option finds no server.
        MongoJobs.new_from_connection_str(f"mongo://{mongo_server}/db/jobs?replicaSet=rs0")
    # Several hosts name a replica set or mongos routers; both are tried (the URL could not be read before).
    with pytest.raises(DatabaseError, match=f"No MongoDB server answered at 127.0.0.1:1,{mongo_server} "):
        MongoJobs.new_from_connection_str(f"mongo://127.0.0.1:1,{mongo_server}/db/jobs")


def test_a_restarted_driver_resumes_the_same_search_and_a_rerun_returns_at_once(mongo_db):
    workers = start_workers(mongo_db, 2)
    try:
        space = {"x": hp.uniform("x", -1, 1)}

        def drive(max_evals):
            trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="resume")  # a new driver each time
            fmin(slow_quadratic, space, algo=sigopt_suggest, max_evals=max_evals, trials=trials, max_queue_len=2,
                 rstate=np.random.default_rng(max_evals), show_progressbar=False)
            return trials

        drive(6)
        started = time.monotonic()
        trials = drive(6)
        assert time.monotonic() - started < 5
        assert len(trials.all_trial_docs()) == 6
        trials = drive(9)
        docs = trials.all_trial_docs()
        assert sorted(d["tid"] for d in docs) == list(range(9))
        assert all(d["state"] == JOB_STATE_DONE for d in docs)
    finally:
        stop_workers(workers)


def test_concurrent_workers_never_reserve_the_same_job(mongo_db):
    """Reservation is a unique-key claim, so it holds even where findAndModify is not atomic (FerretDB/SQLite)."""
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="race")
    tids = queue_placeholder_jobs(trials, 120)
    taken: dict[str, list[int]] = {}

    def reserve_all(name: str) -> None:
        jobs = MongoJobs.new_from_connection_str(f"mongo://{mongo_db}/jobs")
        mine = taken.setdefault(name, [])
        while (job := jobs.reserve(name, exp_key="race")) is not None:
            mine.append(job["tid"])

    threads = [threading.Thread(target=reserve_all, args=(f"worker-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    reserved = [tid for tids_of_one in taken.values() for tid in tids_of_one]
    assert sorted(reserved) == tids  # every job once, none twice
    assert sum(1 for tids_of_one in taken.values() if tids_of_one) > 1
    owners = {d["tid"]: d["owner"] for d in trials.handle.jobs.find({"exp_key": "race"})}
    assert all(owners[tid] == name for name, mine in taken.items() for tid in mine)


def test_a_queued_job_is_either_cancelled_or_taken_by_a_worker_never_both(mongo_db):
    """A driver cancelling its queued jobs (Ctrl-C) while workers take them: each job ends one way.

    On FerretDB an update conditioned on the job being NEW is not atomic, and before cancellations
    were claims a job could be taken and cancelled at once (about one in seven here): the worker ran
    it while the driver, reading it as cancelled, deleted its suggestion.
    """
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="cancel-race")
    clashes = []
    for round_ in range(20):
        tids = queue_placeholder_jobs(trials, 4)
        taken: dict[int, str] = {}
        start = threading.Barrier(3)

        def reserve_all(name: str) -> None:
            jobs = MongoJobs.new_from_connection_str(f"mongo://{mongo_db}/jobs")
            start.wait()
            while (job := jobs.reserve(name, exp_key="cancel-race")) is not None:
                taken[job["tid"]] = name

        threads = [threading.Thread(target=reserve_all, args=(f"worker-{i}-{round_}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        start.wait()
        cancelled = trials.cancel_queued()
        for thread in threads:
            thread.join(timeout=60)
        docs = {d["tid"]: d for d in trials.handle.jobs.find({"exp_key": "cancel-race", "tid": {"$in": tids}})}
        for tid in tids:
            state, owner = docs[tid]["state"], docs[tid].get("owner")
            if tid in taken and (state, owner) != (JOB_STATE_RUNNING, taken[tid]):
                clashes.append(f"job {tid} taken by {taken[tid]} but {state} owned by {owner}")
            if tid not in taken and state != JOB_STATE_CANCEL:
                clashes.append(f"job {tid} neither taken nor cancelled ({state})")
        assert cancelled == sum(1 for tid in tids if tid not in taken)
    assert clashes == []
    assert MongoJobs.new_from_connection_str(f"mongo://{mongo_db}/jobs").reserve("late", exp_key="cancel-race") is None


def test_four_workers_and_a_queue_sized_to_them(mongo_db):
    """Without max_queue_len, MongoTrials keeps as many jobs queued as it sees live workers."""
    workers = start_workers(mongo_db, 4)
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="pool")
        deadline = time.monotonic() + 60
        while trials.live_workers() < 4:
            assert time.monotonic() < deadline, f"only {trials.live_workers()} workers announced themselves"
            time.sleep(0.2)
        batches: list[int] = []

        def recording_suggest(new_ids, domain, trials_, seed):
            batches.append(len(new_ids))
            return sigopt_suggest(new_ids, domain, trials_, seed)

        recording_suggest.suggests_batches = True  # it is sigopt_suggest: asked for whole batches
        fmin(slow_quadratic, {"x": hp.uniform("x", -1, 1)}, algo=recording_suggest, max_evals=16, trials=trials,
             rstate=np.random.default_rng(0), show_progressbar=False)
        docs = trials.all_trial_docs()
        assert sorted(d["tid"] for d in docs) == list(range(16))
        assert all(d["state"] == JOB_STATE_DONE and d["result"]["status"] == "ok" for d in docs)
        assert len({d["owner"] for d in docs}) == 4  # every worker took jobs
        assert max(batches) == 4  # hyperopt's default queue would have asked for one point at a time
    finally:
        stop_workers(workers)
    assert trials.live_workers() == 0  # a clean stop leaves the registry


def test_an_explicit_queue_length_is_kept(mongo_db):
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="fixed", queue_len=1)
    batches: list[int] = []

    def recording_suggest(new_ids, domain, trials_, seed):
        batches.append(len(new_ids))
        return sigopt_suggest(new_ids, domain, trials_, seed)

    workers = start_workers(mongo_db, 2)
    try:
        fmin(slow_quadratic, {"x": hp.uniform("x", -1, 1)}, algo=recording_suggest, max_evals=4, trials=trials,
             max_queue_len=3, rstate=np.random.default_rng(0), show_progressbar=False)
    finally:
        stop_workers(workers)
    assert batches and set(batches) == {1}


def test_workers_also_take_jobs_from_a_driver_that_does_not_ring(mongo_db):
    """Idle workers search the queue only when the queue signal changed, and every 2 s regardless:
    a stock-hyperopt driver, which never rings, is still served."""
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="silent", queue_len=1)
    trials.handle.ring = lambda: None  # a driver that knows nothing of the signal
    workers = start_workers(mongo_db, 1)
    try:
        fmin(slow_quadratic, {"x": hp.uniform("x", -1, 1)}, algo=sigopt_suggest, max_evals=3, trials=trials,
             rstate=np.random.default_rng(0), show_progressbar=False)
        assert trials.handle.queue_signal() == 0  # nobody rang
        assert [d["state"] for d in trials.all_trial_docs()] == [JOB_STATE_DONE] * 3
    finally:
        stop_workers(workers)


def test_queueing_rings_the_signal(mongo_db):
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="ring")
    before = trials.handle.queue_signal()
    queue_placeholder_jobs(trials, 2)
    assert trials.handle.queue_signal() > before
