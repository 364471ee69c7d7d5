"""A SigOpt-compatible HTTP server for the tests (support code, not product).

It serves the REST routes the real ``sigopt`` client uses for experiments, suggestions and
observations, for many experiments at once, on a loopback port, with SigOpt's token check (HTTP basic
auth, the token as user name). Suggestions come from the embedded engine, so the answers are SigOpt's
optimizer's, and observations are validated by sigoptlite's validator, as a SigOpt server would.
The tests read its bookkeeping directly (observations, open suggestions, the largest number of
suggestions ever open at once) to check exactly-once reporting from the outside.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sigopt_hyperopt.embedded import EmbeddedEngine
from sigopt_hyperopt.engine import Observation

logger = logging.getLogger(__name__)


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
            "metrics": [{"object": "metric", **m} for m in self.body.get("metrics", [])],
            "conditionals": [{"object": "conditional", **c} for c in self.body.get("conditionals") or []],
            "parameters": [{"object": "parameter", **p} for p in self.body.get("parameters", [])],
        }


def pagination(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "pagination", "count": len(items), "data": items, "paging": {"before": None, "after": None}}


class SigOptHttpServer:
    """``with SigOptHttpServer(token) as server:`` then point the client at ``server.url``."""

    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.experiments: dict[str, ServedExperiment] = {}
        self.requests: list[tuple[str, str, int]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
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
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "SigOptHttpServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the API -----------------------------------------------------------------------------

    def handle(self, method: str, path: str, token: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        if token != self.token:
            raise ApiError(HTTPStatus.UNAUTHORIZED, "Invalid API token.")
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
            if rest == ["suggestions"] and method == "POST":
                return 200, self._create_suggestion(experiment)
            if rest == ["suggestions"] and method == "GET":
                return 200, pagination(experiment.open_suggestions)
            if len(rest) == 2 and rest[0] == "suggestions" and method == "DELETE":
                suggestion = experiment.suggestions.get(rest[1])
                if suggestion is None:
                    raise ApiError(HTTPStatus.NOT_FOUND, f"suggestion {rest[1]} not found")
                suggestion["state"] = "deleted"
                return 204, None
            if rest == ["observations"] and method == "POST":
                return 200, self._create_observation(experiment, body)
            if rest == ["observations"] and method == "GET":
                return 200, pagination(list(experiment.observations))
        raise ApiError(HTTPStatus.NOT_FOUND, f"no route {method} {path}")

    def _create_experiment(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            engine = EmbeddedEngine(body)
        except ValueError as error:
            raise ApiError(HTTPStatus.BAD_REQUEST, str(error)) from None
        experiment = ServedExperiment(id=str(next(self._ids)), body=body, engine=engine)
        self.experiments[experiment.id] = experiment
        return experiment.as_json()

    def _create_suggestion(self, experiment: ServedExperiment) -> dict[str, Any]:
        pending = [s["assignments"] for s in experiment.open_suggestions]
        seed = len(experiment.suggestions)
        [point] = experiment.engine.suggest(1, pending, seed=seed)
        suggestion = {"object": "suggestion", "id": str(next(self._ids)), "state": "open",
                      "assignments": point.assignments, "created": int(time.time())}
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
        record = Observation(key=len(experiment.observations), assignments=assignments, value=value.get("value"),
                             value_stddev=value.get("value_stddev"), failed=failed)
        try:
            experiment.engine.sync(experiment.engine.observations + (record,))
        except (ValueError, TypeError) as error:
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
                status, payload = server.handle(method, self.path, self._token(), body)
            except ApiError as error:
                status, payload = int(error.status), {"message": error.message}
            server.requests.append((method, self.path, status))
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
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
