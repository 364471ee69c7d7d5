"""Answer only requests addressed to the dashboard by a name it serves: a defence against DNS rebinding.

A web page on ``evil.example`` can make its own name resolve to 127.0.0.1 and then read, as its own
origin, whatever listens there, the dashboard included. Its requests still carry ``Host:
evil.example``. So the dashboard answers only the names it was bound to: ``localhost``, the address
it listens on (with this machine's host names when that is every interface), the names given with
``--allow-host``, and any IP address written as such (a page cannot make the browser send
another site's address as its own origin's host). Anything else gets 421 Misdirected Request.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any, Iterable

from starlette.responses import PlainTextResponse

logger = logging.getLogger(__name__)

WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")


def served_names(bind_host: str, allowed: Iterable[str] = ()) -> frozenset[str]:
    """The host names a dashboard listening on ``bind_host`` answers, plus ``allowed``."""
    names = {"localhost", _normal(bind_host), *(_normal(name) for name in allowed)}
    if bind_host in WILDCARD_ADDRESSES:
        names |= {_normal(socket.gethostname()), _normal(socket.getfqdn())}
    return frozenset(name for name in names if name)


def host_name(header: str) -> str:
    """``Host`` header -> the name without port (``[::1]:8050`` -> ``::1``), lower-case, no trailing dot."""
    text = header.strip()
    if text.startswith("["):
        return _normal(text[1:].partition("]")[0])
    return _normal(text.rpartition(":")[0] if text.count(":") == 1 else text)


def _normal(name: str) -> str:
    return name.strip().lower().rstrip(".")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostCheck:
    """ASGI middleware: requests for other host names are refused before the app sees them."""

    def __init__(self, app: Any, names: frozenset[str]) -> None:
        self.app = app
        self.names = names

    def allows(self, header: str | None) -> bool:
        if not header:
            return False
        name = host_name(header)
        return name in self.names or _is_address(name)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            header = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if not self.allows(header):
                logger.info("refused a request for host %r (not one this dashboard serves)", header[:200])
                response = PlainTextResponse(
                    "This dashboard does not serve that host name; start it with --allow-host NAME to add one.\n",
                    status_code=421)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
