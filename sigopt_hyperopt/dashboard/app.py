"""The dashboard's web app: the page, its static files and one JSON endpoint (Starlette on uvicorn).

One background thread polls the store every ``refresh`` seconds, whatever the number of open pages,
so ten browsers cost the database what one does; the endpoint answers from memory. plotly.js is
served from the ``plotly`` Python package, so the page works on machines without internet.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import ConfigurationError
from .hosts import HostCheck, served_names
from .state import DashboardState

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


def plotly_js() -> Path:
    """plotly.min.js as the ``plotly`` package ships it."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


BUSY_SHARE = 0.25
"""The poller waits at least three times as long as a read took, so it keeps a slow store (FerretDB
on SQLite scans a collection for any filter: 3 s at 10,000 trials) busy at most a quarter of the time."""


class Poller:
    """Polls the state's source on a thread until stopped: every ``interval`` seconds, or less often
    when reads are slow (see :data:`BUSY_SHARE`)."""

    def __init__(self, state: DashboardState, interval: float) -> None:
        self.state = state
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.state.poll()
            took = time.monotonic() - started
            self._stop.wait(max(self.interval - took, took * (1 - BUSY_SHARE) / BUSY_SHARE))


def create_app(state: DashboardState, refresh: float = 2.0, hosts: frozenset[str] | None = None) -> Starlette:
    """The ASGI app for one state; its lifespan runs the poller. It answers only requests for ``hosts``
    (see :mod:`.hosts`; default: the loopback names)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        poller = Poller(state, refresh)
        poller.start()
        try:
            yield
        finally:
            poller.stop()

    async def page(_request: Request) -> Response:
        return FileResponse(STATIC / "page.html", headers={"Cache-Control": "no-store"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        path = plotly_js() if name == "plotly.min.js" else STATIC / name
        if name not in ("plotly.min.js", "dashboard.js", "dashboard.css"):
            return Response("not found", status_code=404)
        return FileResponse(path)

    async def changes(request: Request) -> Response:
        try:
            since = int(request.query_params.get("since", "0"))
            exp_key = _exp_key(request.query_params.get("exp_key"), request.query_params.get("search"), state)
        except ValueError:
            return JSONResponse({"error": "since must be an integer and exp_key JSON"}, status_code=400)
        answer = state.changes(exp_key, since)
        answer["refresh_s"] = refresh  # the page asks again as often as the store is read
        return JSONResponse(answer)

    return Starlette(
        routes=[Route("/", page), Route("/static/{name}", static), Route("/api/changes", changes)],
        middleware=[Middleware(HostCheck, names=hosts if hosts is not None else served_names("127.0.0.1")),
                    Middleware(GZipMiddleware, minimum_size=2048)],
        lifespan=lifespan,
    )


def _exp_key(raw: str | None, search: str | None, state: DashboardState) -> Any:
    """The requested search: ``exp_key`` as JSON (``null`` for trials without an exp_key), or ``search``
    as the page's address carries it (the exp_key as text; empty for trials without one, unless a
    search is called ""); by default the running one (:meth:`DashboardState.default_experiment`)."""
    if raw:
        return json.loads(raw)
    if search is not None:
        keys = state.experiments()
        return None if search == "" and "" not in keys and None in keys else search
    return state.default_experiment()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free one), so the URL can be printed before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if error.errno == errno.EADDRINUSE:
            raise ConfigurationError(f"{shown} is in use (another dashboard?): stop that process, or choose another "
                                     "port with --port (--port=0 picks a free one)") from None
        raise ConfigurationError(f"Cannot listen on {shown} ({error.strerror}): give --host an address of this "
                                 "machine (127.0.0.1 for this machine only) and a --port you may use") from None
    sock.listen(128)
    return sock


def serve(state: DashboardState, sock: socket.socket, refresh: float = 2.0, allow_hosts: Sequence[str] = ()) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), answering the names the socket is bound to and ``allow_hosts``."""
    import uvicorn

    hosts = served_names(sock.getsockname()[0], allow_hosts)
    config = uvicorn.Config(create_app(state, refresh, hosts), log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
