"""SSH reverse tunnels from each host back to the driver's database, held and reopened.

A worker on host *i* connects to ``127.0.0.1:tunnel_port+i`` on its own machine; ``ssh -R`` carries
that connection back to the database as the driver reaches it. The database port is never opened
to a network: only SSH is. A tunnel lives as long as its ssh process, so :class:`TunnelKeeper`
holds one per host, watches them, and starts a dropped one again with a growing pause; workers
meanwhile retry the database (the store's outage tolerance, then their supervisor restarts them).
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from ..mongo import parse_mongo_url
from . import ssh
from .state import ClusterState, Host

logger = logging.getLogger(__name__)

MAX_PAUSE_S = 30.0
CHATTER = ("debug", "Authenticated to", "Transferred:", "Bytes per second", "OpenSSH_")
"""Lines of ``ssh -v`` that say nothing about why a tunnel ended."""


@dataclass
class Tunnel:
    host: Host
    command: list[str]
    process: subprocess.Popen | None = None
    up: bool = False
    opened: int = 0
    last_error: str = ""
    pause: float = 1.0
    next_try: float = 0.0
    _ready: threading.Event = field(default_factory=threading.Event)


def tunnel_command(state: ClusterState, host: Host) -> list[str]:
    database = parse_mongo_url(state.database or "")
    forward = f"127.0.0.1:{state.tunnel_port_of(host)}:{database.host}:{database.port}"
    # -v only to read ssh's "remote forward success" line, which says the tunnel is really up.
    return ssh.ssh_command(state, host, "-N", "-v", "-o", "ExitOnForwardFailure=yes", "-R", forward)


class TunnelKeeper:
    """One ssh process per host carrying its reverse tunnel; ``keep`` reopens those that end."""

    def __init__(self, state: ClusterState, hosts: list[Host] | None = None,
                 on_change: Callable[[Tunnel], None] | None = None) -> None:
        self.state = state
        self.tunnels = [Tunnel(host, tunnel_command(state, host)) for host in (hosts or state.hosts)]
        self.on_change = on_change or (lambda tunnel: None)

    def _open(self, tunnel: Tunnel) -> None:
        tunnel.up = False
        tunnel._ready = threading.Event()
        tunnel.process = subprocess.Popen(tunnel.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True, errors="replace")
        tunnel.opened += 1
        threading.Thread(target=self._read_stderr, args=(tunnel, tunnel.process, tunnel._ready), daemon=True).start()

    def _read_stderr(self, tunnel: Tunnel, process: subprocess.Popen, ready: threading.Event) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            line = line.strip()
            if "remote forward success" in line:
                tunnel.up = True
                tunnel.pause = 1.0
                ready.set()
                self.on_change(tunnel)
            elif line and not line.startswith(CHATTER):
                tunnel.last_error = line
        ready.set()

    def open_all(self, wait: float = 30.0) -> None:
        """Open every tunnel and wait (up to ``wait`` s) until each is up or has failed."""
        for tunnel in self.tunnels:
            self._open(tunnel)
        deadline = time.monotonic() + wait
        for tunnel in self.tunnels:
            tunnel._ready.wait(max(0.0, deadline - time.monotonic()))
            if not tunnel.up:
                self.on_change(tunnel)

    def check(self) -> None:
        """Reopen tunnels whose ssh ended (after a pause that doubles up to 30 s)."""
        now = time.monotonic()
        for tunnel in self.tunnels:
            if tunnel.process is not None and tunnel.process.poll() is None:
                continue
            if tunnel.process is not None:
                code = tunnel.process.returncode
                tunnel.process = None
                tunnel.up = False
                logger.warning("tunnel to %s ended (ssh exit %s: %s); reopening in %.0f s", tunnel.host.label, code,
                               tunnel.last_error or "no reason given", tunnel.pause)
                self.on_change(tunnel)
                tunnel.next_try = now + tunnel.pause
                tunnel.pause = min(tunnel.pause * 2, MAX_PAUSE_S)
            if now >= tunnel.next_try:
                self._open(tunnel)

    def keep(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Hold the tunnels until ``stop`` is set, reopening dropped ones."""
        while not stop.wait(interval):
            self.check()

    def close_all(self) -> None:
        for tunnel in self.tunnels:
            if tunnel.process is not None and tunnel.process.poll() is None:
                tunnel.process.terminate()
                try:
                    tunnel.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    tunnel.process.kill()
            tunnel.up = False
