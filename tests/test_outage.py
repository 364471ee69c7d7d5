"""The database stops and starts again under a running search: workers and driver ride it out.

This needs a server the test owns (it kills and restarts it), so it always starts its own FerretDB,
even when ``MONGO_URL`` points the other tests at a mongod.
"""

from __future__ import annotations

import time
import uuid

from hyperopt.base import JOB_STATE_DONE

from sigopt_hyperopt.mongo import DatabaseError, MongoTrials

from .conftest import free_port, start_ferretdb
from .objectives import one_second_quadratic
from .test_mongo import start_workers
from .test_worker import fmin_in_background, stop_all


def test_a_search_survives_the_database_restarting_mid_run(tmp_path):
    port = free_port()
    data = tmp_path / "ferretdb"
    data.mkdir()
    server = start_ferretdb(data, port)
    mongo_db = f"127.0.0.1:{port}/outage_{uuid.uuid4().hex[:8]}"
    workers = start_workers(mongo_db, 2, "--heartbeat-interval=0.5", "--stale-after=30")
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="outage")
        thread, outcome = fmin_in_background(trials, one_second_quadratic, 12, 2)
        deadline = time.monotonic() + 120
        while trials.handle.jobs.count_documents({"exp_key": "outage", "state": JOB_STATE_DONE}) < 3:
            assert time.monotonic() < deadline, "the search did not start"
            time.sleep(0.2)
        server.kill()  # the database dies mid-run, with jobs running
        server.wait()
        time.sleep(3)
        server = start_ferretdb(data, port)  # same files, same port
        thread.join(timeout=240)
        assert not thread.is_alive(), "fmin did not finish after the database came back"
        assert "error" not in outcome, outcome
        docs = list(trials.handle.jobs.find({"exp_key": "outage"}))
        assert sorted(d["tid"] for d in docs) == list(range(12)), [(d["tid"], d["state"]) for d in docs]
        assert all(d["state"] == JOB_STATE_DONE and d["result"]["status"] == "ok" for d in docs), \
            [(d["tid"], d["state"], d.get("owner")) for d in docs]
    finally:
        stop_all(workers)
        server.kill()
        server.wait()


def test_a_database_that_stays_away_ends_driver_and_workers_with_a_clear_error(tmp_path):
    port = free_port()
    server = start_ferretdb(tmp_path, port)
    mongo_db = f"127.0.0.1:{port}/gone_{uuid.uuid4().hex[:8]}"
    [worker] = start_workers(mongo_db, 1, "--outage-tolerance=2")
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="gone", outage_tolerance=2)
        thread, outcome = fmin_in_background(trials, one_second_quadratic, 50, 1)
        deadline = time.monotonic() + 120
        while trials.handle.jobs.count_documents({"exp_key": "gone", "state": JOB_STATE_DONE}) < 1:
            assert time.monotonic() < deadline, "the search did not start"
            time.sleep(0.2)
        server.kill()
        server.wait()
        thread.join(timeout=120)
        assert not thread.is_alive(), "the driver kept waiting for a database that is gone"
        assert isinstance(outcome.get("error"), DatabaseError), outcome
        assert "stayed unreachable for 2 s" in str(outcome["error"])
        assert worker.wait(timeout=120) == 2
        assert "error: The database stayed unreachable for 2 s" in worker.stdout.read()
    finally:
        stop_all([worker])
        if server.poll() is None:
            server.kill()
