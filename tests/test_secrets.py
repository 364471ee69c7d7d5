"""Database secrets stay out of ``ps`` and out of every message.

A password on a command line is visible to every user of the machine (``/proc/<pid>/cmdline``), so
the worker (and the dashboard, report and cluster commands) also take it from a file or the
environment; real worker processes on FerretDB's SCRAM server (which checks it) show that the value
reaches the database and never the process's command line. URL options whose values can be secret
are masked wherever a URL is shown, including in the errors of a URL that cannot be read.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest
from hyperopt import fmin, hp
from hyperopt.base import JOB_STATE_DONE

from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.errors import ConfigurationError, DatabaseError
from sigopt_hyperopt.mongo import MongoTrials, parse_mongo_url
from sigopt_hyperopt.mongo.address import redact

from .objectives import slow_quadratic
from .test_auth import PASSWORD, USER, auth_server  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parent.parent
MONGO_URL_ENV, PASSWORD_ENV = "SIGOPT_HYPEROPT_MONGO", "SIGOPT_HYPEROPT_MONGO_PASSWORD"

SECRET_OPTIONS = {"tlsCertificateKeyFilePassword": "k3y-pw-1", "authMechanismProperties": "AWS_SESSION_TOKEN:t0ken-2",
                  "mySecret": "s3cr3t-3", "apiToken": "t0k3n-4"}
QUERY = "&".join(f"{name}={value}" for name, value in SECRET_OPTIONS.items())
KNOWN_QUERY = "tlsCertificateKeyFilePassword=k3y-pw-1&authMechanismProperties=AWS_SESSION_TOKEN:t0ken-2"
"""Options pymongo knows (a URL with the others cannot be read)."""


def _no_secret(text: str) -> None:
    for secret in ("S3cret-pw", *SECRET_OPTIONS.values()):
        assert secret not in text, text


@pytest.mark.parametrize("url", [
    f"mongo://alice:S3cret-pw@127.0.0.1:x/db/jobs?{KNOWN_QUERY}",            # the port cannot be read
    f"mongo://alice:S3cret-pw@127.0.0.1:1/db/jobs?{KNOWN_QUERY}&tls=maybe",  # pymongo refuses an option
    f"mongo://alice:S3cret-pw@127.0.0.1:1/db/jobs?{QUERY}",                  # options pymongo does not know
])
def test_a_url_that_cannot_be_read_is_shown_with_its_secret_options_masked(url):
    with pytest.raises(DatabaseError) as raised:
        parse_mongo_url(url)
    _no_secret(str(raised.value))
    assert "alice:***@" in str(raised.value) and "tlsCertificateKeyFilePassword=***" in str(raised.value)


def test_every_shown_form_of_a_url_masks_the_password_and_secret_options():
    url = f"mongo://alice:S3cret-pw@127.0.0.1:1/db/jobs?{KNOWN_QUERY}&appName=shown"
    for shown in (parse_mongo_url(url).redacted, redact(url), redact(f"{url}&{QUERY}")):
        _no_secret(shown)
        assert "alice:***@" in shown and "appName=shown" in shown and "authMechanismProperties=***" in shown, shown


def test_the_password_comes_from_a_file_or_the_environment_and_reaches_the_address(tmp_path, caplog):
    from sigopt_hyperopt.mongo.credentials import mongo_url

    secret_file = tmp_path / "db-password"
    secret_file.write_text("fr0m-file\n")
    secret_file.chmod(0o600)
    with caplog.at_level(logging.WARNING):
        from_file = mongo_url("alice@127.0.0.1:27017/db", password_file=str(secret_file), environ={})
        from_env = mongo_url("alice@127.0.0.1:27017/db", environ={PASSWORD_ENV: "fr0m-env"})
        whole = mongo_url(None, environ={MONGO_URL_ENV: "bob:wh0le-url@127.0.0.1:27017/db?authSource=admin"})
    assert parse_mongo_url(from_file).password == "fr0m-file" and parse_mongo_url(from_file).username == "alice"
    assert parse_mongo_url(from_env).password == "fr0m-env"
    assert parse_mongo_url(whole).password == "wh0le-url" and parse_mongo_url(whole).auth_source == "admin"
    assert caplog.records == []  # nothing was on a command line: nothing to warn about


def test_a_password_on_the_command_line_still_works_and_warns_how_to_avoid_it(caplog):
    from sigopt_hyperopt.mongo.credentials import mongo_url

    with caplog.at_level(logging.WARNING):
        url = mongo_url("alice:S3cret-pw@127.0.0.1:27017/db", environ={})
    assert parse_mongo_url(url).password == "S3cret-pw"
    [record] = caplog.records
    assert "--mongo-password-file" in record.getMessage() and PASSWORD_ENV in record.getMessage()
    _no_secret(record.getMessage())


def test_conflicting_or_unusable_passwords_are_refused_with_what_to_do(tmp_path):
    from sigopt_hyperopt.mongo.credentials import mongo_url

    secret_file = tmp_path / "db-password"
    secret_file.write_text("fr0m-file\n")
    with pytest.raises(ConfigurationError, match="two passwords"):
        mongo_url("alice:S3cret-pw@127.0.0.1:27017/db", password_file=str(secret_file), environ={})
    with pytest.raises(ConfigurationError, match="user name"):
        mongo_url("127.0.0.1:27017/db", password_file=str(secret_file), environ={})
    with pytest.raises(ConfigurationError, match="cannot be read"):
        mongo_url("alice@127.0.0.1:27017/db", password_file=str(tmp_path / "missing"), environ={})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigurationError, match="empty"):
        mongo_url("alice@127.0.0.1:27017/db", password_file=str(empty), environ={})


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_workers_given_the_password_by_file_or_environment_run_a_search_and_ps_never_shows_it(auth_server):  # noqa: F811
    database = f"secret_{uuid.uuid4().hex[:8]}"
    secret_file = Path(tempfile.mkdtemp(prefix="secret-")) / "db-password"
    secret_file.write_text(PASSWORD + "\n")
    secret_file.chmod(0o600)
    base_env = {k: v for k, v in os.environ.items() if k not in ("SIGOPT_API_TOKEN", MONGO_URL_ENV, PASSWORD_ENV)}
    base_env["PYTHONPATH"] = str(ROOT)
    without_password = f"{USER}@{auth_server}/{database}?authSource=admin"
    ways = [  # (extra arguments, extra environment): each worker takes exactly one job
        ([f"--mongo={without_password}", f"--mongo-password-file={secret_file}"], {}),
        ([f"--mongo={without_password}"], {PASSWORD_ENV: PASSWORD}),
        ([], {MONGO_URL_ENV: f"{USER}:{PASSWORD}@{auth_server}/{database}?authSource=admin"}),
    ]
    workers = [subprocess.Popen(
        [sys.executable, "-m", "sigopt_hyperopt.cli", "worker", *arguments, "--poll-interval=0.2", "--max-jobs=1",
         "--reserve-timeout=60", f"--workdir={tempfile.mkdtemp(prefix='worker-')}"],
        cwd=ROOT, env={**base_env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for arguments, extra in ways]
    try:
        for worker in workers:  # Popen returns once the command is exec'd: this is what ps shows
            assert PASSWORD not in _cmdline(worker.pid)
        trials = MongoTrials(f"mongo://{USER}:{PASSWORD}@{auth_server}/{database}/jobs?authSource=admin",
                             exp_key="secret")
        fmin(slow_quadratic, {"x": hp.uniform("x", -1, 1)}, algo=sigopt_suggest, max_evals=3, trials=trials,
             max_queue_len=3, timeout=180, rstate=np.random.default_rng(0), show_progressbar=False)
        docs = trials.all_trial_docs()
        assert len(docs) == 3 and all(d["state"] == JOB_STATE_DONE for d in docs)
        assert len({str(d["owner"]) for d in docs}) == 3  # every worker authenticated and took a job
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
    logs = [worker.communicate(timeout=30)[0] for worker in workers]
    for log in logs:
        assert "job tid=" in log and PASSWORD not in log, log
        assert "on the command line" not in log, log
