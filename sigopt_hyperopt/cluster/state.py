"""The record of one cluster, shared by ``up``, ``bootstrap``, ``tunnel``, ``status`` and ``down``.

A cluster is a name, its hosts (``user@address:port``; for EC2 also the instance id), how to reach
them (a private-key *path*, never a key; the Python command) and where its workers find the
database. It lives in ``~/.config/sigopt-hyperopt/clusters/NAME.json`` (``$SIGOPT_HYPEROPT_CLUSTERS``
overrides the folder) beside the cluster's ``NAME.known_hosts`` and generated ``NAME.ssh_config``.
A database URL is stored without its password; AWS credentials are never stored at all.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ClusterError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
DEFAULT_TUNNEL_PORT = 27117
"""First port on each host's loopback that the reverse tunnel to the driver's database listens on."""


def clusters_dir() -> Path:
    """The folder that holds the cluster records."""
    configured = os.environ.get("SIGOPT_HYPEROPT_CLUSTERS")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "sigopt-hyperopt" / "clusters"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ClusterError(f"Cluster name {name!r} is not usable: use letters, digits, '-', '_' or '.' (at most 63).")
    return name


@dataclass
class Host:
    """One machine of the cluster, as SSH reaches it."""

    address: str
    user: str
    port: int = 22
    instance_id: str | None = None
    bootstrapped: bool = False

    @classmethod
    def parse(cls, text: str, default_user: str, default_port: int = 22) -> "Host":
        """``[user@]address[:port]``."""
        text = text.strip()
        user, _, rest = text.rpartition("@")
        address, port = rest, default_port
        if rest.count(":") == 1:
            address, _, port_text = rest.partition(":")
            if not port_text.isdigit():
                raise ClusterError(f"Cannot read the host {text!r}: expected user@address or user@address:port")
            port = int(port_text)
        if not address or any(c.isspace() for c in text):
            raise ClusterError(f"Cannot read the host {text!r}: expected user@address or user@address:port")
        return cls(address=address, user=user or default_user, port=port)

    @property
    def label(self) -> str:
        return f"{self.user}@{self.address}" + (f":{self.port}" if self.port != 22 else "")


@dataclass
class ClusterState:
    """Everything the cluster commands share about one cluster."""

    name: str
    hosts: list[Host] = field(default_factory=list)
    key_path: str | None = None
    ssh_options: dict[str, str] = field(default_factory=dict)
    python: str = "python3"
    region: str | None = None
    security_group_id: str | None = None
    database: str | None = None
    """The driver's database as the driver reaches it (``host:port/db``); hosts reach it through tunnels."""
    direct_mongo: str | None = None
    """A database URL the hosts reach themselves (no tunnel); stored without its password."""
    tunnel_port: int = DEFAULT_TUNNEL_PORT
    workers_per_host: int | None = None
    """None: each host's CPU count."""

    # -- files -------------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return clusters_dir() / f"{self.name}.json"

    @property
    def known_hosts_path(self) -> Path:
        return clusters_dir() / f"{self.name}.known_hosts"

    @property
    def ssh_config_path(self) -> Path:
        return clusters_dir() / f"{self.name}.ssh_config"

    @property
    def remote_dir(self) -> str:
        """The cluster's folder on each host, relative to the login user's home."""
        return f".sigopt-hyperopt/clusters/{self.name}"

    def tunnel_port_of(self, host: Host) -> int:
        """The loopback port a host's workers reach the database on.

        Host *i* listens on ``tunnel_port + i``: one port per host, so several "hosts" that share one
        machine's loopback (containers, the test suite's 127.0.0.x sshds) do not collide.
        """
        return self.tunnel_port + self.hosts.index(host)

    def save(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = dataclasses.asdict(self)
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(data, indent=2) + "\n")
        temporary.replace(self.path)
        return self.path

    def delete(self) -> None:
        for path in (self.path, self.ssh_config_path, self.known_hosts_path):
            path.unlink(missing_ok=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClusterState":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["hosts"] = [Host(**h) for h in data.get("hosts", [])]
        return cls(**values)


def load(name: str) -> ClusterState:
    """The saved record of a cluster, or a ClusterError that says how to make one."""
    path = clusters_dir() / f"{check_name(name)}.json"
    if not path.exists():
        raise ClusterError(
            f"No cluster named {name!r} ({path} does not exist): create it with "
            f"`sigopt-hyperopt cluster up {name}` or `sigopt-hyperopt cluster bootstrap {name} --hosts user@host,...`."
        )
    return ClusterState.from_dict(json.loads(path.read_text()))


def load_or_new(name: str) -> ClusterState:
    path = clusters_dir() / f"{check_name(name)}.json"
    return load(name) if path.exists() else ClusterState(name=name)
