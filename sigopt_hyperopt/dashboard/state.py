"""What the page shows, kept in memory between polls of the store.

Each trial row carries the sequence number of the poll that last changed it, so a page that has
seen everything up to ``since`` gets only the rows changed after it (the browser keeps one copy of
the data and patches it). The state also remembers who owned each attempt of each job (from the job
claims and from the running jobs it saw), which is how a requeued job is charged to the worker that
lost it, and the store's health: a failed read is reported with the time it began, never raised,
and the next successful poll carries on from where the last one stopped.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from .axes import Axis, axes_from_space, axes_from_summary, category_label, guess_axes
from .importance import METHOD, importances
from .pareto import annotate, declared_metrics, frontier
from .rows import STATES, trial_row
from .source import Reading, Source
from .workers import last_heard, worker_table

logger = logging.getLogger(__name__)

SUMMARY_EVERY_S = 30.0
"""How often a search's stored summary is read again: the driver may store it later, and stores it
again (with the run's ``max_evals``) each time the search is continued."""

IMPORTANCE_EVERY_S = 10.0
"""Importances are refitted at most this often (and only when trials finished meanwhile)."""


@dataclass
class Search:
    """The rows of one exp_key and what the page needs to draw them."""

    exp_key: str | None
    rows: dict[int, dict] = field(default_factory=dict)
    axes: list[Axis] | None = None
    space_known: bool = False
    record: dict | None = None
    importance: dict[str, float] | None = None
    importance_done: int = -1
    importance_at: float = 0.0
    summary_at: float | None = None
    max_evals: int | None = None
    """The search's own max_evals, as its driver stored it (None: not stored)."""
    declaration: list[dict] | None = None
    """A multimetric search's metric declaration, as its driver stored it (None: a single-loss search)."""
    metrics: tuple = ()
    """The declaration as :class:`~sigopt_hyperopt.metrics.Metric` records (what :mod:`.pareto` takes)."""
    frontier: list[int] | None = None
    """The frontier's trial ids, kept until a row changes (None: to be computed)."""


@dataclass
class Health:
    """The store's health as the page shows it."""

    ok: bool = True
    message: str | None = None
    down_since: float | None = None
    last_ok: float | None = None


class DashboardState:
    """Polls a :class:`~.source.Source` and answers the page's questions; thread-safe."""

    def __init__(self, source: Source, *, space: Any = None, max_evals: int | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.source = source
        self.max_evals = max_evals
        self.epoch = uuid.uuid4().hex[:12]
        """Changes when the dashboard restarts: a page holding another epoch's rows starts over."""
        self._user_space = space
        self._clock = clock or source.now
        """The store's clock (the database server's for MongoDB), which liveness must use."""
        self._lock = threading.Lock()
        self._seq = 0
        self._searches: dict[str | None, Search] = {}
        self._row_seq: dict[tuple[str | None, int], int] = {}
        self._owners: dict[tuple[str, int], str] = {}
        self._job_keys: dict[str, tuple[str | None, int]] = {}
        self._registry: dict[str, dict] = {}
        self._heard: dict[str, float] = {}
        """Worker id -> the newest refresh_time of a job it ran or runs, in any search."""
        self.health = Health()

    # -- polling -----------------------------------------------------------------------------------

    def poll(self) -> bool:
        """Read what changed; False (and the health says why) when the store could not be read."""
        try:
            reading = self.source.read()
        except Exception as error:  # pymongo's errors, a missing or half-written file, ...
            now = self._clock()
            with self._lock:
                if self.health.ok:
                    logger.warning("cannot read %s: %s", self.source.description, error)
                    self.health = Health(ok=False, down_since=now, last_ok=self.health.last_ok)
                self.health.message = f"{type(error).__name__}: {_first_line(error)}"
            return False
        with self._lock:
            self._apply(reading)
            self.health = Health(ok=True, last_ok=self._clock())
            searches = list(self._searches.values())
        for search in searches:  # here, not while a page waits for an answer
            self._importance(search)
        return True

    def _apply(self, reading: Reading) -> None:
        self._seq += 1
        for claim in reading.claims:
            job, _, attempt = str(claim["_id"]).rpartition("/")
            if attempt.isdigit() and claim.get("owner"):
                self._owners[(job, int(attempt))] = claim["owner"]
        seen: set[tuple[str | None, int]] = set()
        for doc in reading.docs:
            if doc.get("tid") is None:
                continue
            search = self._search(doc.get("exp_key"))
            job = str(doc.get("_id", doc["tid"]))
            if doc.get("owner") and doc.get("state") != 0:
                self._owners[(job, int(doc.get("attempt") or 0))] = doc["owner"]
            row = trial_row(doc, {a.label: a for a in search.axes or []})
            if search.metrics:
                row = annotate(search.metrics, row)
            row["job"] = job
            last_heard(self._heard, row)
            key = (search.exp_key, row["tid"])
            seen.add(key)
            self._job_keys[row["job"]] = key
            if search.rows.get(row["tid"]) != row:
                search.rows[row["tid"]] = row
                self._row_seq[key] = self._seq
                search.frontier = None
        if reading.full:
            for search in self._searches.values():  # trials gone from the store
                for tid in [t for t in search.rows if (search.exp_key, t) not in seen]:
                    del search.rows[tid]
                    search.frontier = None
                    self._row_seq.pop((search.exp_key, tid), None)
        self._registry = {w["_id"]: w for w in reading.workers}
        for search in self._searches.values():
            self._find_axes(search)

    def _search(self, exp_key: str | None) -> Search:
        search = self._searches.get(exp_key)
        if search is None:
            search = self._searches[exp_key] = Search(exp_key)
            self._find_axes(search)
            try:
                search.record = self.source.search_record(exp_key)
            except Exception as error:
                logger.info("no search record for %s: %s", exp_key, error)
        return search

    def _find_axes(self, search: Search) -> None:
        """Axes from the user's space, else the stored summary, else guessed from the values seen;
        and the search's max_evals from the stored summary."""
        axes = None
        now = self._clock()
        if search.summary_at is None or now - search.summary_at >= SUMMARY_EVERY_S:
            search.summary_at = now
            try:
                summary = self.source.space_summary(search.exp_key)
            except Exception as error:  # the store went away between two reads: the next poll says so
                logger.info("space summary of %s not read: %s", search.exp_key, error)
                return
            search.max_evals = summary.max_evals if summary is not None else None
            self._find_metrics(search, summary.metrics if summary is not None else None)
            if search.space_known:
                return
            if self._user_space is not None:
                axes = axes_from_space(self._user_space)
            elif summary is not None and summary.parameters is not None:
                axes = axes_from_summary(summary.parameters)
        if search.space_known:
            return
        if axes is not None:
            search.axes, search.space_known = axes, True
            by_label = {a.label: a for a in axes}
            for tid, row in list(search.rows.items()):  # rows read before: relabel their choices
                search.rows[tid] = dict(row, params=_relabel(row["params"], by_label))
                self._row_seq[(search.exp_key, tid)] = self._seq
            return
        labels = {label for row in search.rows.values() for label in row["params"]}
        if labels != {a.label for a in search.axes or []}:  # a guess is redone only when labels appear
            values: dict[str, list[Any]] = {}
            for row in search.rows.values():
                for label, value in row["params"].items():
                    values.setdefault(label, []).append(value)
            search.axes = guess_axes(values) if values else None

    def _find_metrics(self, search: Search, declaration: list[dict] | None) -> None:
        """Take the stored metric declaration; when it appears or changes, every row's constraint
        status is worked out again (and sent again)."""
        if declaration == search.declaration:
            return
        search.declaration, search.metrics, search.frontier = declaration, declared_metrics(declaration), None
        for tid, row in list(search.rows.items()):
            plain = {k: v for k, v in row.items() if k not in ("feasible", "constraints")}
            search.rows[tid] = annotate(search.metrics, plain) if search.metrics else plain
            self._row_seq[(search.exp_key, tid)] = self._seq

    # -- answers -----------------------------------------------------------------------------------

    def experiments(self) -> list[str | None]:
        with self._lock:
            return sorted(self._searches, key=lambda k: (k is None, str(k)))

    def default_experiment(self) -> str | None:
        """The search a page opens on: the one running now, as far as the store tells.

        That is the search whose trials changed in the latest poll that changed any (the dashboard
        saw it move), then the one whose trials the store shows started or finished last, then one with
        queued or running trials.  None when the store holds no search yet.
        """
        with self._lock:
            if not self._searches:
                return None
            return max(self._searches.values(), key=self._activity).exp_key

    def _activity(self, search: Search) -> tuple:
        rows = search.rows.values()
        moved = max((self._row_seq.get((search.exp_key, tid), 0) for tid in search.rows), default=0)
        last = max((t for row in rows for t in (row["booked"], row["refreshed"]) if t), default=0.0)
        unfinished = any(row["state"] in ("queued", "running") for row in rows)
        return moved, last, unfinished

    def changes(self, exp_key: str | None, since: int = 0) -> dict[str, Any]:
        """Everything the page needs that changed after ``since`` (0: everything), as JSON data."""
        with self._lock:
            search = self._searches.get(exp_key) or Search(exp_key)
            rows = list(search.rows.values())
            changed = [dict(row, seq=self._row_seq[(exp_key, row["tid"])]) for row in rows
                       if self._row_seq.get((exp_key, row["tid"]), 0) > since]
            lost = self._lost_attempts(exp_key, rows)
            now = self._clock()
            shown, folded = worker_table(self._registry.values(), exp_key, rows, lost, self._heard, now)
            for row in changed:
                row["lost_by"] = lost.get(row["job"], [])
            answer = {
                "epoch": self.epoch,
                "seq": self._seq,
                "exp_key": exp_key,
                "experiments": sorted(self._searches, key=lambda k: (k is None, str(k))),
                "source": self.source.description,
                "health": self.health.__dict__.copy(),
                "trials": sorted(changed, key=lambda r: r["tid"]),
                "progress": progress(rows, search.max_evals or self.max_evals,
                                     "search" if search.max_evals else "--max-evals" if self.max_evals else None),
                "best": best([r for r in rows if r.get("feasible")] if search.metrics else rows),
                "axes": [a.as_json() for a in search.axes or []],
                "space_known": search.space_known,
                "record": search.record,
                "metrics": search.declaration if search.metrics else None,
                "frontier": self._frontier(search),
                "workers": shown,
                "workers_folded": folded,
                "now": now,
            }
            answer["importance"] = {"method": METHOD, "values": search.importance}
        return answer

    @staticmethod
    def _frontier(search: Search) -> list[int]:
        """The search's frontier (see :func:`.pareto.frontier`), computed again only after a row changed."""
        if not search.metrics:
            return []
        if search.frontier is None:
            search.frontier = frontier(search.metrics, search.rows.values())
        return search.frontier

    def _importance(self, search: Search) -> None:
        """Refit the importances when trials finished since the last fit (at most every 10 s)."""
        with self._lock:
            rows = sorted(search.rows.values(), key=lambda r: r["tid"])
            axes = list(search.axes or [])
        done = sum(1 for row in rows if row["loss"] is not None)
        now = self._clock()
        due = now - search.importance_at >= IMPORTANCE_EVERY_S or search.importance is None
        if done != search.importance_done and due:
            fitted = importances(rows, axes)
            with self._lock:
                search.importance, search.importance_done, search.importance_at = fitted, done, now

    def _lost_attempts(self, exp_key: str | None, rows: list[dict]) -> dict[str, list[str]]:
        """Job id -> the workers that held an earlier attempt of it, or died with it (WorkerDied)."""
        lost: dict[str, list[str]] = {}
        attempts = {row["job"]: row for row in rows}
        for (job, attempt), owner in self._owners.items():
            row = attempts.get(job)
            if row is not None and attempt < row["attempt"]:
                lost.setdefault(job, []).append(owner)
        for row in rows:
            if row["error"] and row["error"].startswith("WorkerDied") and row["owner"]:
                lost.setdefault(row["job"], []).append(row["owner"])
        return lost


def progress(rows: list[dict], max_evals: int | None, max_evals_from: str | None = None) -> dict[str, Any]:
    """Counts by state, of ``max_evals`` when known (``max_evals_from``: ``search`` when the search
    stored it, ``--max-evals`` when the command line gave it), and the finishing rate (overall and recent)."""
    counts = {state: 0 for state in STATES}
    for row in rows:
        counts[row["state"]] += 1
    finished = sorted(row["refreshed"] for row in rows if row["state"] in ("done", "failed") and row["refreshed"])
    started = [row["booked"] for row in rows if row["booked"]]
    rate = recent = None
    if finished and started and finished[-1] > min(started):
        rate = len(finished) / (finished[-1] - min(started)) * 60
        window = [t for t in finished if t >= finished[-1] - 300]
        span = finished[-1] - max(min(started), finished[-1] - 300)
        recent = len(window) / span * 60 if span > 0 else None
    return {**counts, "total": len(rows), "max_evals": max_evals, "max_evals_from": max_evals_from,
            "per_minute": _round(rate),
            "per_minute_recent": _round(recent)}


def best(rows: list[dict]) -> dict[str, Any] | None:
    """The finished trial with the lowest loss (the earliest on ties)."""
    done = [row for row in rows if row["loss"] is not None]
    if not done:
        return None
    top = min(done, key=lambda r: (r["loss"], r["tid"]))
    return {"tid": top["tid"], "loss": top["loss"], "params": top["params"], "finished": top["refreshed"]}


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _relabel(params: dict, axes: dict[str, Axis]) -> dict:
    return {label: category_label(axes.get(label), value) if not isinstance(value, str) else value
            for label, value in params.items()}


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else ""
