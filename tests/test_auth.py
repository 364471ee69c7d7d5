"""A database that requires a password: the right one works end to end, a wrong one fails fast and
neither ever shows up in an error or a log. FerretDB's SCRAM authentication, on a server of its own."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from hyperopt import fmin, hp
from hyperopt.base import JOB_STATE_DONE

from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.mongo import DatabaseError, MongoTrials

from .conftest import free_port, start_ferretdb, stop_process
from .objectives import slow_quadratic
from .test_mongo import start_workers

USER, PASSWORD = "alice", "pw-9f3b1c"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    port = free_port()
    process = start_ferretdb(tmp_path_factory.mktemp("ferretdb-auth"), port, "--test-enable-new-auth",
                             f"--setup-username={USER}", f"--setup-password={PASSWORD}", "--setup-database=admin")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(process)


def test_a_wrong_password_fails_fast_and_is_not_shown(auth_server):
    started = time.monotonic()
    with pytest.raises(DatabaseError, match="refused the credentials") as raised:
        MongoTrials(f"mongo://{USER}:wrong-pw-77@{auth_server}/db/jobs?authSource=admin", exp_key="x")
    assert time.monotonic() - started < 15
    assert "wrong-pw-77" not in str(raised.value) and f"{USER}:***@" in str(raised.value)


def test_the_right_password_runs_a_search_and_stays_out_of_the_logs(auth_server):
    database = f"auth_{uuid.uuid4().hex[:8]}"
    workers = start_workers(f"{USER}:{PASSWORD}@{auth_server}/{database}?authSource=admin", 2)
    try:
        trials = MongoTrials(f"mongo://{USER}:{PASSWORD}@{auth_server}/{database}/jobs?authSource=admin", exp_key="auth")
        fmin(slow_quadratic, {"x": hp.uniform("x", -1, 1)}, algo=sigopt_suggest, max_evals=6, trials=trials,
             rstate=np.random.default_rng(0), show_progressbar=False)
        docs = trials.all_trial_docs()
        assert len(docs) == 6 and all(d["state"] == JOB_STATE_DONE for d in docs)
        assert PASSWORD not in repr(docs)
    finally:
        for worker in workers:
            worker.terminate()
    logs = "".join(worker.communicate(timeout=20)[0] for worker in workers)
    assert "job tid=" in logs and PASSWORD not in logs
    assert "on the command line, where every user of this machine can read it" in logs  # and how to avoid it
