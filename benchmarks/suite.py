"""The quality suite: synthetic functions and Bayesmark's scikit-learn problems, six algorithms, paired by seed.

Run (the whole suite, 10 seeds x 40 evaluations, two runs at a time):

    uv run --group bench --group peers python -m benchmarks.suite --baseline /path/to/old/checkout

Options: ``--problems NAME...`` (or ``--suites synthetic bayesmark``), ``--algorithms ...`` (``sigopt``
this checkout, ``sigopt_before`` the ``--baseline`` checkout's, ``optuna_gp`` Optuna's GPSampler,
``optuna_tpe`` Optuna's TPESampler, ``tpe`` hyperopt's TPE, ``rand`` hyperopt's random search),
``--seeds N`` (``--first-seed S``), ``--evals N``, ``--jobs N``, ``--results DIR``.

Every (problem, algorithm, seed) run is one file under ``DIR/<suite>/`` (default
benchmarks/results/suite/); a run already there with at least ``--evals`` evaluations is skipped, so
re-running fills gaps.  After an engine change, ``--algorithms sigopt --redo sigopt`` replaces that
column only.  ``--report-only`` rewrites the docs from the stored runs.  At the end the report
(benchmarks/suite_report.py) writes its sections into docs/benchmarks.md.

The seed fixes everything an algorithm draws and, for the noisy problem, the noise sequence, so
columns compare run for run.  Each run records its losses, the noiseless values, its wall time and
the time spent inside the objective: their difference is the algorithm's own time per evaluation,
measured in the same run as every other column.
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

from .problems import Problem
from .sklearn_tuning import BAYESMARK
from .synthetic import SYNTHETIC

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).parent / "results" / "suite"
SUITES: dict[str, dict[str, Problem]] = {"synthetic": SYNTHETIC, "bayesmark": BAYESMARK}
PROBLEMS: dict[str, Problem] = {name: p for suite in SUITES.values() for name, p in suite.items()}
ALGORITHMS = ("sigopt", "sigopt_before", "optuna_gp", "optuna_tpe", "tpe", "rand")
BASELINE_BATCH = 5
"""Seeds of one problem the baseline runs per process (a process start imports the whole stack)."""


def algorithm_name(name: str) -> str:
    """An algorithm column: one of ALGORITHMS, ``sigopt:+a,-b`` (the engine with options a on, b off), either
    of those with ``@probe`` (a measurement of :mod:`benchmarks.engine_probes`)."""
    from .engine_probes import split

    base, _ = split(name)
    if base in ALGORITHMS or base.startswith("sigopt:"):
        return name
    raise argparse.ArgumentTypeError(f"unknown algorithm {name!r}; known: {', '.join(ALGORITHMS)}, sigopt:+NAME,-NAME")


def suite_of(problem: str) -> str:
    return next(name for name, problems in SUITES.items() if problem in problems)


def result_path(results: Path, problem: str, algorithm: str, seed: int) -> Path:
    return Path(results) / suite_of(problem) / f"{problem}-{algorithm}-{seed}.json"


def stored_evals(path: Path) -> int:
    try:
        return len(json.loads(path.read_text())["losses"])
    except (OSError, ValueError, KeyError):
        return 0


@dataclass
class Recorder:
    """The objective as the algorithm sees it: noise added (seeded), every value and its cost kept."""

    problem: Problem
    seed: int
    losses: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    objective_seconds: float = 0.0

    def __post_init__(self) -> None:
        self._noise = np.random.default_rng([self.seed, 104729])

    def __call__(self, params: dict[str, Any]) -> float:
        started = time.perf_counter()
        value = float(self.problem.objective(params))
        self.objective_seconds += time.perf_counter() - started
        if not math.isfinite(value):
            raise ValueError(f"{self.problem.name} returned {value} for {params}")
        loss = value + (self.problem.noise * float(self._noise.standard_normal()) if self.problem.noise else 0.0)
        self.values.append(value)
        self.losses.append(loss)
        return loss


def run_hyperopt(problem: Problem, algorithm: str, recorder: Recorder, evals: int) -> None:
    from hyperopt import Trials, fmin, rand, tpe

    from sigopt_hyperopt import sigopt_suggest

    from .engine_probes import applied, split

    algorithm, probe = split(algorithm)
    if algorithm.startswith("sigopt"):
        from .ablation import engine_options

        engine = embedded_engine_class()
        if hasattr(engine, "options"):  # a baseline checkout may have no switchable ingredients
            # A pool process runs one search at a time: the class attribute is the variant's switch.
            engine.options = engine_options(algorithm)
        algorithm = "sigopt"
    algo = {"sigopt": sigopt_suggest, "tpe": tpe.suggest, "rand": rand.suggest}[algorithm]
    with applied(probe):
        fmin(lambda params: recorder(problem.from_hyperopt(params)), problem.hyperopt_space(), algo=algo,
             max_evals=evals, trials=Trials(), rstate=np.random.default_rng(recorder.seed), show_progressbar=False)


def run_optuna(problem: Problem, algorithm: str, recorder: Recorder, evals: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if algorithm == "optuna_gp":
        import torch

        torch.set_num_threads(1)  # one core per run, like the others
        sampler = optuna.samplers.GPSampler(seed=recorder.seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=recorder.seed)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda trial: recorder(problem.optuna_params(trial)), n_trials=evals)


def run_one(problem_name: str, algorithm: str, seed: int, evals: int, results: Path, label: str | None = None) -> Path:
    """One run, in this process; ``label`` names the column it is stored under (default: ``algorithm``)."""
    problem = PROBLEMS[problem_name]
    recorder = Recorder(problem, seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if algorithm.startswith("optuna"):
            run_optuna(problem, algorithm, recorder, evals)
        else:
            run_hyperopt(problem, algorithm, recorder, evals)
    seconds = time.perf_counter() - started
    record = {"problem": problem_name, "algorithm": label or algorithm, "seed": seed, "losses": recorder.losses,
              "seconds": seconds, "objective_seconds": recorder.objective_seconds}
    if problem.noise:
        record["values"] = recorder.values
    path = result_path(results, problem_name, label or algorithm, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def run_baseline(problem_name: str, seeds: list[int], evals: int, results: Path, baseline: str | None) -> None:
    """``sigopt_suggest`` of the baseline checkout: this module, run in a process that imports that package."""
    from .checkout import import_root, popen
    from .errors import BenchmarkError

    if baseline is None:
        raise BenchmarkError("sigopt_before needs --baseline PATH (a checkout of the code before the change)")
    with import_root(Path(baseline)) as root:
        process = popen(Path(baseline), root, "benchmarks.suite", "--child", problem_name, "sigopt_before",
                        *map(str, seeds), "--evals", str(evals), "--results", str(Path(results).resolve()))
        if process.wait() != 0:
            raise BenchmarkError(f"the baseline runs of {problem_name}, seeds {seeds}, failed "
                                 f"(exit {process.returncode})")


def warm_up() -> None:
    """Import everything a run uses before timing anything: a run's seconds must not include the first
    import of torch, libsigopt or scikit-learn (seconds on a loaded machine) in whichever run came first."""
    import hyperopt  # noqa: F401
    import optuna  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import sklearn.neural_network  # noqa: F401
    import sklearn.svm  # noqa: F401
    import torch  # noqa: F401
    from optuna.samplers import GPSampler  # noqa: F401

    embedded_engine_class()  # fetches and imports libsigopt


def embedded_engine_class() -> type:
    """The embedded engine's class, in this checkout or in a baseline from before the ``engines/`` folder."""
    try:
        from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
    except ImportError:
        from sigopt_hyperopt.embedded import EmbeddedEngine
    return EmbeddedEngine


