"""Install, start, stop and inspect workers on every host of a cluster, over SSH with execnet.

Each host is handled in its own thread, so a slow install does not hold up the others and a failing
host (unreachable, wrong Python, an install error) is reported with its reason while the others go
on. Per host, the steps are: check that ssh gets in and that the host's Python is recent enough
(plain ``ssh``, before execnet starts anything there), open an execnet gateway
(``ssh=ALIAS//ssh_config=FILE//python=PYTHON``), send :mod:`.remote` a request, read its answer.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import execnet

from ..errors import ClusterError
from . import remote, ssh
from .package import Payload
from .state import ClusterState, Host

logger = logging.getLogger(__name__)

GATEWAY_TIMEOUT_S = 60
INSTALL_TIMEOUT_S = 1800


@dataclass
class HostOutcome:
    """What happened on one host: ``error`` is None when it went well."""

    host: Host
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class WorkerPlan:
    """How the workers on each host are started."""

    mongo_for_host: Callable[[Host], str]
    """The database URL a host's workers use (through its tunnel, or a direct URL), password included: it
    travels over the execnet channel and reaches the workers in their environment, never their argv."""
    per_host: int | None = None
    """Workers per host; None: the host's CPU count."""
    worker_args: Sequence[str] = ("--reserve-timeout=0",)
    requirements: str | None = None
    ship: dict[str, Any] = field(default_factory=dict)


def call(state: ClusterState, host: Host, request: dict, timeout: float = GATEWAY_TIMEOUT_S) -> dict:
    """Send one request to :mod:`.remote` on a host and return its answer; ClusterError on failure."""
    # The Python command goes to the host's shell as given (like in ssh.check_python), so it may be a path or a command.
    spec = f"ssh={ssh.alias(state, host)}//ssh_config={state.ssh_config_path}//python={state.python}"
    group = execnet.Group()
    try:
        try:
            gateway = group.makegateway(spec)
        except Exception as error:  # execnet reports a failed ssh as a HostNotFound/EOFError
            raise ClusterError(f"{host.label}: cannot start Python over SSH ({type(error).__name__}: {error})") from None
        channel = gateway.remote_exec(remote)
        channel.send(request)
        try:
            answer = channel.receive(timeout)
        except channel.TimeoutError:
            raise ClusterError(f"{host.label}: no answer to {request['op']} within {timeout:.0f} s") from None
        except (EOFError, OSError, execnet.RemoteError) as error:
            raise ClusterError(f"{host.label}: the connection broke during {request['op']}: {error}") from None
    finally:
        group.terminate(timeout=5)
    if not answer.get("ok"):
        raise ClusterError(f"{host.label}: {request['op']} failed: {answer.get('error')}")
    return answer


def for_each_host(hosts: Sequence[Host], work: Callable[[Host], dict], on_done: Callable[[HostOutcome], None] | None = None
                  ) -> list[HostOutcome]:
    """Run ``work`` on every host at once; a host's ClusterError becomes its outcome's error."""

    def one(host: Host) -> HostOutcome:
        try:
            outcome = HostOutcome(host, details=work(host))
        except ClusterError as error:
            outcome = HostOutcome(host, error=str(error))
        except Exception as error:  # anything else on one host must not stop the others
            logger.exception("unexpected failure on %s", host.label)
            outcome = HostOutcome(host, error=f"{host.label}: {type(error).__name__}: {error}")
        if on_done is not None:
            on_done(outcome)
        return outcome

    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(hosts))) as pool:
        return list(pool.map(one, hosts))


def bootstrap_host(state: ClusterState, host: Host, payload: Payload, plan: WorkerPlan,
                   step: Callable[[Host, str], None] = lambda host, text: None) -> dict:
    """Check, install, (re)start workers on one host; returns what the host reported."""
    step(host, "checking Python")
    version = ssh.check_python(state, host)
    step(host, f"installing (Python {version})")
    installed = call(state, host, {"op": "install", "dir": state.remote_dir, "python": state.python,
                                   "wheel_name": payload.wheel_name, "wheel": payload.wheel, "pins": payload.pins,
                                   "requirements": plan.requirements, "ship": plan.ship}, timeout=INSTALL_TIMEOUT_S)
    step(host, "stopping earlier workers")
    stopped = call(state, host, {"op": "stop", "dir": state.remote_dir, "timeout": 90}, timeout=120)
    step(host, "starting workers")
    started = call(state, host, {"op": "start", "dir": state.remote_dir, "count": plan.per_host,
                                 "mongo": plan.mongo_for_host(host), "worker_args": list(plan.worker_args)})
    host.bootstrapped = True
    return {"python": version, "installer": installed["installer"], "install_seconds": installed["seconds"],
            "replaced": stopped["stopped"] + stopped["killed"], "workers": started["started"]}


def stop_workers(state: ClusterState, host: Host, timeout: float = 90) -> dict:
    return call(state, host, {"op": "stop", "dir": state.remote_dir, "timeout": timeout}, timeout=timeout + 30)


def host_status(state: ClusterState, host: Host) -> dict:
    return call(state, host, {"op": "status", "dir": state.remote_dir})


def read_ship(paths: Sequence[str]) -> dict[str, Any]:
    """Files and folders to copy into each host's site-packages (the objective's own modules)."""
    shipped: dict[str, Any] = {}
    for text in paths:
        path = Path(text).expanduser()
        if not path.exists():
            raise ClusterError(f"--ship {text}: no such file or folder.")
        shipped[path.name] = _read_tree(path)
    return shipped


def _read_tree(path: Path) -> Any:
    if path.is_dir():
        return {child.name: _read_tree(child) for child in sorted(path.iterdir())
                if child.name != "__pycache__" and not child.name.endswith(".pyc")}
    return path.read_bytes()
