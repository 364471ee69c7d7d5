"""A SigOpt-compatible HTTP server for the tests (support code, not product).

It serves the REST routes the real ``sigopt`` client uses for experiments, suggestions and
observations, for many experiments at once, on a loopback port, with SigOpt's token check (HTTP basic
auth, the token as user name). Suggestions come from the embedded engine, so the answers are SigOpt's
optimizer's, and observations are validated by sigoptlite's validator, as a SigOpt server would.
The tests read its bookkeeping directly (observations, open suggestions, the largest number of
suggestions ever open at once) to check exactly-once reporting from the outside.

List endpoints page like SigOpt's: newest first, ``limit`` items (``page_size`` by default, small in
tests so the client must follow ``paging.before``), ``before``/``after`` cursors.

Faults on demand (see :class:`Faults`): 429 with ``Retry-After``, 500/503 before doing anything,
dropped connections before doing anything, the answer lost *after* the request was processed (the
connection dropped, a 500, or an answer slower than the client's timeout), slow answers, 401.  Either
scripted (``server.faults.script("lost", method="POST", route="observations")``) or at random with a
seeded rate (``server.faults.random_rate = 0.2``).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import random
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
from sigoptlite.builders import LocalExperimentBuilder, LocalObservationBuilder
from sigopt_hyperopt.engines.base import Observation

logger = logging.getLogger(__name__)

LOCAL_KEYS = ("name", "parameters", "metrics", "conditionals", "observation_budget", "linear_constraints")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ServedExperiment:
    """One experiment's state on the server."""

    id: str
    body: dict[str, Any]
    engine: EmbeddedEngine
    local: Any = None
    """sigoptlite's experiment, for validating observations."""
    observations: list[dict[str, Any]] = field(default_factory=list)
    suggestions: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_open_suggestions: int = 0

    @property
    def open_suggestions(self) -> list[dict[str, Any]]:
        return [s for s in self.suggestions.values() if s["state"] == "open"]

    def as_json(self) -> dict[str, Any]:
        return {
            "object": "experiment",
            "id": self.id,
            "state": "active",
            "created": 0,
            "type": "offline",
            "progress": {"object": "progress", "observation_count": len(self.observations)},
            "parallel_bandwidth": self.body.get("parallel_bandwidth"),
            "observation_budget": self.body.get("observation_budget"),
            "name": self.body.get("name"),
            "project": self.body.get("project"),
            "metadata": self.body.get("metadata"),
            "metrics": [{"object": "metric", "strategy": "optimize", "threshold": None, **m}
                        for m in self.body.get("metrics", [])],
            "linear_constraints": self.body.get("linear_constraints") or [],
            "conditionals": [{"object": "conditional", **c} for c in self.body.get("conditionals") or []],
            "parameters": [{"object": "parameter", **p} for p in self.body.get("parameters", [])],
        }


def pagination(items: list[dict[str, Any]], query: dict[str, str], page_size: int) -> dict[str, Any]:
    """One page of ``items`` as SigOpt pages: newest (highest id) first, cursors are item ids."""
    limit = int(query.get("limit") or page_size)
    ordered = sorted(items, key=lambda item: int(item["id"]), reverse=True)
    if query.get("after") is not None:
        newer = [i for i in ordered if int(i["id"]) > int(query["after"])][::-1]  # oldest of the newer first
        page, more = newer[:limit][::-1], len(newer) > limit
        paging = {"before": None, "after": page[0]["id"] if more and page else None}
    else:
        older = [i for i in ordered if query.get("before") is None or int(i["id"]) < int(query["before"])]
        page, more = older[:limit], len(older) > limit
        paging = {"before": page[-1]["id"] if more and page else None, "after": None}
    return {"object": "pagination", "count": len(items), "data": page, "paging": paging}


FAULT_KINDS = ("429", "500", "503", "drop", "lost", "lost_500", "slow", "401")
"""``drop``: the connection closes before the request is processed; ``lost``: it is processed, then
the connection closes unanswered; ``lost_500``: processed, then answered 500; ``slow``: answered after
``Faults.slow_seconds``; ``429``/``500``/``503``/``401``: answered so, nothing processed."""


