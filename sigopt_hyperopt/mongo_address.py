"""Database URLs: hyperopt's ``mongo://[user:password@]host:port/db/collection?options`` form.

pymongo parses and validates MongoDB URIs (hosts, replica sets, ``tls``, ``authSource``…); this
module only keeps hyperopt's form on top of it (a ``mongo://`` scheme, the collection after the
database) and one thing pymongo does not forgive: a password with an unencoded ``/``, ``#``, ``?``
or ``@``.  The user part ends at the *last* ``@``, so such a password is read as typed.  No message
ever holds the password: :attr:`MongoAddress.redacted` is the form for logs and errors.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

import pymongo.errors
import pymongo.uri_parser

from .errors import DatabaseError

SCHEMES = ("mongo", "mongodb")


@dataclass(frozen=True)
class MongoAddress:
    """A parsed database URL; ``uri`` is what pymongo connects with, ``redacted`` what may be shown."""

    hosts: tuple[tuple[str, int], ...]
    database: str
    collection: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    query: str = ""
    """The URL's options as given (``tls=true&replicaSet=rs0``), validated by pymongo."""

    @property
    def host(self) -> str:
        return self.hosts[0][0]

    @property
    def port(self) -> int:
        return self.hosts[0][1]

    @property
    def hosts_text(self) -> str:
        return ",".join(f"{host}:{port}" for host, port in self.hosts)

    @property
    def auth_source(self) -> str | None:
        return self.option("authSource")

    def option(self, name: str) -> str | None:
        """An option of the URL by name (case-insensitive, as MongoDB reads them), or None."""
        for key, value in urllib.parse.parse_qsl(self.query, keep_blank_values=True):
            if key.lower() == name.lower():
                return value
        return None

    @property
    def uri(self) -> str:
        """The ``mongodb://`` URI with the credentials encoded; never log it."""
        credentials = ""
        if self.username:
            credentials = urllib.parse.quote(self.username, safe="")
            if self.password is not None:
                credentials += ":" + urllib.parse.quote(self.password, safe="")
            credentials += "@"
        return f"mongodb://{credentials}{self.hosts_text}/{self.database}" + (f"?{self.query}" if self.query else "")

    @property
    def redacted(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"mongo://{user}{self.hosts_text}/{self.database}/{self.collection}" + (
            f"?{_redacted_query(self.query)}" if self.query else "")


def parse_mongo_url(url: str, default_collection: str = "jobs") -> MongoAddress:
    """``mongo://[user[:password]@]host[:port][,host2…]/db[/collection][?options]``; the scheme is optional."""
    scheme, separator, rest = url.strip().partition("://")
    if not separator:
        scheme, rest = "mongo", url.strip()
    if scheme not in SCHEMES:
        raise DatabaseError(f"Unsupported database URL scheme {scheme!r}: use mongo://host:port/db/jobs")
    userinfo, at, location = rest.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = urllib.parse.unquote(user) or None
        password = urllib.parse.unquote(secret) if colon else None
    shown = f"{scheme}://" + (f"{username}:***@" if at else "") + location
    hosts, _, path_and_query = location.partition("/")
    path, _, query = path_and_query.partition("?")
    names = [p for p in path.split("/") if p]
    if not hosts or not names or len(names) > 2:
        raise DatabaseError(f"Cannot read the database URL {shown!r}: expected mongo://host:port/db/jobs "
                            "(or host:port/db for a worker)")
    address = MongoAddress(hosts=(), database=names[0], collection=names[1] if len(names) == 2 else default_collection,
                           username=username, password=password, query=query)
    checked = f"mongodb://{hosts}/{address.database}" + (f"?{query}" if query else "")
    try:
        parsed = pymongo.uri_parser.parse_uri(checked, warn=False)
    except (pymongo.errors.PyMongoError, ValueError) as error:
        reason = str(error).replace(password, "***") if password else str(error)
        raise DatabaseError(f"Cannot read the database URL {shown!r}: {reason}") from None
    return MongoAddress(hosts=tuple((str(h), int(p)) for h, p in parsed["nodelist"]), database=address.database,
                        collection=address.collection, username=username, password=password, query=query)


def redact(url: str) -> str:
    """A URL as it may be shown: any password replaced by ``***``, even one that would not parse."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    userinfo, at, location = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}{separator}{user}:***@{location}"


def _redacted_query(query: str) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{key}={'***' if 'password' in key.lower() else value}" for key, value in pairs)
