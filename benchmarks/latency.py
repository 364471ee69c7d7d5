"""Suggestion latency of the embedded engine, by number of finished observations and pending points.

Run:  uv run --group bench python -m benchmarks.latency [--repeats 3]

Observations are random points of Branin (2-D) and Hartmann6 (6-D) with their true values, so the
model fit is realistic. Results go to benchmarks/results/latency.json and into docs/benchmarks.md.
"""

from __future__ import annotations

import os

os.environ.pop("SIGOPT_API_TOKEN", None)

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sigopt_hyperopt.embedded import EmbeddedEngine
from sigopt_hyperopt.engine import Observation
from sigopt_hyperopt.space import translate

from .problems import PROBLEMS

RESULTS = Path(__file__).parent / "results" / "latency.json"
OBSERVATION_COUNTS = (10, 50, 100, 200)
# (label, points asked for, pending points)
CASES = (("1 point", 1, 0), ("1 point, 8 pending", 1, 8), ("8 points", 8, 0))


def random_points(problem, count: int, rng: np.random.Generator) -> list[dict[str, float]]:
    return [{d.name: float(rng.uniform(d.low, d.high)) for d in problem.dimensions} for _ in range(count)]


def measure(problem_name: str, observations: int, asked: int, pending: int, repeats: int) -> float:
    problem = PROBLEMS[problem_name]
    rng = np.random.default_rng(observations)
    engine = EmbeddedEngine.for_space(translate(problem.hyperopt_space()))
    points = random_points(problem, observations + pending, rng)
    engine.sync([Observation(key=i, assignments=p, value=problem.objective(p)) for i, p in enumerate(points[:observations])])
    times = []
    for repeat in range(repeats):
        started = time.perf_counter()
        engine.suggest(asked, points[observations:], seed=repeat)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--problems", nargs="*", default=["branin", "hartmann6"])
    args = parser.parse_args()
    jobs = [(p, n, case) for p in args.problems for n in OBSERVATION_COUNTS for case in CASES]
    rows = []
    for problem, count, (label, asked, pending) in tqdm(jobs, desc="latency"):
        seconds = measure(problem, count, asked, pending, args.repeats)
        rows.append({"problem": problem, "observations": count, "case": label, "asked": asked,
                     "pending": pending, "median_seconds": seconds})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"repeats": args.repeats, "rows": rows}, indent=1))
    from .report import write_report

    write_report()


if __name__ == "__main__":
    main()
