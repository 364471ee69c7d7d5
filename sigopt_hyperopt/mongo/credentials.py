"""The database URL and its password from where ``ps`` cannot see them: a file or the environment.

A command line is world-readable on Linux (``/proc/<pid>/cmdline``, ``ps -ef``), so a password in
``--mongo alice:S3cret@host/db`` is shown to every user of the machine for as long as the worker runs.
The commands that connect to the database therefore also take

* the whole URL from the environment variable :data:`MONGO_URL_ENV` (used when ``--mongo`` is not given);
* the password alone from a file (``--mongo-password-file``: its first line) or from the environment
  variable :data:`PASSWORD_ENV`, for a URL that names only the user (``alice@host/db``).

A process's environment is readable only by its own user (and root), unlike its command line.
A password still given on the command line works, with a warning that says how to avoid it.
"""

from __future__ import annotations

import logging
import os
import stat
import urllib.parse
from dataclasses import replace
from typing import Mapping

from ..errors import ConfigurationError
from .address import MongoAddress, parse_mongo_url

logger = logging.getLogger(__name__)

MONGO_URL_ENV = "SIGOPT_HYPEROPT_MONGO"
"""The database URL, password included, when ``--mongo`` is not given."""

PASSWORD_ENV = "SIGOPT_HYPEROPT_MONGO_PASSWORD"
"""The database password, for a URL that names the user but no password."""


def mongo_url(given: str | None, *, password_file: str | None = None, environ: Mapping[str, str] | None = None,
              default: str | None = None, option: str = "--mongo", on_command_line: bool | None = None) -> str | None:
    """The URL to connect with, password included, from the command line's ``given`` value (or the
    environment's URL, or ``default``) and a password file or the environment; None when there is none.

    The password comes from, in this order: ``password_file``; the URL itself; :data:`PASSWORD_ENV`.
    A file and a password in the URL are two passwords: refused, since either may be a mistake.
    ``on_command_line``: whether ``given`` was typed on the command line (the default when it is
    given), which earns a URL holding a secret a warning.
    """
    environ = os.environ if environ is None else environ
    from_command_line = given is not None if on_command_line is None else on_command_line
    url = given if given is not None else environ.get(MONGO_URL_ENV) or default
    if url is None:
        return None
    address = parse_mongo_url(url)
    if from_command_line and _holds_secret(address):
        logger.warning("%s gives the database password (or a secret URL option) on the command line, where every user of this machine can "
                       "read it (ps); put it in a file named by --mongo-password-file, or in the environment "
                       "variable %s (or the whole URL in %s)", option, PASSWORD_ENV, MONGO_URL_ENV)
    password = read_password_file(password_file) if password_file else None
    if password is not None and address.password is not None:
        raise ConfigurationError(f"{address.redacted} has a password and --mongo-password-file gives another: two "
                                 "passwords; leave the password out of the URL (user@host:port/db).")
    if password is None and address.password is None:
        password = environ.get(PASSWORD_ENV) or None
    if password is None:
        return address.url
    if not address.username:
        source = "--mongo-password-file" if password_file else PASSWORD_ENV
        raise ConfigurationError(f"{source} gives a password but {address.redacted} names no user name: "
                                 "write the user into the URL, user@host:port/db.")
    return replace(address, password=password).url


def read_password_file(path: str) -> str:
    """The first line of ``path`` (a trailing newline is not part of the password)."""
    try:
        with open(path, encoding="utf-8") as stream:
            mode = os.fstat(stream.fileno()).st_mode
            first = stream.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"The password file {path} cannot be read ({type(error).__name__}: "
                                 f"{getattr(error, 'strerror', None) or error}); check the path and its permissions."
                                 ) from None
    if not first:
        raise ConfigurationError(f"The password file {path} is empty: its first line is the database password.")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("the password file %s can be read by other users; chmod 600 %s", path, path)
    return first


def _holds_secret(address: MongoAddress) -> bool:
    """A password, or an option such as ``tlsCertificateKeyFilePassword`` (a key *file*'s path is no secret)."""
    names = [key.lower() for key, _ in urllib.parse.parse_qsl(address.query, keep_blank_values=True)]
    return address.password is not None or any(
        word in name for name in names for word in ("password", "secret", "token", "authmechanismproperties"))
