"""A dead worker's job is requeued once, however many workers notice it at the same moment.

On FerretDB 1.x (SQLite) an ``update_one`` is a read-modify-write without a transaction, so two
workers scanning together could both "win" the requeue: both logged it (the line a user saw twice),
both queued it and both wrote its change.  Real worker stores, threads as the concurrent workers.
"""

from __future__ import annotations

import datetime
import logging
import threading

from hyperopt.base import JOB_STATE_NEW, JOB_STATE_RUNNING

from sigopt_hyperopt.mongo import MongoTrials
from sigopt_hyperopt.mongo.jobs import MongoJobs

from .test_mongo import queue_placeholder_jobs

JOBS = 40
SCANNERS = 6


def test_concurrent_scans_requeue_each_dead_workers_job_once(mongo_db, caplog):
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="dead")
    queue_placeholder_jobs(trials, JOBS)
    jobs = trials.handle
    long_ago = jobs.now() - datetime.timedelta(minutes=10)
    for index in range(JOBS):  # each job taken by a worker that then died: no heartbeat for ten minutes
        owner = f"dead-host:{index}:x"
        job = jobs.reserve(owner, exp_key="dead")
        jobs.set_current_job(owner, job["_id"])
        jobs.jobs.update_one({"_id": job["_id"]}, {"$set": {"refresh_time": long_ago}})
        jobs.db["workers"].update_one({"_id": owner}, {"$set": {"beat": long_ago, "expires": long_ago}})
    jobs.db["job_running"].update_many({}, {"$set": {"at": long_ago}})  # claimed ten minutes ago, too
    recovered: list[int] = []
    start = threading.Barrier(SCANNERS)

    def scan() -> None:
        mine = MongoJobs.new_from_connection_str(f"mongo://{mongo_db}/jobs")
        start.wait()
        recovered.append(mine.requeue_stale(stale_after=60, max_requeues=3, exp_key="dead"))

    with caplog.at_level(logging.WARNING, logger="sigopt_hyperopt.mongo.jobs"):
        threads = [threading.Thread(target=scan) for _ in range(SCANNERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    lines = [r.getMessage() for r in caplog.records if "stopped heartbeating" in r.getMessage()]
    assert sum(recovered) == JOBS, recovered
    assert len(lines) == JOBS == len(set(lines)), sorted(lines)[:6]
    docs = list(jobs.jobs.find({"exp_key": "dead"}))
    assert all(d["state"] == JOB_STATE_NEW and d["requeues"] == 1 and d["attempt"] == 1 for d in docs)
    assert jobs.db["job_queue"].count_documents({"exp_key": "dead"}) == JOBS
    assert not [d for d in docs if d["state"] == JOB_STATE_RUNNING]
