"""sigopt_hyperopt.mongoexp beyond hyperopt's own suite: its names, URLs, the module-path worker, ids, seeds."""

from __future__ import annotations

import inspect
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import hyperopt.mongoexp
import numpy as np
import pytest
from hyperopt import Trials, fmin, hp, rand
from hyperopt.base import JOB_STATE_DONE, Domain

import sigopt_hyperopt.mongoexp as facade
from sigopt_hyperopt.errors import ConfigurationError, DatabaseError
from sigopt_hyperopt.mongo.dispatch import one_seed_per_trial
from sigopt_hyperopt.mongo.stored_form import decode_document, encode_document
from sigopt_hyperopt.mongo.trial_ids import allocate_trial_ids

from .objectives import quadratic

ROOT = Path(__file__).resolve().parent.parent

PUBLIC = ["MongoTrials", "MongoJobs", "MongoWorker", "MongoCtrl", "ReserveTimeout", "Shutdown", "WaitQuit",
          "DomainSwapError", "InvalidMongoTrial", "OperationFailure", "parse_url", "as_mongo_str",
          "connection_from_string", "connection_with_tunnel", "number_of_jobs_in_db", "main_worker_helper",
          "main_worker", "main", "read_pw", "exec_import"]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_of_hyperopt_mongoexp_with_its_parameters(name):
    ours, theirs = getattr(facade, name), getattr(hyperopt.mongoexp, name)
    assert name in facade.__all__
    if inspect.isclass(theirs) and issubclass(theirs, BaseException):
        assert ours is theirs  # `except hyperopt.mongoexp.ReserveTimeout` still catches it
    elif callable(theirs):
        mine = inspect.signature(ours).parameters
        hyperopts = list(inspect.signature(theirs).parameters)
        assert list(mine)[:len(hyperopts)] == hyperopts  # hyperopt's, in hyperopt's order
        assert all(p.kind is p.KEYWORD_ONLY for p in list(mine.values())[len(hyperopts):])  # extras by name only


def test_parse_url_forms(tmp_path):
    assert facade.parse_url("mongo://u:p@db.example:27018/hdb/jobs?authSource=admin") == (
        "mongo", "u", "p", "db.example", 27018, "hdb", "jobs", "admin")
    assert facade.parse_url("mongo://db.example/hdb/coll") == ("mongo", None, None, "db.example", 27017, "hdb",
                                                               "coll", None)
    assert facade.parse_url("mongo+ssh://host:27017/hdb/jobs")[0] == "mongo+ssh"
    pwfile = tmp_path / "pw"
    pwfile.write_text("s3cr/et@x\n")
    assert facade.parse_url("mongo://alice@h:1/d/c", pwfile=str(pwfile))[2] == "s3cr/et@x"
    assert facade.parse_url("mongo://alice:a/b@c@h:1/d/c")[2] == "a/b@c"  # an unencoded password, as typed
    with pytest.raises(DatabaseError, match="no protocol"):
        facade.parse_url("h:1/d/c")
    with pytest.raises(DatabaseError, match="expected mongo://"):
        facade.parse_url("mongo://h:1")


def test_as_mongo_str_and_read_pw(tmp_path, monkeypatch):
    assert facade.as_mongo_str("h:1/d") == "mongo://h:1/d"
    assert facade.as_mongo_str("mongo://h:1/d") == "mongo://h:1/d"
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"\.hyperopt"):
        facade.read_pw()
    (tmp_path / ".hyperopt").write_text("pw\n")
    assert facade.read_pw() == "pw"


def test_connection_from_string_and_job_count(mongo_db):
    client, tunnel, db, collection = facade.connection_from_string(f"mongo://{mongo_db}/jobs")
    assert tunnel is None and db.name == mongo_db.rsplit("/", 1)[1] and collection.name == "jobs"
    collection.insert_one({"x": 1})

    class Options:
        mongo = mongo_db

    assert facade.number_of_jobs_in_db(Options()) == 1
    client.close()


def test_unreachable_database_says_so():
    with pytest.raises(DatabaseError, match="No MongoDB server answered"):
        facade.MongoJobs.new_from_connection_str("mongo://127.0.0.1:1/d/jobs")


def test_module_path_worker_runs_jobs_from_the_database(mongo_db, tmp_path):
    """`python -m sigopt_hyperopt.mongoexp` with hyperopt-mongo-worker's flags serves an fmin."""
    trials = facade.MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="by-module")
    search = threading.Thread(target=fmin, kwargs=dict(fn=quadratic, space={"x": hp.uniform("x", -1, 1)},
                                                       algo=rand.suggest, max_evals=3, trials=trials,
                                                       rstate=np.random.default_rng(0), show_progressbar=False))
    search.start()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.run(
        [sys.executable, "-m", "sigopt_hyperopt.mongoexp", f"--mongo={mongo_db}", "--max-jobs=3",
         "--poll-interval=0.2", "--reserve-timeout=60", "--exp-key=by-module", f"--workdir={tmp_path}",
         "--no-subprocesses", "--max-consecutive-failures=2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    search.join(timeout=120)
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert not search.is_alive()
    done = facade.MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="by-module")
    assert [t["state"] for t in done.trials] == [JOB_STATE_DONE] * 3
    assert all(t["owner"].startswith(os.uname().nodename) for t in done.trials)


def test_module_path_worker_rejects_arguments():
    done = subprocess.run([sys.executable, "-m", "sigopt_hyperopt.mongoexp", "stray"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "--reserve-timeout" in done.stdout


def test_run_one_times_out_on_an_empty_queue(mongo_db):
    worker = facade.MongoWorker(facade.MongoJobs.new_from_connection_str(f"mongo://{mongo_db}/jobs"),
                                poll_interval=0.2, logfilename=None)
    with pytest.raises(hyperopt.mongoexp.ReserveTimeout):
        worker.run_one(("host", 1), reserve_timeout=0.5)


def test_trial_ids_unique_across_concurrent_drivers(mongo_db):
    handle = facade.MongoJobs.new_from_connection_str(f"mongo://{mongo_db}/jobs")
    got: list[list[int]] = []

    def allocate() -> None:
        for _ in range(5):
            got.append(allocate_trial_ids(handle.db, 3))

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    ids = [tid for batch in got for tid in batch]
    assert len(ids) == 60 and len(set(ids)) == 60
    assert handle.db.job_ids.find_one({"a": 0})["last_id"] > max(ids)  # stock hyperopt starts after them


def test_same_seed_same_points_whatever_the_batches():
    domain = Domain(lambda p: 0.0, {"x": hp.uniform("x", -5, 5), "c": hp.choice("c", [0, 1])})

    def points(batches: list[int]) -> list:
        rstate = np.random.default_rng(7)
        suggest = one_seed_per_trial(rand.suggest, rstate)
        docs, tid = [], 0
        for size in batches:
            docs += suggest(list(range(tid, tid + size)), domain, Trials(), int(rstate.integers(2**31 - 1)))
            tid += size
        return [doc["misc"]["vals"] for doc in docs]

    assert points([1, 1, 1, 1]) == points([2, 2]) == points([3, 1])


def test_stored_form_round_trip():
    doc = {"spec": {"foo": ((1, 2, [3]), {})}, "result": {"loss": math.inf}, "plain": [1, 2]}
    stored = encode_document(doc)
    assert stored["spec"]["foo"][0] == {"__array__": [1, 2, {"__array__": [3]}]}
    assert stored["plain"] == [1, 2]
    assert decode_document(stored) == {"spec": {"foo": [[1, 2, [3]], {}]}, "result": {"loss": math.inf},
                                       "plain": [1, 2]}
