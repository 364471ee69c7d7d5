"""The distributed path, measured: machinery overhead, dispatch latency, and sigopt_suggest feeding a pool.

Run:  uv run --group bench python -m benchmarks.distributed [--only overhead dispatch pool] [--stock]

Everything runs on this machine against one MongoDB-wire server (FerretDB, started here; or the
server at ``MONGO_URL``), with real worker processes (``sigopt-hyperopt worker --poll-interval 0.1``).

* overhead: hyperopt's ``rand.suggest`` (its cost is negligible), an objective that sleeps 1 s,
  64 evaluations, 1/2/4/8/16 workers; efficiency = ideal ceil(64/N)·1 s / wall time. Once with this
  package's defaults (queue sized to the live workers, 0.1 s driver poll) and once with hyperopt's
  (``max_queue_len=1``, 1 s poll). With ``--stock``: stock hyperopt (its own ``MongoTrials`` and
  ``hyperopt-mongo-worker``, on ``pymongo<4`` in a separate virtual environment) on the same server.
* dispatch: one idle worker; time from the driver inserting a job to the worker reserving it.
* pool: the embedded engine's suggestion throughput (points per second, by batch size), then
  ``sigopt_suggest`` feeding 8 and 16 workers with objectives of several durations: the share of
  worker time spent evaluating.

Results go to benchmarks/results/distributed.json and into docs/benchmarks.md.
"""

from __future__ import annotations

import os

os.environ.pop("SIGOPT_API_TOKEN", None)

import argparse
import contextlib
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from hyperopt import fmin, hp, rand
from tqdm import tqdm

from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
from sigopt_hyperopt.engines.base import Observation
from sigopt_hyperopt.mongo import MongoTrials
from sigopt_hyperopt.space import translate

from .pool_objectives import sleep_then_quadratic

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "distributed.json"
STOCK_VENV = Path.home() / ".cache" / "sigopt-hyperopt-bench" / "stock-hyperopt"
WORKER_COUNTS = (1, 2, 4, 8, 16)
OVERHEAD_EVALS = 64


# -- the server and the workers -------------------------------------------------------------------

@contextlib.contextmanager
def mongo_server(backend: str = "sqlite") -> Iterator[str]:
    """``host:port`` of MONGO_URL, or of a FerretDB started for the benchmark on ``backend``:
    ``sqlite`` (what the tests use) or ``postgresql`` (a private PostgreSQL cluster started here)."""
    if os.environ.get("MONGO_URL"):
        yield os.environ["MONGO_URL"].split("://")[-1].rstrip("/")
        return
    sys.path.insert(0, str(ROOT))
    from tests.conftest import free_port, start_ferretdb, stop_process

    port = free_port()
    if backend == "postgresql":
        with postgresql() as url:
            process = start_ferretdb(Path(tempfile.mkdtemp(prefix="bench-ferretdb-")), port, "--handler=postgresql",
                                     f"--postgresql-url={url}")
            try:
                yield f"127.0.0.1:{port}"
            finally:
                stop_process(process)
        return
    with tempfile.TemporaryDirectory(prefix="bench-ferretdb-") as data:
        process = start_ferretdb(Path(data), port)
        try:
            yield f"127.0.0.1:{port}"
        finally:
            stop_process(process)


