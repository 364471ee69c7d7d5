"""Multimetric searches: two-objective and constrained problems, five columns, paired by seed, hypervolume.

Run (every problem and column, 10 seeds x 100 evaluations, two runs at a time):

    uv run --group bench --group peers python -m benchmarks.multimetric --seeds 10 --evals 100

Columns: ``sigopt`` (``sigopt_hyperopt.fmin(..., metrics=[Metric(...), ...])``, the embedded engine),
``optuna_gp`` (Optuna's GPSampler, multi-objective), ``optuna_tpe`` (TPESampler, multi-objective),
``nsga2`` (NSGAIISampler, population 20 so that 100 evaluations are five generations; its default 50
would leave 40 evaluations all random), ``rand`` (Optuna's RandomSampler).  Constrained problems give
Optuna's samplers a ``constraints_func`` built from the same thresholds (``value - threshold <= 0``).

Options: ``--problems``, ``--algorithms``, ``--seeds N`` (``--first-seed S``), ``--evals N``,
``--jobs N``, ``--results DIR`` (default benchmarks/results/multimetric/), ``--redo COLUMN...``,
``--report-only``, ``--no-report``.  Each (problem, column, seed) run is one JSON file holding every
evaluation's metric values in order; a run already stored with at least ``--evals`` evaluations is
skipped.  The report (benchmarks/multimetric_report.py) writes the ``multimetric`` section of
docs/benchmarks.md: hypervolume after 40 and 100 evaluations, Wilcoxon signed-rank tests seed by
seed, feasible shares, seconds, and a picture of the fronts found.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per run; runs go in parallel instead
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.pop("SIGOPT_API_TOKEN", None)  # always the embedded engine

import argparse
import json
import logging
import math
import time
import warnings
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .multimetric_problems import MULTIMETRIC, MultiProblem

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).parent / "results" / "multimetric"
ALGORITHMS = ("sigopt", "optuna_gp", "optuna_tpe", "nsga2", "rand")
NSGA2_POPULATION = 20


def result_path(results: Path, problem: str, algorithm: str, seed: int) -> Path:
    return Path(results) / f"{problem}-{algorithm}-{seed}.json"


def stored_evals(path: Path) -> int:
    try:
        return len(json.loads(path.read_text())["evaluations"])
    except (OSError, ValueError, KeyError):
        return 0


@dataclass
class Recorder:
    """The objective as every column sees it: each evaluation's metrics kept in order, and its cost."""

    problem: MultiProblem
    evaluations: list[dict[str, float]] = field(default_factory=list)
    objective_seconds: float = 0.0

    def __call__(self, params: dict[str, Any]) -> dict[str, float]:
        started = time.perf_counter()
        values = self.problem.evaluate(params)
        self.objective_seconds += time.perf_counter() - started
        if not all(math.isfinite(v) for v in values.values()):
            raise ValueError(f"{self.problem.name} returned {values} for {params}")
        self.evaluations.append(values)
        return values


def sigopt_metrics(problem: MultiProblem) -> list[Any]:
    """The problem's declaration as the contract's ``Metric`` objects."""
    from sigopt_hyperopt import Metric

    return [Metric(m.name, objective=m.objective, strategy=m.strategy, threshold=m.threshold) for m in problem.metrics]


def run_sigopt(problem: MultiProblem, recorder: Recorder, evals: int, seed: int) -> None:
    from hyperopt import Trials

    from sigopt_hyperopt import fmin, sigopt_suggest

    fmin(lambda params: {"status": "ok", "metrics": recorder(params)}, problem.hyperopt_space(),
         algo=sigopt_suggest, max_evals=evals, trials=Trials(), rstate=np.random.default_rng(seed),
         show_progressbar=False, metrics=sigopt_metrics(problem))


def optuna_sampler(algorithm: str, seed: int, constraints: Any) -> Any:
    import optuna

    if algorithm == "optuna_gp":
        import torch

        torch.set_num_threads(1)  # one core per run, like the others
        return optuna.samplers.GPSampler(seed=seed, constraints_func=constraints)
    if algorithm == "optuna_tpe":
        return optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)
    if algorithm == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=NSGA2_POPULATION, constraints_func=constraints)
    if algorithm == "rand":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown algorithm {algorithm!r}")


