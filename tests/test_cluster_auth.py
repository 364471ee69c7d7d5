"""``cluster status`` on a database that requires a password (FerretDB's SCRAM, a server of its own).

The cluster record keeps the database URL without its password, so status must take the password
from the command line, a file or the environment instead of trying the redacted ``***`` (which the
server refuses)."""

from __future__ import annotations

import uuid

import pymongo
from hyperopt.base import JOB_STATE_NEW

from sigopt_hyperopt.cli import main
from sigopt_hyperopt.cluster.state import ClusterState

from .test_auth import PASSWORD, USER, auth_server  # noqa: F401  (the fixture)


def test_status_counts_the_jobs_of_a_password_protected_database(auth_server, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("SIGOPT_HYPEROPT_CLUSTERS", str(tmp_path / "clusters"))
    database = f"status_{uuid.uuid4().hex[:8]}"
    with pymongo.MongoClient(f"mongodb://{USER}:{PASSWORD}@{auth_server}/?authSource=admin") as client:
        client[database]["jobs"].insert_many([{"tid": i, "state": JOB_STATE_NEW, "owner": None} for i in range(3)])
    url = f"{USER}:{PASSWORD}@{auth_server}/{database}?authSource=admin"
    ClusterState(name="locked", hosts=[], database=f"{USER}:***@{auth_server}/{database}?authSource=admin").save()

    assert main(["cluster", "status", "locked"]) == 0
    out = capsys.readouterr().out
    assert "the cluster record keeps no database password: pass --db or --mongo with it" in out

    assert main(["cluster", "status", "locked", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "all jobs: new 3, running 0, finished 0, failed 0" in out, out
    assert PASSWORD not in out

    secret_file = tmp_path / "db-password"
    secret_file.write_text(PASSWORD + "\n")
    secret_file.chmod(0o600)
    without_password = f"{USER}@{auth_server}/{database}?authSource=admin"
    for arguments in (["--db", without_password, "--mongo-password-file", str(secret_file)],
                      ["--mongo-password-file", str(secret_file)]):  # the record's URL, its *** replaced
        assert main(["cluster", "status", "locked", *arguments]) == 0
        out = capsys.readouterr().out
        assert "all jobs: new 3, running 0, finished 0, failed 0" in out, (arguments, out)
        assert PASSWORD not in out
    monkeypatch.setenv("SIGOPT_HYPEROPT_MONGO_PASSWORD", PASSWORD)
    assert main(["cluster", "status", "locked"]) == 0
    assert "all jobs: new 3, running 0, finished 0, failed 0" in capsys.readouterr().out