@contextlib.contextmanager
def postgresql() -> Iterator[str]:
    """A throw-away PostgreSQL cluster (Debian's postgresql package), run as its ``postgres`` user."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not binaries:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    bin_dir = binaries[-1]
    sys.path.insert(0, str(ROOT))
    from tests.conftest import free_port

    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    shutil.chown(home, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(bin_dir / "initdb"), "-D", str(home / "data"), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(home / "data"), "-l", str(home / "log"), "-w",
                    "-o", f"-p {port} -k {home} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        subprocess.run([*as_postgres, str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "ferretdb"],
                       check=True, capture_output=True)
        yield f"postgres://postgres@127.0.0.1:{port}/ferretdb"
    finally:
        subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(home / "data"), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def worker_command(mongo_db: str, workdir: str) -> list[str]:
    return [sys.executable, "-m", "sigopt_hyperopt.cli", "worker", f"--mongo={mongo_db}", "--poll-interval=0.1",
            "--reserve-timeout=600", f"--workdir={workdir}"]


def stock_worker_command(mongo_db: str, workdir: str) -> list[str]:
    return [str(STOCK_VENV / "bin" / "hyperopt-mongo-worker"), f"--mongo={mongo_db}", "--poll-interval=0.1",
            "--reserve-timeout=600", f"--workdir={workdir}"]


@contextlib.contextmanager
def workers(count: int, command: list[str], wait_until: Callable[[], bool] | None = None,
            cwd: str | None = None) -> Iterator[None]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen(command, cwd=cwd or ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(count)]
    try:
        deadline = time.monotonic() + 120
        while wait_until is not None and not wait_until():
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not announce themselves within 120 s")
            time.sleep(0.2)
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def space(duration: float) -> dict[str, Any]:
    return {"x": hp.uniform("x", -1, 1), "y": hp.uniform("y", -1, 1), "duration": duration}


def evaluation_seconds(docs: list[dict]) -> list[float]:
    return [(d["refresh_time"] - d["book_time"]).total_seconds() for d in docs if d.get("book_time") and d.get("refresh_time")]


def run_pool(server: str, count: int, *, evals: int, duration: float, algo: Callable, **trials_options: Any) -> dict:
    """One fmin over ``count`` fresh workers; wall time from fmin's start to its return."""
    mongo_db = f"{server}/bench_{uuid.uuid4().hex[:10]}"
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="bench", **trials_options)
    with tempfile.TemporaryDirectory(prefix="bench-work-") as workdir, \
            workers(count, worker_command(mongo_db, workdir), lambda: trials.live_workers() >= count):
        started = time.perf_counter()
        fmin(sleep_then_quadratic, space(duration), algo=algo, max_evals=evals, trials=trials,
             rstate=np.random.default_rng(0), show_progressbar=False)
        wall = time.perf_counter() - started
    docs = trials.all_trial_docs()
    busy = sum(evaluation_seconds(docs))
    trials.handle.conn.drop_database(mongo_db.split("/")[1])
    return {"workers": count, "evals": len(docs), "wall": wall, "busy_fraction": busy / (count * wall)}


# -- overhead -------------------------------------------------------------------------------------

def overhead(server: str, stock: bool) -> list[dict]:
    rows = []
    plans = [("sigopt-hyperopt defaults", n, {}) for n in WORKER_COUNTS]
    plans += [("hyperopt's defaults (queue 1, 1 s poll)", n, {"queue_len": 1, "poll_interval": 1.0}) for n in (4, 8, 16)]
    for label, count, options in tqdm(plans, desc="overhead"):
        row = run_pool(server, count, evals=OVERHEAD_EVALS, duration=1.0, algo=rand.suggest, **options)
        rows.append({"setup": label, **row, "ideal": math.ceil(OVERHEAD_EVALS / count)})
    if stock:
        rows += stock_overhead(server)
    return rows


def ensure_stock_venv() -> Path:
    """A virtual environment with stock hyperopt and pymongo<4 (the last that its mongoexp works with)."""
    python = STOCK_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["uv", "venv", "--python", sys.executable, str(STOCK_VENV)], check=True, capture_output=True)
        subprocess.run(["uv", "pip", "install", "--python", str(python), "hyperopt==0.3.0", "pymongo<4"],
                       check=True, capture_output=True)
    return python


STOCK_DRIVER = """
import json, sys, time
import numpy as np
from hyperopt import fmin, hp, rand
from hyperopt.mongoexp import MongoTrials
from benchmarks.pool_objectives import sleep_then_quadratic
url, evals, queue = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
trials = MongoTrials(url, exp_key="bench")
space = {"x": hp.uniform("x", -1, 1), "y": hp.uniform("y", -1, 1), "duration": 1.0}
started = time.perf_counter()
fmin(sleep_then_quadratic, space, algo=rand.suggest, max_evals=evals, trials=trials, max_queue_len=queue,
     rstate=np.random.default_rng(0), show_progressbar=False)
print(json.dumps({"wall": time.perf_counter() - started}))
"""