@dataclass
class Faults:
    """Which requests fail, and how.  Scripted faults come first; then the random rate applies."""

    random_rate: float = 0.0
    random_kinds: tuple[str, ...] = ("500", "503", "drop", "lost", "lost_500")
    retry_after: str = "1"
    slow_seconds: float = 0.5
    seed: int = 1
    injected: list[tuple[str, str, str]] = field(default_factory=list)
    """(kind, method, path) of every fault served, for the tests to check that faults happened."""
    processed: list[tuple[str, str, str]] = field(default_factory=list)
    """The faulted requests the API processed (all but 429/500/503/401/drop), once processed."""
    _script: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    _rng: random.Random | None = None

    def script(self, kind: str, times: int = 1, *, method: str | None = None, route: str | None = None) -> None:
        """The next ``times`` requests matching ``method`` and ``route`` (a path's last segment) get ``kind``."""
        assert kind in FAULT_KINDS, kind
        self._script.extend([(kind, method, route)] * times)

    def pick(self, method: str, path: str) -> str | None:
        route = [p for p in path.split("?")[0].split("/") if p][-1:]
        for index, (kind, want_method, want_route) in enumerate(self._script):
            if (want_method in (None, method)) and (want_route is None or [want_route] == route):
                del self._script[index]
                self.injected.append((kind, method, path))
                return kind
        if self.random_rate:
            self._rng = self._rng or random.Random(self.seed)
            if self._rng.random() < self.random_rate:
                kind = self._rng.choice(self.random_kinds)
                self.injected.append((kind, method, path))
                return kind
        return None


@dataclass(frozen=True)
class Answer:
    status: int
    payload: Any
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False
    delay: float = 0.0


