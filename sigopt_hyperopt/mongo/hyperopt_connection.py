"""hyperopt's URL and connection helpers (``parse_url``, ``connection_from_string``...) on pymongo 4.

hyperopt 0.3.0 authenticates with ``Database.authenticate`` and counts with ``Cursor.count``, both gone
in pymongo 4, so every call below failed there for a URL with a user, and ``number_of_jobs_in_db``
always.  These keep hyperopt's signatures and return values and connect through :mod:`.address`
(credentials in the client, a ping before returning, errors that say what to do).

What differs from hyperopt, on purpose:

* ``parse_url`` reads the URL with :func:`~.address.parse_mongo_url`: a missing port is MongoDB's
  27017 (hyperopt raised ``TypeError``), a missing collection is ``jobs``, a password with an
  unencoded ``/`` or ``@`` is read as typed, and nothing is logged (hyperopt logged the user name).
* ``read_pw`` raises :class:`~sigopt_hyperopt.errors.ConfigurationError` naming the file when
  ``~/.hyperopt`` is missing.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pymongo

from ..errors import ConfigurationError, DatabaseError
from .address import MongoAddress, connect, parse_mongo_url

logger = logging.getLogger(__name__)

SSH_SCHEMES = ("mongo+ssh", "ssh+mongo")

TUNNEL_WAIT_S = 10.0
"""How long ``connection_with_tunnel(ssh=True)`` waits for the tunnel's local port to accept connections."""


def read_pw() -> str:
    """The database password in ``~/.hyperopt`` (its first line), where hyperopt keeps it."""
    path = Path(os.path.expanduser("~")) / ".hyperopt"
    try:
        lines = path.read_text().splitlines()
    except OSError:
        raise ConfigurationError(f"No database password file {path}: write the password there, "
                                 "or put the password in the mongo:// URL") from None
    return lines[0] if lines else ""


def as_mongo_str(s: str) -> str:
    """``host:port/db`` as hyperopt's ``mongo://host:port/db`` (a URL with the scheme is kept)."""
    return s if s.startswith("mongo://") else f"mongo://{s}"


def parse_url(url: str, pwfile: str | None = None) -> tuple[str, str | None, str | None, str, int, str, str, str | None]:
    """``protocol://[user[:pw]@]host[:port]/db/collection[?authSource=db]`` as hyperopt's 8-tuple:
    (protocol, user, password, host, port, db, collection, authSource).

    A URL that names a user but no password takes it from ``pwfile`` (its first line), as hyperopt does.
    """
    protocol, separator, rest = url.partition("://")
    if not separator:
        raise DatabaseError(f"Cannot read the database URL: {url.partition('@')[-1]!r} has no protocol "
                            "(expected mongo://host:port/db/collection)")
    address = parse_mongo_url("mongo://" + rest)
    password = address.password
    if password is None and address.username is not None and pwfile:
        password = Path(pwfile).read_text().splitlines()[0]
    return (protocol, address.username, password, address.host, address.port, address.database,
            address.collection, address.auth_source)


def connection_with_tunnel(dbname: str, host: str = "localhost", auth_dbname: str | None = None, port: int = 27017,
                           ssh: bool = False, user: str | None = "hyperopt",
                           pw: str | None = None) -> tuple[pymongo.MongoClient, subprocess.Popen | None]:
    """A client of ``dbname`` at ``host:port`` and the ssh tunnel it goes through (None without ``ssh``).

    As in hyperopt: with ``ssh`` the database is reached through ``ssh -L`` to ``host`` (its own login,
    no database credentials); otherwise ``user`` (default ``hyperopt``) authenticates with ``pw``, else
    with :func:`read_pw`'s password, against ``auth_dbname`` (``admin`` for the user ``hyperopt``).
    """
    if ssh:
        local_port = _free_port()
        tunnel = subprocess.Popen(["ssh", "-NT", "-o", "ExitOnForwardFailure=yes", "-L",
                                   f"127.0.0.1:{local_port}:127.0.0.1:{port}", host])
        try:
            _wait_for_port(local_port, tunnel)
            client = connect(MongoAddress(hosts=(("127.0.0.1", local_port),), database=dbname, collection="jobs"))
        except BaseException:
            tunnel.terminate()
            raise
        return client, tunnel
    query = ""
    if user:
        pw = pw or read_pw()
        auth_dbname = auth_dbname or ("admin" if user == "hyperopt" else None)
    if auth_dbname:
        query = f"authSource={auth_dbname}"
    address = MongoAddress(hosts=((host, int(port)),), database=dbname, collection="jobs", username=user or None,
                           password=pw if user else None, query=query)
    return connect(address), None


def connection_from_string(s: str) -> tuple[pymongo.MongoClient, subprocess.Popen | None, Any, Any]:
    """(client, tunnel, database, collection) for a ``mongo://`` (or ``mongo+ssh://``) URL."""
    protocol, user, pw, host, port, db, collection, authdb = parse_url(s)
    if protocol not in ("mongo", *SSH_SCHEMES):
        raise DatabaseError(f"Unsupported database URL protocol {protocol!r}: use mongo://host:port/db/collection")
    if protocol == "mongo" and (user is None or pw is not None):
        client = connect(parse_mongo_url(s))  # every host and option of the URL, as given
        tunnel = None
    else:
        client, tunnel = connection_with_tunnel(dbname=db, ssh=protocol != "mongo", user=user, pw=pw, host=host,
                                                port=port, auth_dbname=authdb)
    return client, tunnel, client[db], client[db][collection]


def number_of_jobs_in_db(options: Any) -> int:
    """How many jobs the collection ``jobs`` of ``options.mongo`` (``host:port/db``) holds."""
    from .jobs import MongoJobs

    handle = MongoJobs.new_from_connection_str(as_mongo_str(options.mongo) + "/jobs")
    try:
        return len(handle)
    finally:
        handle.conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, tunnel: subprocess.Popen) -> None:
    deadline = time.monotonic() + TUNNEL_WAIT_S
    while time.monotonic() < deadline:
        if tunnel.poll() is not None:
            raise DatabaseError(f"The ssh tunnel exited (status {tunnel.returncode}); check that `ssh HOST` "
                                "works without a password prompt")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise DatabaseError(f"The ssh tunnel did not open local port {port} within {TUNNEL_WAIT_S:.0f} s")


__all__ = ["as_mongo_str", "connection_from_string", "connection_with_tunnel", "number_of_jobs_in_db",
           "parse_url", "read_pw"]