def stock_overhead(server: str) -> list[dict]:
    """Stock hyperopt's MongoTrials and hyperopt-mongo-worker, given a queue as deep as the pool."""
    python = ensure_stock_venv()
    rows = []
    for count in tqdm((8, 16), desc="stock hyperopt"):
        mongo_db = f"{server}/stock_{uuid.uuid4().hex[:10]}"
        row: dict[str, Any] = {"setup": "stock hyperopt 0.3.0 + pymongo 3.13 (max_queue_len=N)", "workers": count,
                               "ideal": math.ceil(OVERHEAD_EVALS / count)}
        with tempfile.TemporaryDirectory(prefix="bench-stock-") as workdir, \
                workers(count, stock_worker_command(mongo_db, workdir), cwd=workdir):  # it writes logfile.txt in its cwd
            time.sleep(3)  # stock workers do not announce themselves; give them time to start
            try:
                driver = subprocess.run([str(python), "-c", STOCK_DRIVER, f"mongo://{mongo_db}/jobs",
                                         str(OVERHEAD_EVALS), str(count)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                        capture_output=True, text=True, timeout=300)
                if driver.returncode == 0:
                    row["wall"] = json.loads(driver.stdout.strip().splitlines()[-1])["wall"]
                else:
                    row["failed"] = driver.stderr.strip().splitlines()[-1][:200]
            except subprocess.TimeoutExpired:
                row["failed"] = "did not finish within 300 s"
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="bench", refresh=False)
        docs = trials.all_trial_docs()
        row["evals"] = len(docs)
        row["evaluations_started"] = sum(1 for d in docs if d.get("book_time"))
        row["busy_fraction"] = sum(evaluation_seconds(docs)) / (count * row["wall"]) if "wall" in row else None
        trials.handle.conn.drop_database(mongo_db.split("/")[1])
        rows.append(row)
    return rows


# -- dispatch latency -----------------------------------------------------------------------------

def dispatch(server: str, samples: int = 60) -> dict:
    """Insert → reserve, with one idle worker polling every 0.1 s."""
    mongo_db = f"{server}/dispatch_{uuid.uuid4().hex[:10]}"
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="bench", queue_len=1)
    inserted: dict[int, float] = {}

    def timed_rand(new_ids, domain, trials_, seed):
        docs = rand.suggest(new_ids, domain, trials_, seed)
        time.sleep(float(np.random.default_rng(seed).uniform(0, 0.1)))  # insert at a random phase of the poll
        for tid in new_ids:
            inserted[tid] = time.time()  # fmin inserts the docs as soon as this returns
        return docs

    with tempfile.TemporaryDirectory(prefix="bench-work-") as workdir, \
            workers(1, worker_command(mongo_db, workdir), lambda: trials.live_workers() >= 1):
        fmin(sleep_then_quadratic, space(0.0), algo=timed_rand, max_evals=samples, trials=trials,
             rstate=np.random.default_rng(0), show_progressbar=False)
    latencies = sorted(d["book_time"].timestamp() - inserted[d["tid"]] for d in trials.all_trial_docs())
    trials.handle.conn.drop_database(mongo_db.split("/")[1])
    return {"samples": len(latencies), "median_ms": 1000 * statistics.median(latencies),
            "p90_ms": 1000 * latencies[int(0.9 * (len(latencies) - 1))], "max_ms": 1000 * latencies[-1]}


# -- sigopt_suggest feeding a pool ----------------------------------------------------------------

def throughput(observations: int = 40) -> list[dict]:
    """Points per second of the embedded engine on this 2-D space, by batch size."""
    translated = translate(space(0.0))
    rng = np.random.default_rng(0)
    engine = EmbeddedEngine.for_space(translated)
    points = [{"x": float(rng.uniform(-1, 1)), "y": float(rng.uniform(-1, 1))} for _ in range(observations)]
    engine.sync([Observation(key=i, assignments=p, value=(p["x"] - 0.25) ** 2) for i, p in enumerate(points)])
    engine.suggest(1, [], seed=0)  # fits the hyperparameters, which a running driver has already done
    rows = []
    for batch in tqdm((1, 4, 8, 16), desc="throughput"):
        started = time.perf_counter()
        engine.suggest(batch, [], seed=batch)
        seconds = time.perf_counter() - started
        rows.append({"batch": batch, "observations": observations, "seconds": seconds, "points_per_second": batch / seconds})
    return rows


