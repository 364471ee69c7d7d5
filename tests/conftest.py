"""Shared fixtures: a real MongoDB-wire server for the distributed tests.

``MONGO_URL`` (``host:port``) points the tests at an existing server (a real mongod). Otherwise a
FerretDB server (MongoDB wire protocol over SQLite) is started on a free loopback port with a
temporary directory; ``.ci/install-ferretdb.sh`` builds it. No fake stands in for the database.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pymongo
import pytest

FERRETDB_CANDIDATES = (
    os.environ.get("FERRETDB_BIN", ""),
    str(Path.home() / ".cache" / "sigopt-hyperopt-ci" / "bin" / "ferretdb-v1.24.2"),
    shutil.which("ferretdb") or "",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(address: str, process: subprocess.Popen | None, log: Path) -> None:
    deadline = time.monotonic() + 30
    with pymongo.MongoClient(f"mongodb://{address}", serverSelectionTimeoutMS=500) as client:
        while True:
            try:
                client.admin.command("ping")
                return
            except pymongo.errors.PyMongoError:
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"FerretDB exited: {log.read_text()[-2000:]}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no MongoDB-wire server at {address} after 30 s") from None
                time.sleep(0.2)


def _build_ferretdb() -> str:
    """Build FerretDB with the project's script (needs Go), so `uv run pytest` needs no other step."""
    script = Path(__file__).resolve().parent.parent / ".ci" / "install-ferretdb.sh"
    built = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f"No MongoDB-wire server and FerretDB could not be built ({script}):\n{built.stderr[-3000:]}\n"
                    "Install Go, or set MONGO_URL=host:port to use a running mongod.")
    return built.stdout.strip().splitlines()[-1]


def ferretdb_binary() -> str:
    return next((c for c in FERRETDB_CANDIDATES if c and os.access(c, os.X_OK)), None) or _build_ferretdb()


def start_ferretdb(data: Path, port: int, *extra: str) -> subprocess.Popen:
    """Start FerretDB on 127.0.0.1:port over SQLite files in ``data``; returns when it answers."""
    log = data / "ferretdb.log"
    with open(log, "a") as out:
        process = subprocess.Popen(
            [ferretdb_binary(), "--handler=sqlite", f"--sqlite-url=file:{data}/", f"--listen-addr=127.0.0.1:{port}",
             f"--state-dir={data}", "--debug-addr=-", "--telemetry=disable", "--log-level=warn", *extra],
            stdout=out, stderr=subprocess.STDOUT,
        )
    _wait_for(f"127.0.0.1:{port}", process, log)
    return process


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    """``host:port`` of a running MongoDB-wire server."""
    if os.environ.get("MONGO_URL"):
        address = os.environ["MONGO_URL"].split("://")[-1].rstrip("/")
        _wait_for(address, None, Path("/dev/null"))
        yield address
        return
    port = free_port()
    process = start_ferretdb(tmp_path_factory.mktemp("ferretdb"), port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(process)


@pytest.fixture
def mongo_db(mongo_server):
    """A fresh database name on the server, as ``host:port/db``."""
    return f"{mongo_server}/test_{uuid.uuid4().hex[:12]}"