class SigOptHttpServer:
    """``with SigOptHttpServer(token) as server:`` then point the client at ``server.url``."""

    def __init__(self, token: str = "test-token", *, page_size: int = 100) -> None:
        self.token = token
        self.page_size = page_size
        self.faults = Faults()
        self.experiments: dict[str, ServedExperiment] = {}
        self.requests: list[tuple[str, str, int]] = []
        self.request_times: list[tuple[float, str, str, int]] = []
        self.observation_attempts: list[tuple[dict[str, Any], int]] = []
        """(metadata, status) of every observation create received, refused ones included."""
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "SigOptHttpServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sigopt-http-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # ends slow answers still being held back
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "SigOptHttpServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------------

    def answer(self, method: str, path: str, token: str | None, body: dict[str, Any]) -> Answer:
        """What the HTTP handler sends back: the API's answer, unless a fault is due."""
        with self._lock:
            kind = self.faults.pick(method, path)
        if kind == "drop":
            return Answer(0, None, drop=True)
        if kind in ("429", "500", "503", "401"):
            status = int(kind)
            headers = (("Retry-After", self.faults.retry_after),) if status == 429 else ()
            return Answer(status, {"message": f"injected fault: HTTP {status}"}, headers)
        try:
            status, payload = self.handle(method, path, token, body)
        except ApiError as error:
            status, payload = int(error.status), {"message": error.message}
        if kind is not None:
            self.faults.processed.append((kind, method, path))
        if kind == "lost":
            return Answer(status, None, drop=True)
        if kind == "lost_500":
            return Answer(500, {"message": "injected fault: HTTP 500 after processing"})
        return Answer(status, payload, delay=self.faults.slow_seconds if kind == "slow" else 0.0)

    # -- the API -----------------------------------------------------------------------------

    def handle(self, method: str, path: str, token: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        if token != self.token:
            raise ApiError(HTTPStatus.UNAUTHORIZED, "Invalid API token.")
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).items()}
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:1] != ["v1"] or len(parts) < 2 or parts[1] != "experiments":
            raise ApiError(HTTPStatus.NOT_FOUND, f"no route {path}")
        with self._lock:
            if len(parts) == 2 and method == "POST":
                return 200, self._create_experiment(body)
            experiment = self.experiments.get(parts[2]) if len(parts) > 2 else None
            if experiment is None:
                raise ApiError(HTTPStatus.NOT_FOUND, f"experiment {parts[2:3]} not found")
            rest = parts[3:]
            if not rest and method == "GET":
                return 200, experiment.as_json()
            if not rest and method == "PUT":
                return 200, self._update_experiment(experiment, body)
            if rest == ["suggestions"] and method == "POST":
                return 200, self._create_suggestion(experiment, body)
            if rest == ["suggestions"] and method == "GET":
                states = ("open", "closed") if query.get("state") in (None, "all") else (query["state"],)
                listed = [s for s in experiment.suggestions.values() if s["state"] in states]
                return 200, pagination(listed, query, self.page_size)
            if len(rest) == 2 and rest[0] == "suggestions" and method == "DELETE":
                suggestion = experiment.suggestions.get(rest[1])
                if suggestion is None:
                    raise ApiError(HTTPStatus.NOT_FOUND, f"suggestion {rest[1]} not found")
                suggestion["state"] = "deleted"
                return 204, None
            if rest == ["observations"] and method == "POST":
                return 200, self._create_observation(experiment, body)
            if rest == ["observations"] and method == "GET":
                return 200, pagination(list(experiment.observations), query, self.page_size)
            if rest == ["best_assignments"] and method == "GET":
                return 200, pagination(self._best_assignments(experiment), query, self.page_size)
        raise ApiError(HTTPStatus.NOT_FOUND, f"no route {method} {path}")

    def _create_experiment(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            engine = EmbeddedEngine(body)  # sigoptlite's validator: metrics, thresholds, strategies, budget
            local = LocalExperimentBuilder({**{k: v for k, v in body.items() if k in LOCAL_KEYS}, "parallel_bandwidth": 1})
        except ValueError as error:
            raise ApiError(HTTPStatus.BAD_REQUEST, str(error)) from None
        experiment = ServedExperiment(id=str(next(self._ids)), body=body, engine=engine, local=local)
        self.experiments[experiment.id] = experiment
        return experiment.as_json()

    def _update_experiment(self, experiment: ServedExperiment, body: dict[str, Any]) -> dict[str, Any]:
        for key in ("name", "parallel_bandwidth", "observation_budget", "metadata", "project"):
            if key in body:
                experiment.body[key] = body[key]
        return experiment.as_json()

    def _best_assignments(self, experiment: ServedExperiment) -> list[dict[str, Any]]:
        valid = [o for o in experiment.observations if not o["failed"] and o["values"]]
        if not valid:
            return []
        best = min(valid, key=lambda o: o["values"][0]["value"])
        return [{"object": "best_assignments", "id": best["id"], "assignments": best["assignments"],
                 "values": best["values"]}]

    def _create_suggestion(self, experiment: ServedExperiment, body: dict[str, Any] | None) -> dict[str, Any]:
        pending = [s["assignments"] for s in experiment.open_suggestions]
        seed = len(experiment.suggestions)
        [point] = experiment.engine.suggest(1, pending, seed=seed)
        suggestion = {"object": "suggestion", "id": str(next(self._ids)), "state": "open",
                      "assignments": point.assignments, "created": int(time.time()),
                      "metadata": (body or {}).get("metadata")}
        experiment.suggestions[suggestion["id"]] = suggestion
        experiment.max_open_suggestions = max(experiment.max_open_suggestions, len(experiment.open_suggestions))
        return suggestion

    def _create_observation(self, experiment: ServedExperiment, body: dict[str, Any]) -> dict[str, Any]:
        suggestion_id = body.get("suggestion")
        if suggestion_id is not None:
            suggestion = experiment.suggestions.get(str(suggestion_id))
            if suggestion is None or suggestion["state"] != "open":
                raise ApiError(HTTPStatus.BAD_REQUEST, f"suggestion {suggestion_id} is not open")
            assignments = suggestion["assignments"]
        else:
            assignments = body.get("assignments")
        failed = bool(body.get("failed"))
        values = body.get("values") or []
        value = values[0] if values else {}
        declared = [m["name"] for m in experiment.body.get("metrics", [])]
        multimetric = declared != ["loss"]
        try:
            # sigoptlite's validator, as a SigOpt server checks an observation: one value per metric, by name.
            LocalObservationBuilder({"assignments": assignments, "values": values or None, "failed": failed,
                                     "task": None}, experiment=experiment.local)
            metric_values = {v["name"]: float(v["value"]) for v in values} if multimetric and not failed else None
            record = Observation(key=len(experiment.observations), assignments=assignments,
                                 value=None if multimetric else value.get("value"),
                                 value_stddev=value.get("value_stddev"), failed=failed, metric_values=metric_values)
            experiment.engine.sync(experiment.engine.observations + (record,))
        except (ValueError, TypeError, KeyError, AssertionError) as error:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"invalid observation: {error}") from None
        if suggestion_id is not None:
            experiment.suggestions[str(suggestion_id)]["state"] = "closed"
        observation = {"object": "observation", "id": str(next(self._ids)), "assignments": assignments,
                       "suggestion": suggestion_id, "failed": failed, "values": values,
                       "metadata": body.get("metadata"), "created": int(time.time())}
        experiment.observations.append(observation)
        return observation


def _handler_for(server: SigOptHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            logger.debug(format, *args)

        def _token(self) -> str | None:
            header = self.headers.get("Authorization", "")
            match = re.match(r"Basic (.+)", header)
            if not match:
                return None
            return base64.b64decode(match.group(1)).decode().split(":", 1)[0]

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = None
            if body is None:
                answer = Answer(400, {"message": "the body is not JSON"})
            else:
                answer = server.answer(method, self.path, self._token(), body)
            status = 0 if answer.drop else answer.status  # 0: no answer (connection dropped)
            server.requests.append((method, self.path, status))
            server.request_times.append((time.monotonic(), method, self.path, status))
            if method == "POST" and self.path.split("?")[0].rstrip("/").endswith("/observations"):
                server.observation_attempts.append((dict((body or {}).get("metadata") or {}), status))
            if answer.drop:
                self.close_connection = True
                return
            if answer.delay and server._stopping.wait(answer.delay):
                self.close_connection = True
                return
            data = b"" if answer.payload is None else json.dumps(answer.payload).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in answer.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_PUT(self) -> None:  # noqa: N802
            self._serve("PUT")

        def do_DELETE(self) -> None:  # noqa: N802
            self._serve("DELETE")

    return Handler