POOL_PLANS = ((8, (0.25, 0.5, 1.0, 2.0)), (16, (0.5, 1.0, 2.0, 4.0)))


def pool(server: str) -> list[dict]:
    rows = []
    plans = [(count, duration) for count, durations in POOL_PLANS for duration in durations]
    for count, duration in tqdm(plans, desc="sigopt pool"):
        row = run_pool(server, count, evals=4 * count, duration=duration, algo=sigopt_suggest)
        rows.append({**row, "duration": duration})
    return rows


# -- the report section ---------------------------------------------------------------------------

def section() -> str:
    if not RESULTS.exists():
        return "No results yet: run `uv run --group bench python -m benchmarks.distributed`."
    data = json.loads(RESULTS.read_text())
    lines = []
    if "overhead" in data:
        lines += ["### Distribution overhead", "",
                  f"`rand.suggest`, an objective that sleeps 1 s, {OVERHEAD_EVALS} evaluations; efficiency = "
                  "ceil(64/N) s / wall time. Targets: ≥ 90 % at 8 workers, ≥ 80 % at 16.", "",
                  "| setup | workers | wall (s) | ideal (s) | efficiency | workers busy |", "|---|---|---|---|---|---|"]
        for r in data["overhead"]:
            if r.get("wall") is None:
                lines.append(f"| {r['setup']} | {r['workers']} | — | {r['ideal']} | failed: {r.get('failed')} | — |")
                continue
            extra = ""
            if "evaluations_started" in r and r["evaluations_started"] != r["evals"]:
                extra = f" ({r['evaluations_started']} starts for {r['evals']} trials)"
            lines.append(f"| {r['setup']}{extra} | {r['workers']} | {r['wall']:.1f} | {r['ideal']} | "
                         f"{100 * r['ideal'] / r['wall']:.0f} % | {100 * r['busy_fraction']:.0f} % |")
        lines.append("")
    if "dispatch" in data:
        d = data["dispatch"]
        lines += ["### Dispatch latency", "",
                  f"Job inserted by the driver → reserved by an idle worker polling every 0.1 s, {d['samples']} jobs: "
                  f"median {d['median_ms']:.0f} ms, 90th percentile {d['p90_ms']:.0f} ms, max {d['max_ms']:.0f} ms "
                  f"(target: median ≤ 150 ms, {'met' if d['median_ms'] <= 150 else 'NOT met'}).", ""]
    if "throughput" in data:
        lines += ["### sigopt_suggest feeding a pool", "",
                  f"Embedded engine, 2-D space, {data['throughput'][0]['observations']} observations: seconds per "
                  "`suggest` call and points per second, by how many points one call asks for.", "",
                  "| points per call | seconds | points per second |", "|---|---|---|"]
        lines += [f"| {r['batch']} | {r['seconds']:.2f} | {r['points_per_second']:.1f} |" for r in data["throughput"]]
        lines.append("")
    if "pool" in data:
        lines += ["`sigopt_suggest` with MongoTrials' defaults, 4 evaluations per worker; *busy* is the share of "
                  "worker time spent evaluating (target: ≥ 85 %).", "",
                  "| workers | objective (s) | wall (s) | busy |", "|---|---|---|---|"]
        lines += [f"| {r['workers']} | {r['duration']:g} | {r['wall']:.1f} | {100 * r['busy_fraction']:.0f} % |"
                  for r in data["pool"]]
        for count in sorted({r["workers"] for r in data["pool"]}):
            ok = [r["duration"] for r in data["pool"] if r["workers"] == count and r["busy_fraction"] >= 0.85]
            lines.append(f"\n{count} workers stay ≥ 85 % busy from an objective of {min(ok):g} s." if ok else
                         f"\n{count} workers never reached 85 % busy in the durations measured.")
        lines.append("")
    return "\n".join(lines) + "\n" + NOTES