def _task(task: tuple) -> str:
    problem, algorithm, seeds, evals, results, baseline = task
    try:
        if algorithm == "sigopt_before":
            run_baseline(problem, seeds, evals, Path(results), baseline)
        else:
            for seed in seeds:
                run_one(problem, algorithm, seed, evals, Path(results))
    except Exception as error:  # one failed run must not lose the others; the report shows the gap
        logger.exception("run %s %s %s failed", problem, algorithm, seeds)
        return f"{problem} {algorithm} {seeds}: {error!r}"
    return ""


def plan(problems: list[str], algorithms: list[str], seeds: list[int], evals: int, results: Path,
         redo: set[str], baseline: str | None) -> list[tuple]:
    """The runs still missing, seed blocks first: a run cut short has every problem at the same seeds."""
    tasks = []
    for start in range(0, len(seeds), BASELINE_BATCH):
        block = seeds[start:start + BASELINE_BATCH]
        for problem in problems:
            for algorithm in algorithms:
                missing = [s for s in block if algorithm in redo
                           or stored_evals(result_path(results, problem, algorithm, s)) < evals]
                if not missing:
                    continue
                if algorithm == "sigopt_before":
                    tasks.append((problem, algorithm, missing, evals, str(results), baseline))
                else:
                    tasks.extend((problem, algorithm, [s], evals, str(results), baseline) for s in missing)
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", nargs="*", default=list(SUITES), choices=list(SUITES))
    parser.add_argument("--problems", nargs="*", help="problem names (default: every problem of --suites)")
    parser.add_argument("--algorithms", nargs="*", default=list(ALGORITHMS), type=algorithm_name,
                        help=f"of {', '.join(ALGORITHMS)}; or sigopt:+NAME,-NAME for the engine with options switched")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--evals", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2: this machine's cores)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="directory of the per-run files")
    parser.add_argument("--baseline", type=Path, help="checkout of the old code, for the sigopt_before column")
    parser.add_argument("--redo", nargs="*", default=[], type=algorithm_name,
                        help="run these columns again even where results exist (after an engine change)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the docs from the stored runs")
    parser.add_argument("--no-report", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--child", nargs="+", metavar="ARG", help=argparse.SUPPRESS)  # PROBLEM LABEL SEED...: how
    args = parser.parse_args()  # --baseline runs the old package, in a process that imports it
    if args.child:
        problem, label, *seeds = args.child
        warm_up()
        for seed in seeds:
            run_one(problem, "sigopt", int(seed), args.evals, args.results, label=label)
        return
    problems = args.problems or [name for suite in args.suites for name in SUITES[suite]]
    unknown = sorted(set(problems) - set(PROBLEMS))
    if unknown:
        parser.error(f"unknown problems {unknown}; known: {sorted(PROBLEMS)}")
    if not args.report_only:
        baseline = str(args.baseline.resolve()) if args.baseline else None
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        tasks = plan(problems, args.algorithms, seeds, args.evals, args.results, set(args.redo), baseline)
        failures = []
        with Pool(args.jobs, initializer=warm_up) as pool:
            for failure in tqdm(pool.imap_unordered(_task, tasks), total=len(tasks), desc="suite runs"):
                if failure:
                    failures.append(failure)
        for failure in failures:
            print("failed:", failure)
    if not args.no_report:
        from .suite_report import write_suite_report

        write_suite_report(args.results, evals=args.evals)


if __name__ == "__main__":
    main()
