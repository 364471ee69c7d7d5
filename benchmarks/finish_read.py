"""What reading a search costs a process that is not its driver (``report_finished``, the end of
``sigopt_hyperopt.fmin`` under MongoTrials): ``refresh()`` followed by ``all_trial_docs()``.

Before: the second call read the whole search again (only the driver's view was reused when synced a
moment ago); after: any view synced a moment ago is reused.  Both are timed in one run on the same
store, the "before" by putting the earlier rule back in place for its rounds.

Run: ``uv run --group bench python -m benchmarks.finish_read``; the table goes into docs/benchmarks.md.
"""

from __future__ import annotations

import datetime
import statistics
import time
import uuid

from sigopt_hyperopt.mongo import MongoTrials
from sigopt_hyperopt.mongo import trials as trials_module

from .distributed import mongo_server
from .report import DOC, machine, replace_section

SIZES = (1000, 10000)
ROUNDS = 3


def earlier_rule(self: MongoTrials) -> trials_module.TrialsView:
    """The rule before: only the search's driver (the lease holder) reused a view synced a moment ago."""
    view = self._view
    if self._lease is not None and view is not None and time.monotonic() - view.synced_at < trials_module.RESYNC_AFTER_S:
        return view
    return self._sync()


def fill(server: str, size: int) -> str:
    url = f"mongo://{server}/finish_{uuid.uuid4().hex[:8]}/jobs"
    trials = MongoTrials(url, exp_key="bench")
    tids = trials.new_trial_ids(size)
    for first in range(0, size, 1000):
        chunk = tids[first:first + 1000]
        trials.insert_trial_docs(trials.new_trial_docs(
            chunk, [None] * len(chunk), [{"status": "ok", "loss": 1.0}] * len(chunk),
            [{"tid": t, "cmd": None, "workdir": None, "idxs": {}, "vals": {}} for t in chunk]))
    return url


def main() -> None:
    rows = []
    current = trials_module.MongoTrials._refreshed_view
    with mongo_server() as server:
        for size in SIZES:
            reader = MongoTrials(fill(server, size), exp_key="bench")
            times: dict[str, list[float]] = {"before": [], "after": []}
            try:
                for _ in range(2):  # alternate, so drift on a shared machine hits both
                    for label, rule in (("before", earlier_rule), ("after", current)):
                        trials_module.MongoTrials._refreshed_view = rule
                        for _ in range(ROUNDS):
                            started = time.perf_counter()
                            reader.refresh()
                            assert len(reader.all_trial_docs()) == size
                            times[label].append(time.perf_counter() - started)
            finally:
                trials_module.MongoTrials._refreshed_view = current
            rows.append((size, statistics.median(times["before"]), statistics.median(times["after"])))
            print(rows[-1], flush=True)
    lines = [
        "## Reading a search from outside its driver",
        "",
        "Command: `uv run --group bench python -m benchmarks.finish_read`.",
        "",
        f"Machine: {machine()}. Written {datetime.date.today().isoformat()}.",
        "",
        "`refresh()` then `all_trial_docs()` on a `MongoTrials` that does not hold the search's lease (what "
        "`report_finished` and the end of `sigopt_hyperopt.fmin` do), FerretDB 1.24 on SQLite, median of "
        f"{2 * ROUNDS} alternating rounds.",
        "",
        "| trials | before: read twice | after: read once | after / before |",
        "| --- | --- | --- | --- |",
    ]
    for size, before, after in rows:
        lines.append(f"| {size:,} | {before:.2f} s | {after:.2f} s | {after / before:.2f} |")
    DOC.write_text(replace_section(DOC.read_text(), "finish-read", "\n".join(lines)))


if __name__ == "__main__":
    main()