NOTES = """Reading the tables (numbers from runs on this machine, 2026-11-24):

- **Repeatability.** Three runs of the overhead table on this 2-core VM gave 90 %, 89 % and 88 %
  at 8 workers and 75 %, 73 % and 80 % at 16 (the last run, with the queue signal, is the one above).
  The 8-worker target (90 %) is at the edge of that spread; the 16-worker one (80 %) was met once.
- **Where the time goes at 16 workers** (a 64-evaluation run broken down from the trial documents):
  fmin's start to the first job 0.05 s; evaluation as the worker sees it 1.036 s median (loading
  the domain from GridFS, evaluating, SONifying); between a worker's jobs 0.118 s median, 0.23 s at
  the 90th percentile (8 workers: 0.034 s); last result to fmin's return 0.32 s. The gaps come from
  the synthetic load's worst case: every job lasts exactly 1 s, so all 16 workers finish at once and
  their bookkeeping (result write, queue search, claim, RUNNING mark, domain read: roughly 15 ms of
  server time each, added up from per-operation timings on this server: a queue search 5.7 ms, an
  update by `_id` 1-2 ms, a read by `_id` 1.4 ms) queues at the one FerretDB process. Measured CPU in that run: FerretDB 3.8 s,
  the 16 workers 0.47 s, the driver 0.18 s, out of 10 s of capacity. FerretDB scans whole
  collections for filtered queries (5.7 ms at 64 trials, 46 ms at 640). No real mongod was
  available here to compare (set `MONGO_URL` to run this benchmark against one).
- **Before the queue signal**, idle workers searched the queue on every poll; FerretDB then used
  4.6 s of CPU in the same run, and the 16-worker efficiency was 73-75 %.
- **hyperopt's defaults** (`max_queue_len=1`, the driver polling once a second) feed about one job a
  second whatever the pool, hence 6-24 %.
- **Stock hyperopt** (0.3.0 with pymongo 3.13, the last pymongo its `mongoexp` works with), even with
  `max_queue_len=N`: its driver polls once a second and its worker starts a new Python process for
  every job (`hyperopt-mongo-worker` evaluates each job in a fresh subprocess unless told
  `--no-subprocesses`), which imports hyperopt and numpy again each time on these 2 cores. On FerretDB its `findAndModify` reservation is also not atomic (see distributed.md):
  nothing here counts double evaluations, so its rows measure time only.
- **sigopt_suggest feeding a pool** (re-run 2026-12-02 after the engine-speed work, the machine quiet): the
  engine makes 44-53 points a second at 40 observations whatever the batch, against about 2 before.
  8 workers are ≥ 85 % busy from 1 s objectives (82 % at 0.5 s), 16 from 2 s (79 % at 1 s); before
  the engine-speed work it took 4 s and 8 s. The targets (0.5 s and 1 s) are not met: with 4 evaluations
  per worker, each search is only 32 or 64 evaluations, so most of its calls are in the refit-every-call
  phase (up to 40 observations, the Hartmann6 quality fix), and the driver's per-call work plus
  FerretDB's bookkeeping per job (see *Scale*) fill the rest of the gap. Profile of the driver in a
  16-worker, 1 s run (`cProfile` around `run_pool`, 64 evaluations, 5.09 s of fmin for an ideal
  4 s, 83 % busy): 13 `sigopt_suggest` calls took 1.90 s (1.44 s in 6 model-phase calls, 0.24 s
  each, refitting), 248 database round trips 1.10 s (about 4 ms each), the rest asleep between
  polls. The search is only four one-second rounds long, so the start (the first 16 points, domain
  pickling, each worker's first reservation and domain load) and the last round's tail are a fixed
  second of overhead that a longer search would spread: it is the 17 % missing.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["overhead", "dispatch", "pool"])
    parser.add_argument("--stock", action="store_true", help="also run stock hyperopt (pymongo<4) as the peer")
    args = parser.parse_args()
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with mongo_server() as server:
        if "dispatch" in args.only:
            data["dispatch"] = dispatch(server)
        if "overhead" in args.only:
            data["overhead"] = overhead(server, args.stock)
        if "pool" in args.only:
            data["throughput"] = throughput()
            data["pool"] = pool(server)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=1, default=str))
    from .report import write_report

    write_report()


if __name__ == "__main__":
    main()
