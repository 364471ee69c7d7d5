"""The distributed path at scale: does the cost per trial stay flat from 100 to 10,000 trials?

Run:  uv run --group bench python -m benchmarks.scale [--evals 10000] [--baseline PATH]

hyperopt's ``rand.suggest`` (its own cost is negligible), an objective of 15 ms, 8 ``sigopt-hyperopt
worker`` processes and one driver (``benchmarks/scale_driver.py``, its own process) against one
FerretDB started here on PostgreSQL and on SQLite (``--backends``), or the server at ``MONGO_URL``.  Sampled every half second from /proc: the
driver's and the server's CPU time, the driver's and the workers' resident memory.  Reported per
window of 1,000 finished trials: trials per second, driver CPU seconds, server CPU seconds.

``--baseline PATH`` runs the same search first with the package of another checkout (e.g. a
``git worktree`` of the commit before a change), so before and after come from one run.  A baseline
whose rate collapses is stopped by fmin's timeout (``--baseline-timeout``) and reported as far as it got.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from .distributed import mongo_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "scale.json"
WORKERS = 8
WINDOW = 1000
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def process_stats(pid: int) -> tuple[float, int] | None:
    """(CPU seconds, resident bytes) of a live process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS, rss


def server_pids(server: str) -> list[int]:
    """The FerretDB this benchmark started (found by its listen address) and PostgreSQL's processes."""
    port = server.rsplit(":", 1)[1]
    found = subprocess.run(["pgrep", "-f", f"listen-addr=127.0.0.1:{port}"], capture_output=True, text=True).stdout.split()
    found += subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def run(code: Path, label: str, server: str, evals: int, timeout: float, backend: str) -> dict[str, Any]:
    mongo_db = f"{server}/scale_{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("SIGOPT_API_TOKEN", None)
    python = sys.executable
    samples: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="scale-") as work:
        workers = [subprocess.Popen([python, "-m", "sigopt_hyperopt.cli", "worker", f"--mongo={mongo_db}",
                                     "--poll-interval=0.1", "--reserve-timeout=0", f"--workdir={work}"],
                                    cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(WORKERS)]
        time.sleep(3)  # the workers import and announce themselves
        out = Path(work) / "driver.json"
        driver = subprocess.Popen([python, "-m", "benchmarks.scale_driver", mongo_db, str(evals), str(timeout), str(out)],
                                  cwd=code, env=env)
        server_cpu: dict[int, float] = {}
        deadline = time.time() + timeout + 60  # fmin's timeout, then time to stop: a driver still
        try:                                   # busy after that is stopped and read from the store
            while driver.poll() is None and time.time() < deadline:
                sample: dict[str, Any] = {"t": time.time()}
                stats = process_stats(driver.pid)
                if stats:
                    sample["driver_cpu"], sample["driver_rss"] = stats
                for pid in server_pids(server):  # a process that ended keeps its last reading
                    stats = process_stats(pid)
                    if stats:
                        server_cpu[pid] = stats[0]
                sample["server_cpu"] = sum(server_cpu.values())
                worker_stats = [s for s in (process_stats(w.pid) for w in workers) if s]
                if worker_stats:
                    sample["worker_rss_max"] = max(rss for _, rss in worker_stats)
                    sample["worker_cpu"] = sum(cpu for cpu, _ in worker_stats)
                samples.append(sample)
                time.sleep(0.5)
        finally:
            if driver.poll() is None:
                driver.kill()
                driver.wait()
            for worker in workers:
                worker.terminate()
            for worker in workers:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.wait(timeout=30)
        result = json.loads(out.read_text()) if out.exists() else finished_in_store(mongo_db, samples[0]["t"])
    return {"label": label, "backend": backend, "evals": evals, "samples": samples, **result}


def finished_in_store(mongo_db: str, started: float) -> dict[str, Any]:
    """Finish times read from the store itself, for a driver that had to be stopped."""
    import datetime

    import pymongo

    address, name = mongo_db.split("/")
    with pymongo.MongoClient(f"mongodb://{address}") as client:
        times = [doc["refresh_time"].replace(tzinfo=datetime.timezone.utc).timestamp()
                 for doc in client[name]["jobs"].find({"state": 2}, projection=["refresh_time"])]
    return {"started": started, "ended": time.time(), "finished": sorted(times), "stopped": True}


def at(samples: list[dict[str, Any]], moment: float, key: str) -> float | None:
    """A sampled value at ``moment`` (the last sample before it)."""
    before = [s[key] for s in samples if s["t"] <= moment and key in s]
    return before[-1] if before else None


def windows(run_: dict[str, Any]) -> list[dict[str, Any]]:
    finished, samples = run_["finished"], run_["samples"]
    rows = []
    for start in range(0, len(finished) - WINDOW + 1, WINDOW):
        begin = run_["started"] if start == 0 else finished[start - 1]
        end = finished[start + WINDOW - 1]
        row: dict[str, Any] = {"trials": f"{start + 1}-{start + WINDOW}", "rate": WINDOW / (end - begin)}
        for key in ("driver_cpu", "server_cpu", "worker_cpu"):
            first, last = at(samples, begin, key), at(samples, end, key)
            row[key] = None if first is None or last is None else last - first
        row["driver_rss"] = at(samples, end, "driver_rss")
        row["worker_rss_max"] = at(samples, end, "worker_rss_max")
        rows.append(row)
    return rows


def section() -> str:
    if not RESULTS.exists():
        return "No results yet: run `uv run --group bench python -m benchmarks.scale`."
    data = json.loads(RESULTS.read_text())
    lines = [f"`rand.suggest`, an objective of 15 ms, {WORKERS} workers (`--poll-interval 0.1`), one FerretDB; "
             f"per window of {WINDOW} finished trials. {data.get('note', '')}", ""]
    for run_ in data["runs"]:
        rows = windows(run_)
        got = len(run_["finished"])
        stopped = " (its driver did not stop within a minute of fmin's timeout and was killed)" if run_.get("stopped") else ""
        lines += [f"**{run_['label']}, FerretDB on {run_.get('backend', 'sqlite')}**{stopped} ({got} of {run_['evals']} trials finished, "
                  f"{run_.get('ended', run_['started']) - run_['started']:.0f} s):", "",
                  "| trials | trials/s | driver CPU (s) | server CPU (s) | workers' CPU (s) | driver RSS (MB) | largest worker RSS (MB) |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            def num(v: Any, scale: float = 1.0, fmt: str = ".1f") -> str:
                return "—" if v is None else format(v / scale, fmt)
            lines.append(f"| {r['trials']} | {r['rate']:.1f} | {num(r['driver_cpu'], fmt='.2f')} | "
                         f"{num(r['server_cpu'])} | {num(r['worker_cpu'])} | {num(r['driver_rss'], 2**20, '.0f')} | "
                         f"{num(r['worker_rss_max'], 2**20, '.0f')} |")
        if not rows:
            lines.append(f"| (fewer than {WINDOW} trials) | | | | | | |")
        lines.append("")
    return "\n".join(lines)


NOTES = """Reading the table (run of 2026-12-02, FerretDB 1.24.2 on PostgreSQL 15; the SQLite backend was
not run at this size: its lookups by `_id` scan in SQLite, 80 ms each among 10,000 jobs, see
docs/distributed.md):

- **Before**, the driver re-read every trial on every poll: 7.8 trials/s over the first 1,000, 4.6 over
  the second, and the search was stopped at its 420 s budget with a quarter of it done, the server at
  209 s of CPU per 1,000 trials. **After**, the 10,000 trials finish in about six minutes.
- **Driver CPU per 1,000 trials**: 2.1-2.9 s from the first window to the last (one window at 3.4 s
  while the machine was busiest). What still grows is hyperopt's own loop: each turn of `FMinIter.run`
  scans `trials.losses()` with `np.isnan` (5 ms per turn at 10,000 trials, measured), outside this
  package's code; the view itself costs the same at every size (appends, no rebuild).
- **Throughput and server CPU**: the last window runs at about two thirds of the first, and the
  server's CPU per 1,000 trials doubles (24 s to 47 s). FerretDB 1.24 serves no query from an index,
  not even `_id` equality (its plan is a sequential scan, see docs/distributed.md), so taking a job
  and writing its result still cost in proportion to the job collection there; everything else is
  a read of a small collection. On MongoDB those two are index lookups. The 50 trials/s target was not
  reached on this machine: FerretDB and PostgreSQL use about one of its two cores at 35 trials/s, and
  the runs shared the machine with other agents' benchmarks (load average 3-8).
- **Memory**: the driver holds every trial document, as hyperopt's `Trials` does: 159 MB at start,
  192 MB at 10,000 trials (about 3.3 kB per trial). A worker stays at 157 MB: it keeps one unpickled
  domain per search and nothing per job.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=3600.0, help="fmin's timeout for this checkout's run")
    parser.add_argument("--baseline", type=Path, help="a checkout of the code before the change, run first")
    parser.add_argument("--baseline-timeout", type=float, default=900.0)
    parser.add_argument("--backends", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"])
    parser.add_argument("--note", default="", help="a sentence for the report (the machine's load, …)")
    args = parser.parse_args()
    runs = []
    for backend in args.backends:
        with mongo_server(backend) as server:
            if args.baseline:
                runs.append(run(args.baseline.resolve(), f"before ({args.baseline.name})", server, args.evals,
                                args.baseline_timeout, backend))
            runs.append(run(ROOT, "after (this checkout)", server, args.evals, args.timeout, backend))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": runs, "note": args.note}, default=str))
    write_section()
    print(section())


def write_section() -> None:
    """This benchmark's section of docs/benchmarks.md (the others are left as they are)."""
    import datetime

    from .report import DOC, HEADER, machine, replace_section

    text = DOC.read_text() if DOC.exists() else HEADER
    body = ("## Scale\n\nCommand: `uv run --group bench python -m benchmarks.scale --baseline PATH` (PATH: a "
            "checkout of the code before the change).\n\n"
            f"Machine: {machine()}. Written {datetime.date.today().isoformat()}.\n\n" + section() + "\n" + NOTES)
    DOC.write_text(replace_section(text, "scale", body))


if __name__ == "__main__":
    main()
