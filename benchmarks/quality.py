"""Search quality: sigopt_suggest against hyperopt's tpe, rand and anneal, and Optuna's samplers.

Run:  uv run --group bench python -m benchmarks.quality [--seeds 5] [--evals 80] [--jobs 2]

Before/after a change to the engine, in one run on this machine, with Optuna's GPSampler:

    git worktree add ../before <old commit>
    uv run --group bench --group peers python -m benchmarks.quality --results benchmarks/results/quality-speed \
        --seeds 10 --evals 40 --algorithms sigopt sigopt_before optuna_gp tpe --baseline ../before

``sigopt_before`` is ``sigopt_suggest`` from the ``--baseline`` checkout (see benchmarks/checkout.py);
``optuna_gp`` is Optuna's ``GPSampler`` (needs the ``peers`` group: torch, greenlet).

Each (problem, algorithm, seed) run stores its loss sequence in the results directory and is
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
ALGORITHMS = ("sigopt", "tpe", "rand", "anneal", "optuna", "optuna_gp", "sigopt_before")


def run_hyperopt(problem: Problem, algorithm: str, seed: int, evals: int) -> list[float]:
    from hyperopt import Trials, anneal, fmin, rand, tpe

    from sigopt_hyperopt import sigopt_suggest

    algo = {"sigopt": sigopt_suggest, "tpe": tpe.suggest, "rand": rand.suggest, "anneal": anneal.suggest}[algorithm]
    trials = Trials()
    fmin(problem.objective, problem.hyperopt_space(), algo=algo, max_evals=evals, trials=trials,
         rstate=np.random.default_rng(seed), show_progressbar=False)
    return [float(t["result"]["loss"]) for t in sorted(trials.trials, key=lambda t: t["tid"])]


def run_optuna(problem: Problem, seed: int, evals: int, sampler: str = "tpe") -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler == "gp":
        import torch

        torch.set_num_threads(1)  # one core per run, like the others
        chosen = optuna.samplers.GPSampler(seed=seed)
    else:
        chosen = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(sampler=chosen)
    study.optimize(lambda trial: problem.objective(problem.optuna_params(trial)),
                   n_trials=evals)
    return [float(t.value) for t in study.trials]


def run_one(task: tuple[str, str, int, int, str, str | None]) -> Path:
    problem_name, algorithm, seed, evals, results, baseline = task
    path = Path(results) / f"{problem_name}-{algorithm}-{seed}.json"
    if path.exists():
        return path
    if algorithm == "sigopt_before":
        from .checkout import baseline_run

        return baseline_run("benchmarks.quality", problem_name, seed, evals, path, baseline)
    problem = PROBLEMS[problem_name]
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if algorithm in ("optuna", "optuna_gp"):
            losses = run_optuna(problem, seed, evals, "gp" if algorithm == "optuna_gp" else "tpe")
        else:
            losses = run_hyperopt(problem, algorithm, seed, evals)
    record = {"problem": problem_name, "algorithm": algorithm, "seed": seed, "losses": losses,
              "seconds": time.perf_counter() - started}
    path.write_text(json.dumps(record))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="add seeds to an earlier run without redoing it")
    parser.add_argument("--evals", type=int, default=80)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2: this machine's cores)")
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--algorithms", nargs="*", default=["sigopt", "tpe", "rand", "anneal", "optuna"],
                        choices=ALGORITHMS)
    parser.add_argument("--results", type=Path, default=RESULTS, help="directory of the per-run files")
    parser.add_argument("--baseline", type=Path, help="checkout of the old code, for the sigopt_before column")
    parser.add_argument("--single", nargs=4, metavar=("PROBLEM", "ALGORITHM", "SEED", "EVALS"),
                        help=argparse.SUPPRESS)  # one run, in this process (how --baseline runs the old code)
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    if args.single:
        problem, algorithm, seed, evals = args.single
        run_one((problem, algorithm, int(seed), int(evals), str(args.results), None))
        return
    baseline = str(args.baseline.resolve()) if args.baseline else None
    # Seed by seed, algorithms side by side: the two runs in flight share the machine's load, so
    # before/after (and peer) wall times stay comparable on a machine others are using too.
    tasks = [(p, a, s, args.evals, str(args.results), baseline)
             for s in range(args.first_seed, args.first_seed + args.seeds) for p in args.problems for a in args.algorithms]
    with Pool(args.jobs, maxtasksperchild=1) as pool:
        for _ in tqdm(pool.imap_unordered(run_one, tasks), total=len(tasks), desc="quality runs"):
            pass
    if args.results.resolve() == RESULTS.resolve():
        from .report import write_report

        write_report()
    else:
        from .speed_report import write_speed_report

        write_speed_report(args.results)


if __name__ == "__main__":
    main()
