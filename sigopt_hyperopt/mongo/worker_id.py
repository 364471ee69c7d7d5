"""How a worker names itself: ``host:pid:random`` (the random part keeps containers whose worker is
PID 1 apart), and how the others read that name back (ids of older workers are ``host:pid``)."""

from __future__ import annotations

import os
import secrets
import socket


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def host_and_pid(worker_id: str) -> tuple[str, int | None]:
    """The host and pid a worker id names (pid None when it names none)."""
    host, _, rest = str(worker_id).partition(":")
    pid = rest.partition(":")[0]
    return host, int(pid) if pid.isdigit() else None
