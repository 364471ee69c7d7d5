"""What keeps the cost per trial flat as a search grows, checked by what the code does,
not by timing it: which queries the driver sends, how often a worker unpickles the domain, and who
may drive a search.  Real worker processes and a real FerretDB (or MONGO_URL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pymongo.monitoring
import pytest
from hyperopt import STATUS_OK, fmin, rand
from hyperopt.base import JOB_STATE_DONE

from sigopt_hyperopt.mongo import MongoTrials, SearchBusyError
from sigopt_hyperopt.mongo.lease import DRIVERS_COLLECTION

from .objectives import quadratic
from .scale_driver import LEASE_SECONDS, SPACE
from .scale_driver import drive as drive_in_process
from .test_mongo import ROOT, start_workers, stop_workers


class JobQueries(pymongo.monitoring.CommandListener):
    """Every command sent to the job collection, with its filter."""

    def __init__(self, collection: str = "jobs") -> None:
        self.collection = collection
        self.commands: list[tuple[str, dict]] = []

    def started(self, event):
        if event.command.get(event.command_name) == self.collection:
            self.commands.append((event.command_name, dict(event.command.get("filter") or event.command.get("query") or {})))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def finished_docs(trials, count):
    """``count`` finished trial documents, as a search that already ran would hold them."""
    tids = trials.new_trial_ids(count)
    docs = trials.new_trial_docs(tids, [None] * count, [{"status": STATUS_OK, "loss": float(t)} for t in tids],
                                 [{"tid": t, "cmd": None, "workdir": None, "idxs": {"x": [t]}, "vals": {"x": [0.1]}}
                                  for t in tids])
    for doc in docs:
        doc["state"] = JOB_STATE_DONE
    return docs


def test_the_driver_reads_every_finished_trial_once_and_then_only_unfinished_ones_by_id(mongo_db):
    seeded = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="view")
    seeded.insert_trial_docs(finished_docs(seeded, 200))

    listener = JobQueries()
    pymongo.monitoring.register(listener)  # for clients created from here on: the driver's
    workers = start_workers(mongo_db, 2, "--exp-key=view")
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="view")
        assert trials.documents_read == 200 and len(trials.trials) == 200
        fmin(quadratic, SPACE, algo=rand.suggest, max_evals=230, trials=trials, rstate=np.random.default_rng(0),
             show_progressbar=False)
    finally:
        stop_workers(workers)
    assert len(trials.trials) == 230 and all(t["state"] == JOB_STATE_DONE for t in trials.trials)
    finds = [query for name, query in listener.commands if name == "find"]
    assert finds[0] == {"exp_key": "view"}  # the one read of the whole search, when the driver starts
    assert all(set(query) == {"_id"} for query in finds[1:]), [q for q in finds[1:] if set(q) != {"_id"}][:3]
    assert not [name for name, _ in listener.commands if name in ("count", "aggregate", "distinct")]
    # 30 new trials, each read a few times while it was queued or running; never the 200 again.
    assert trials.documents_read - 200 < 30 * 20


def test_a_worker_unpickles_a_searchs_domain_once(mongo_db):
    [worker] = start_workers(mongo_db, 1, "--exp-key=domain", "--max-jobs=8")
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="domain")
    fmin(quadratic, SPACE, algo=rand.suggest, max_evals=8, trials=trials, rstate=np.random.default_rng(0),
         show_progressbar=False)
    output, _ = worker.communicate(timeout=60)
    assert output.count("loaded the domain of search 'domain'") == 1, output


def start_driver(mongo_db, max_evals):
    env = {**{k: v for k, v in os.environ.items() if k != "SIGOPT_API_TOKEN"}, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen([sys.executable, "-m", "tests.scale_driver", mongo_db, "lease", str(max_evals)],
                              cwd=ROOT, env=env)
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="lease")
    deadline = time.monotonic() + 60
    while len(trials.all_trial_docs()) < max_evals - 10:  # it has queued its first jobs
        assert time.monotonic() < deadline and driver.poll() is None, "the driver queued nothing"
        time.sleep(0.1)
    return driver


def test_a_second_driver_is_refused_and_a_dead_ones_search_is_taken_over(mongo_db):
    workers = start_workers(mongo_db, 2, "--exp-key=lease")
    drivers = []
    try:
        drivers.append(start_driver(mongo_db, 11))
        with pytest.raises(SearchBusyError, match=f"pid {drivers[0].pid}"):
            drive_in_process(mongo_db, "lease", 12)
        drivers[0].send_signal(signal.SIGKILL)  # dies without releasing its lease
        drivers[0].wait()
        drive_in_process(mongo_db, "lease", 12)  # same machine, its process gone: taken over at once

        drivers.append(start_driver(mongo_db, 23))
        drivers[1].send_signal(signal.SIGKILL)
        drivers[1].wait()
        # As if it had run on another machine: nobody here can tell it is dead until its lease expires.
        db = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="lease").handle.db
        db[DRIVERS_COLLECTION].update_one({"_id": "jobs/lease"}, {"$set": {"host": "another-machine"}})
        with pytest.raises(SearchBusyError, match="another-machine"):
            drive_in_process(mongo_db, "lease", 24)
        time.sleep(LEASE_SECONDS + 0.5)
        resumed = drive_in_process(mongo_db, "lease", 24)
    finally:
        for driver in drivers:
            if driver.poll() is None:
                driver.kill()
        stop_workers(workers)
    docs = resumed.all_trial_docs()
    assert sorted(d["tid"] for d in docs) == list(range(len(docs)))  # one counter, no tid twice
    assert len([d for d in docs if d["state"] == JOB_STATE_DONE]) >= 24
