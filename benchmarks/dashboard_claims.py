"""What a dashboard poll pays for the job claims, read in full each poll (before) or only recent ones (after).

The store holds N finished trials with one claim each (what N jobs evaluated once leave behind) and
4 running; a steady poll (``MongoSource.read``, nothing new) is timed both ways in the same run, on
the same database: "before" forgets the claims mark before each read, which is what every poll did
until the dashboard read claims incrementally.

Run: ``uv run --group bench python -m benchmarks.dashboard_claims``; the table goes into
docs/benchmarks.md.
"""

from __future__ import annotations

import datetime
import statistics
import time
import uuid

import numpy as np
import pymongo

from sigopt_hyperopt.dashboard.source import MongoSource
from sigopt_hyperopt.mongo import CLAIMS_COLLECTION, parse_mongo_url
from sigopt_hyperopt.mongo.clock import ServerClock

from .dashboard import trial_doc
from .distributed import mongo_server
from .report import DOC, machine, replace_section

SIZES = (1000, 10000)
REPEATS = 5


def fill(server: str, size: int) -> str:
    database = f"claims_{uuid.uuid4().hex[:8]}"
    with pymongo.MongoClient(f"mongodb://{server}") as client:
        db = client[database]
        rng = np.random.default_rng(0)
        start = ServerClock(db).now() - datetime.timedelta(hours=6)
        for first in range(0, size, 1000):
            tids = range(first, min(size, first + 1000))
            db["jobs"].insert_many([trial_doc(t, rng, start) for t in tids])
            db[CLAIMS_COLLECTION].insert_many([{"_id": f"job-{t}/0", "job": f"job-{t}", "owner": f"host-{t % 8}:1",
                                               "at": start + datetime.timedelta(seconds=t)} for t in tids])
        db["jobs"].insert_many([trial_doc(size + i, rng, start, state=1) for i in range(4)])
    return f"{server}/{database}"


def steady_poll(source: MongoSource, *, forget_claims: bool) -> tuple[float, int]:
    """Median seconds of a read with nothing new, and the claims each read returned."""
    times, counts = [], []
    for _ in range(REPEATS):
        if forget_claims:
            source._claims_mark = None
        started = time.perf_counter()
        reading = source.read()
        times.append(time.perf_counter() - started)
        counts.append(len(reading.claims))
    return statistics.median(times), int(statistics.median(counts))


def main() -> None:
    rows = []
    with mongo_server() as server:
        for size in SIZES:
            source = MongoSource(parse_mongo_url(fill(server, size)))
            source.read()  # the first, full read
            before = steady_poll(source, forget_claims=True)
            after = steady_poll(source, forget_claims=False)
            source.close()
            rows.append((size, before, after))
            print(size, before, after, flush=True)
    lines = [
        "## Dashboard: job claims per poll",
        "",
        "Command: `uv run --group bench python -m benchmarks.dashboard_claims`.",
        "",
        f"Machine: {machine()}. Written {datetime.date.today().isoformat()}.",
        "",
        "A steady poll (`MongoSource.read`, nothing new; median of 5) of a FerretDB 1.24 (SQLite) store "
        "holding N finished trials, one claim each, and 4 running; before: every poll read the whole "
        "claims collection; after: only claims stamped since the previous read (less 30 s).",
        "",
        "| trials | before: poll | claims read | after: poll | claims read | after / before |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for size, (t_before, c_before), (t_after, c_after) in rows:
        lines.append(f"| {size:,} | {t_before * 1000:.0f} ms | {c_before:,} | {t_after * 1000:.0f} ms | {c_after:,} "
                     f"| {t_after / t_before:.2f} |")
    lines += ["", "The rest of a poll (queued, running, recent and new jobs; the worker registry) is unchanged: "
              "FerretDB on SQLite still scans the job collection for those filters (see the Dashboard section)."]
    DOC.write_text(replace_section(DOC.read_text(), "dashboard-claims", "\n".join(lines)))


if __name__ == "__main__":
    main()
