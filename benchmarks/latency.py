"""Suggestion latency of the embedded engine, before and after a change, measured in one run.

Run:  uv run --group bench python -m benchmarks.latency [--repeats 5] [--baseline PATH]

Observations are random points of Branin (2-D) and Hartmann6 (6-D) with their true values, so the
model fit is realistic.  For each case a fresh engine learns the observations; its first call is
*cold* (it fits the GP hyperparameters, as a restarted driver or a call at a refit point does) and
the median of the next ``--repeats`` calls is *warm* (the hyperparameters are reused, as in a
running driver).  Then whole searches: a sequential 40-evaluation ``fmin`` on each test function
(its objective costs microseconds), whose wall time per evaluation is the engine's cost as a user
sees it, refits included.  With ``--baseline PATH`` (``git worktree add PATH <old commit>``) the same cases run
on the old code too, interleaved case by case in a second process, so both columns share the
machine's load (see benchmarks/checkout.py).

Each side runs in its own process (``--serve``: one JSON request per line on stdin, one answer per
line on stdout) with BLAS limited to one thread.  Results go to
benchmarks/results/latency-speed.json and into docs/benchmarks.md.
"""

from __future__ import annotations

import os

os.environ.pop("SIGOPT_API_TOKEN", None)
os.environ.setdefault("OMP_NUM_THREADS", "1")  # the baseline does not limit BLAS itself
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .problems import PROBLEMS

RESULTS = Path(__file__).parent / "results" / "latency-speed.json"


@dataclass(frozen=True)
class Case:
    label: str
    problem: str
    observations: int
    asked: int
    pending: int
    target: float | None = None
    """The issue's goal for the warm call, in seconds (None: measured for the curve only)."""


CASES = (
    Case("1 point (Branin, 2-D)", "branin", 100, 1, 0, 0.1),
    Case("1 point", "hartmann6", 100, 1, 0, 0.1),
    Case("1 point, 8 pending", "hartmann6", 100, 1, 8),
    Case("16 points at once", "hartmann6", 100, 16, 0, 1.0),
    Case("1 point", "hartmann6", 50, 1, 0),
    Case("1 point", "hartmann6", 200, 1, 0),
    Case("1 point", "hartmann6", 500, 1, 0, 0.5),
    Case("1 point", "hartmann6", 2000, 1, 0, 1.0),
)


SEARCH_PROBLEMS = ("branin", "hartmann6")
SEARCH_EVALS = 40


def random_points(problem, count: int, rng: np.random.Generator) -> list[dict[str, float]]:
    return [{d.name: float(rng.uniform(d.low, d.high)) for d in problem.dimensions} for _ in range(count)]


def measure(problem_name: str, observations: int, asked: int, pending: int, calls: int) -> dict:
    """Times of ``calls`` successive suggest calls of one fresh engine (runs in the serving process)."""
    from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
    from sigopt_hyperopt.engines.base import Observation
    from sigopt_hyperopt.space import translate

    problem = PROBLEMS[problem_name]
    rng = np.random.default_rng(observations)
    engine = EmbeddedEngine.for_space(translate(problem.hyperopt_space()))
    points = random_points(problem, observations + pending, rng)
    engine.sync([Observation(key=i, assignments=p, value=problem.objective(p))
                 for i, p in enumerate(points[:observations])])
    model = "quasi-random" if engine._in_initialization_phase() else ("SPE" if engine._uses_spe() else "GP")
    times = []
    for call in range(calls):
        started = time.perf_counter()
        engine.suggest(asked, points[observations:], seed=call)
        times.append(time.perf_counter() - started)
    return {"times": times, "model": model}


def measure_search(problem_name: str, evals: int, seed: int) -> dict:
    """Wall seconds of a whole sequential ``fmin`` with ``sigopt_suggest`` (objective: the cheap test function)."""
    from hyperopt import Trials, fmin

    from sigopt_hyperopt import sigopt_suggest

    problem = PROBLEMS[problem_name]
    started = time.perf_counter()
    fmin(problem.objective, problem.hyperopt_space(), algo=sigopt_suggest, max_evals=evals, trials=Trials(),
         rstate=np.random.default_rng(seed), show_progressbar=False)
    return {"times": [time.perf_counter() - started], "model": "search"}


def serve() -> None:
    """Answer measurement requests, one JSON object per line, until stdin closes."""
    for line in sys.stdin:
        request = json.loads(line)
        kind = request.pop("kind", "call")
        print(json.dumps(measure_search(**request) if kind == "search" else measure(**request)), flush=True)


class Side:
    """One serving process: this checkout's engine or the baseline's."""

    def __init__(self, stack: contextlib.ExitStack, baseline: Path | None) -> None:
        from .checkout import import_root, popen

        root = stack.enter_context(import_root(baseline)) if baseline else None
        self.process = popen(baseline, root, "benchmarks.latency", "--serve", stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        stack.callback(self.close)

    def measure(self, case: Case, calls: int) -> dict:
        return self.request({"problem_name": case.problem, "observations": case.observations, "asked": case.asked,
                             "pending": case.pending, "calls": calls})

    def search(self, problem: str, evals: int, seed: int) -> float:
        return self.request({"kind": "search", "problem_name": problem, "evals": evals, "seed": seed})["times"][0]

    def request(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            from .errors import BenchmarkError

            raise BenchmarkError(f"the measuring process died on {request}")
        return json.loads(answer)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm calls after the cold one")
    parser.add_argument("--baseline", type=Path, help="checkout of the old code, measured in the same run")
    parser.add_argument("--baseline-repeats", type=int, default=1,
                        help="calls after the first for the baseline (it refits at every call: all alike)")
    parser.add_argument("--search-seeds", type=int, default=3, help="whole 40-evaluation searches per problem")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    rows = []
    with contextlib.ExitStack() as stack:
        after = Side(stack, None)
        before = Side(stack, args.baseline.resolve()) if args.baseline else None
        for case in tqdm(CASES, desc="latency"):
            measured = after.measure(case, args.repeats + 1)
            row = {**asdict(case), "model": measured["model"], "cold_seconds": measured["times"][0],
                   "warm_seconds": statistics.median(measured["times"][1:]), "after_times": measured["times"]}
            if before is not None:
                old = before.measure(case, args.baseline_repeats + 1)
                row["before_seconds"] = statistics.median(old["times"])
                row["before_times"] = old["times"]
            rows.append(row)
        searches = []
        for problem in tqdm(SEARCH_PROBLEMS, desc="whole searches"):
            for seed in range(args.search_seeds):
                entry = {"problem": problem, "evals": SEARCH_EVALS, "seed": seed,
                         "after_seconds": after.search(problem, SEARCH_EVALS, seed)}
                if before is not None:
                    entry["before_seconds"] = before.search(problem, SEARCH_EVALS, seed)
                searches.append(entry)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"repeats": args.repeats, "baseline_repeats": args.baseline_repeats,
                                   "baseline": str(args.baseline) if args.baseline else None, "rows": rows,
                                   "searches": searches}, indent=1))
    from .speed_report import write_speed_report

    write_speed_report()


if __name__ == "__main__":
    main()
