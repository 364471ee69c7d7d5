"""The workers table of one search: who can take its jobs, who ran them, and who is gone since when.

Every time comes from the store, as the workers wrote it by the database server's clock: a worker's
*last heard of* is the newest of its registry entry's ``beat`` (stamped at every announcement), the
``refresh_time`` of the jobs it runs (its job heartbeat) and of the jobs it finished, in any search. Nothing here is
the time the dashboard happened to read an entry, so a worker killed long before the dashboard
started shows as gone since it was killed, not since the dashboard looked.

Which workers a search's table lists:

* a registry entry that takes this search's jobs (its ``exp_key``, or none: any search's), and every
  worker that ran, runs or lost one of its trials;
* not a worker registered for another search that did nothing in this one;
* a gone worker that did nothing in this search is *folded* (counted under one "N more" row, listed
  on request) when it was last heard of before this search's first trial started, or more than
  :data:`FOLD_GONE_AFTER_S` ago: it cannot have anything to do with this search, and a store whose
  workers came and went over many searches would otherwise list all of them in each.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..mongo.worker_id import host_and_pid
from .rows import epoch

FOLD_GONE_AFTER_S = 600.0
"""A gone worker that did no job of a search is folded in that search's table after this long."""


def worker_table(registry: Iterable[Mapping[str, Any]], exp_key: str | None, rows: list[dict],
                 lost: Mapping[str, list[str]], heard: Mapping[str, float], now: float) -> tuple[list[dict], list[dict]]:
    """(shown, folded) worker entries of the search ``exp_key``, each sorted by worker id.

    ``registry``: the worker registry's documents; ``rows``: the search's trial rows; ``lost``: job id
    -> the workers that lost an attempt of it; ``heard``: worker id -> the newest ``refresh_time`` of
    the jobs it ran or runs, in any search (:func:`last_heard`); ``now``: the store's clock in Unix seconds.
    """
    table: dict[str, dict] = {}

    def entry(worker_id: str) -> dict:
        if worker_id not in table:
            host, pid = host_and_pid(worker_id)
            table[worker_id] = {"id": worker_id, "host": host, "pid": pid, "exp_key": None, "registered": False,
                                "alive": False, "busy": False, "running": [], "done": 0, "failed": 0, "lost": [],
                                "last_heartbeat": None, "expires": None}
        return table[worker_id]

    for doc in registry:
        item = entry(str(doc["_id"]))
        expires = epoch(doc.get("expires"))
        item.update(registered=True, exp_key=doc.get("exp_key"), alive=bool(expires and expires > now),
                    busy=bool(doc.get("busy")), expires=expires, last_heartbeat=epoch(doc.get("beat")))
    for row in rows:
        if row["owner"]:
            item = entry(row["owner"])
            if row["state"] == "running":
                item["running"].append(row["tid"])
            elif row["state"] in ("done", "failed"):
                item[row["state"]] += 1
        for owner in lost.get(row["job"], []):
            entry(owner)["lost"].append(row["tid"])

    for worker_id, item in table.items():
        item["last_heartbeat"] = max((t for t in (item["last_heartbeat"], heard.get(worker_id)) if t is not None),
                                     default=None)
    started = min((row["booked"] for row in rows if row["booked"]), default=None)
    shown, folded = [], []
    for item in sorted(table.values(), key=lambda w: w["id"]):
        item["requeues"] = len(item["lost"])
        item["status"] = ("busy" if item["busy"] or item["running"] else "idle") if item["alive"] else "gone"
        worked_here = bool(item["running"] or item["done"] or item["failed"] or item["lost"])
        if worked_here:
            shown.append(item)
        elif item["exp_key"] not in (exp_key, None):
            continue  # another search's worker
        elif item["alive"] or not _long_gone(item, started, now):
            shown.append(item)
        else:
            folded.append(item)
    return shown, folded


def last_heard(heard: dict[str, float], row: Mapping[str, Any]) -> None:
    """Note in ``heard`` the ``refresh_time`` of a trial row as a sign of life of its owner (its job
    heartbeat while running, its result when finished)."""
    owner, moment = row.get("owner"), row.get("refreshed")
    if owner and moment is not None and row.get("state") in ("running", "done", "failed"):
        heard[owner] = max(moment, heard.get(owner, moment))


def _long_gone(item: dict, search_started: float | None, now: float) -> bool:
    """Gone before the search's first trial started, or for longer than :data:`FOLD_GONE_AFTER_S`."""
    last = item["last_heartbeat"] if item["last_heartbeat"] is not None else item["expires"]
    if last is None:
        return True  # never heard of by any time the store keeps
    return (search_started is not None and last < search_started) or now - last > FOLD_GONE_AFTER_S
