"""Search quality: sigopt_suggest against hyperopt's tpe, rand and anneal, and Optuna's default sampler.

Run:  uv run --group bench python -m benchmarks.quality [--seeds 5] [--evals 80] [--jobs 2]

Each (problem, algorithm, seed) run stores its loss sequence in benchmarks/results/quality/ and is
skipped when its file exists, so an interrupted run resumes and the report can be rebuilt without
re-running anything (``python -m benchmarks.report``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per run; runs go in parallel instead
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.pop("SIGOPT_API_TOKEN", None)  # always the embedded engine

import argparse
import json
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .problems import PROBLEMS, Problem

RESULTS = Path(__file__).parent / "results" / "quality"
ALGORITHMS = ("sigopt", "tpe", "rand", "anneal", "optuna")


def run_hyperopt(problem: Problem, algorithm: str, seed: int, evals: int) -> list[float]:
    from hyperopt import Trials, anneal, fmin, rand, tpe

    from sigopt_hyperopt import sigopt_suggest

    algo = {"sigopt": sigopt_suggest, "tpe": tpe.suggest, "rand": rand.suggest, "anneal": anneal.suggest}[algorithm]
    trials = Trials()
    fmin(problem.objective, problem.hyperopt_space(), algo=algo, max_evals=evals, trials=trials,
         rstate=np.random.default_rng(seed), show_progressbar=False)
    return [float(t["result"]["loss"]) for t in sorted(trials.trials, key=lambda t: t["tid"])]


def run_optuna(problem: Problem, seed: int, evals: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(lambda trial: problem.objective({d.name: d.optuna(trial) for d in problem.dimensions}),
                   n_trials=evals)
    return [float(t.value) for t in study.trials]


def run_one(task: tuple[str, str, int, int]) -> Path:
    problem_name, algorithm, seed, evals = task
    path = RESULTS / f"{problem_name}-{algorithm}-{seed}.json"
    if path.exists():
        return path
    problem = PROBLEMS[problem_name]
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        losses = run_optuna(problem, seed, evals) if algorithm == "optuna" else run_hyperopt(problem, algorithm, seed, evals)
    record = {"problem": problem_name, "algorithm": algorithm, "seed": seed, "losses": losses,
              "seconds": time.perf_counter() - started}
    path.write_text(json.dumps(record))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--evals", type=int, default=80)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2: this machine's cores)")
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--algorithms", nargs="*", default=list(ALGORITHMS))
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    # Slowest first, so the pool does not end on one long run.
    tasks = [(p, a, s, args.evals) for a in args.algorithms for p in args.problems for s in range(args.seeds)]
    with Pool(args.jobs, maxtasksperchild=1) as pool:
        for _ in tqdm(pool.imap_unordered(run_one, tasks), total=len(tasks), desc="quality runs"):
            pass
    from .report import write_report

    write_report()


if __name__ == "__main__":
    main()