def run_optuna(problem: MultiProblem, algorithm: str, recorder: Recorder, evals: int, seed: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    limits = [m for m in problem.metrics if m.threshold is not None]

    def constraints(trial: Any) -> list[float]:
        return trial.user_attrs["violations"]

    sampler = optuna_sampler(algorithm, seed, constraints if limits else None)
    study = optuna.create_study(directions=[m.objective for m in problem.optimized], sampler=sampler)

    def objective(trial: Any) -> tuple[float, ...]:
        values = recorder(problem.optuna_params(trial))
        trial.set_user_attr("violations", [m.violation(values[m.name]) for m in limits])
        return tuple(values[m.name] for m in problem.optimized)

    study.optimize(objective, n_trials=evals)


def run_one(problem_name: str, algorithm: str, seed: int, evals: int, results: Path) -> Path:
    problem = MULTIMETRIC[problem_name]
    recorder = Recorder(problem)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if algorithm == "sigopt":
            run_sigopt(problem, recorder, evals, seed)
        else:
            run_optuna(problem, algorithm, recorder, evals, seed)
    record = {"problem": problem_name, "algorithm": algorithm, "seed": seed, "evaluations": recorder.evaluations,
              "seconds": time.perf_counter() - started, "objective_seconds": recorder.objective_seconds}
    path = result_path(results, problem_name, algorithm, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def warm_up() -> None:
    """Import what the runs use before timing any (see benchmarks/suite.py's ``warm_up``)."""
    import hyperopt  # noqa: F401
    import optuna  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import torch  # noqa: F401
    from optuna.samplers import GPSampler  # noqa: F401

    from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine  # noqa: F401  (imports libsigopt)


def _task(task: tuple) -> str:
    problem, algorithm, seed, evals, results = task
    try:
        run_one(problem, algorithm, seed, evals, Path(results))
    except Exception as error:  # one failed run must not lose the others; the report shows the gap
        logger.exception("run %s %s %s failed", problem, algorithm, seed)
        return f"{problem} {algorithm} {seed}: {error!r}"
    return ""


def plan(problems: list[str], algorithms: list[str], seeds: list[int], evals: int, results: Path,
         redo: set[str]) -> list[tuple]:
    """The runs still missing, seed by seed (a run cut short has every problem at the same seeds); the
    slow GP columns first within a seed, so the two cores finish together."""
    slow_first = sorted(algorithms, key=lambda a: a not in ("optuna_gp", "sigopt"))
    return [(problem, algorithm, seed, evals, str(results))
            for seed in seeds for problem in problems for algorithm in slow_first
            if algorithm in redo or stored_evals(result_path(results, problem, algorithm, seed)) < evals]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="*", default=list(MULTIMETRIC), choices=list(MULTIMETRIC))
    parser.add_argument("--algorithms", nargs="*", default=list(ALGORITHMS), choices=list(ALGORITHMS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--evals", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2: this machine's cores)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="directory of the per-run files")
    parser.add_argument("--redo", nargs="*", default=[], choices=list(ALGORITHMS),
                        help="run these columns again even where results exist")
    parser.add_argument("--report-only", action="store_true", help="rewrite the docs from the stored runs")
    parser.add_argument("--no-report", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    if not args.report_only:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        tasks = plan(args.problems, args.algorithms, seeds, args.evals, args.results, set(args.redo))
        failures = []
        with Pool(args.jobs, initializer=warm_up) as pool:
            for failure in tqdm(pool.imap_unordered(_task, tasks), total=len(tasks), desc="multimetric runs"):
                if failure:
                    failures.append(failure)
        for failure in failures:
            print("failed:", failure)
    if not args.no_report:
        from .multimetric_report import write_report

        write_report(args.results)


if __name__ == "__main__":
    main()
