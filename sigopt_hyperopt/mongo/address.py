"""Database URLs and connecting: hyperopt's ``mongo://[user:password@]host:port/db/collection?options`` form.

pymongo parses and validates MongoDB URIs (hosts, replica sets, ``tls``, ``authSource``…); this
module only keeps hyperopt's form on top of it (a ``mongo://`` scheme, the collection after the
database) and one thing pymongo does not forgive: a password with an unencoded ``/``, ``#``, ``?``
or ``@``.  The user part ends at the *last* ``@``, so such a password is read as typed.  No message
ever holds the password, nor the value of an option that can hold a secret (see :func:`is_secret_option`):
:attr:`MongoAddress.redacted` and :func:`redact` are the forms for logs and errors.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import pymongo
import pymongo.errors
import pymongo.uri_parser

from ..errors import DatabaseError

SCHEMES = ("mongo", "mongodb")

SERVER_TIMEOUT_MS = 5000
"""How long to wait for the database before saying it is unreachable."""

MASK = "***"

SECRET_WORDS = ("password", "secret", "key", "token")
"""An option whose name holds one of these may carry a secret (``tlsCertificateKeyFilePassword``)."""

SECRET_OPTIONS = ("authmechanismproperties",)
"""Options that may carry a secret under another name (``AWS_SESSION_TOKEN:…``)."""


def is_secret_option(name: str) -> bool:
    """Whether a URL option's value is masked wherever the URL is shown."""
    lowered = name.lower()
    return lowered in SECRET_OPTIONS or any(word in lowered for word in SECRET_WORDS)


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
        return f"mongodb://{_credentials(self.username, self.password)}{self.hosts_text}/{self.database}" + (
            f"?{self.query}" if self.query else "")

    @property
    def redacted(self) -> str:
        user = f"{self.username}:{MASK}@" if self.username else ""
        return f"mongo://{user}{self.hosts_text}/{self.database}/{self.collection}" + (
            f"?{_redacted_query(self.query)}" if self.query else "")

    @property
    def url(self) -> str:
        """This address in the form :func:`parse_mongo_url` reads, credentials encoded; never log it."""
        return "mongo://" + _credentials(self.username, self.password) + (
            f"{self.hosts_text}/{self.database}/{self.collection}" + (f"?{self.query}" if self.query else ""))


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
    hosts, _, path_and_query = location.partition("/")
    path, _, query = path_and_query.partition("?")
    shown = f"{scheme}://" + (f"{username}:{MASK}@" if at else "") + location.partition("?")[0] + (
        f"?{_redacted_query(query)}" if query else "")
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
        reason = _masked(str(error), [password, *_secret_values(query)])
        raise DatabaseError(f"Cannot read the database URL {shown!r}: {reason}") from None
    return MongoAddress(hosts=tuple((str(h), int(p)) for h, p in parsed["nodelist"]), database=address.database,
                        collection=address.collection, username=username, password=password, query=query)


def redact(url: str) -> str:
    """A URL as it may be shown, even one that would not parse: any password and the values of
    options that can hold secrets replaced by ``***``."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    userinfo, at, location = rest.rpartition("@")
    location, question, query = location.partition("?")
    shown = location + (f"?{_redacted_query(query)}" if question else "")
    if not at:
        return f"{scheme}{separator}{shown}"
    user = userinfo.partition(":")[0]
    return f"{scheme}{separator}{user}{f':{MASK}' if ':' in userinfo else ''}@{shown}"


def _credentials(username: str | None, password: str | None) -> str:
    if not username:
        return ""
    text = urllib.parse.quote(username, safe="")
    if password is not None:
        text += ":" + urllib.parse.quote(password, safe="")
    return text + "@"


def _redacted_query(query: str) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{key}={MASK if is_secret_option(key) else value}" for key, value in pairs)


def _secret_values(query: str) -> list[str]:
    return [value for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True)
            if is_secret_option(key) and value]


def _masked(text: str, secrets: list[str | None]) -> str:
    """``text`` with every secret (as given and URL-encoded) replaced by ``***``; longest first."""
    forms = {form for secret in secrets if secret for form in (secret, urllib.parse.quote(secret, safe=""))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def connect(address: MongoAddress) -> pymongo.MongoClient:
    """A client whose server answered, or a DatabaseError that says what to do."""
    credentials: dict[str, Any] = {}
    if address.username and address.auth_source is None:
        credentials["authSource"] = "admin"  # hyperopt's habit; pymongo would use the URL's database
    client: pymongo.MongoClient = pymongo.MongoClient(
        address.uri, serverSelectionTimeoutMS=SERVER_TIMEOUT_MS, connectTimeoutMS=SERVER_TIMEOUT_MS, w=1,
        **credentials,
    )
    try:
        client.admin.command("ping")
        if address.username:
            client[address.database].list_collection_names()
    except pymongo.errors.OperationFailure as error:
        client.close()
        if error.code in (18, 13) or "auth" in str(error).lower():
            raise DatabaseError(
                f"The database at {address.redacted} refused the credentials of user {address.username!r}; "
                "check the user name, the password and authSource."
            ) from None
        raise DatabaseError(f"The database at {address.redacted} refused the connection: {error}") from None
    except pymongo.errors.PyMongoError:
        client.close()
        raise DatabaseError(
            f"No MongoDB server answered at {address.hosts_text} within "
            f"{SERVER_TIMEOUT_MS / 1000:.0f} s ({address.redacted}); start it, or check the host and port."
        ) from None
    return client
