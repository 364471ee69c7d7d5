"""The embedded engine's ingredients, one at a time: what each buys, paired by seed, against peers.

Run (one run, interleaved, BLAS on one thread; where ``PYTHONDONTWRITEBYTECODE`` is set, as on
the benchmark machine, also set ``PYTHONPYCACHEPREFIX`` and unset it, or every run compiles its
imports again):

    uv run --group bench --group peers python -m benchmarks.ablation --baseline /work/baseline-main \
        --seeds 10 --evals 40 [--problems ...] [--algorithms ...]

Columns: ``sigopt`` (the engine's defaults), ``sigopt:-NAME`` (the defaults with ingredient NAME of
:class:`~sigopt_hyperopt.engines.embedded.options.EngineOptions` switched off, e.g. ``sigopt:-output_warping``),
``sigopt_before`` (the ``--baseline`` checkout's ``sigopt_suggest``), ``optuna_gp`` (Optuna's
GPSampler) and ``rand`` (hyperopt's random search).  Each run is stored under
``benchmarks/results/ablation/`` and skipped when its file exists; ``--report`` rewrites the section
of docs/benchmarks.md from the stored runs only.

The problems are quality.py's Branin and Hartmann6 plus functions chosen for what the engine was
weak at: low-dimensional multimodal (Hartmann3, Ackley5, Levy5), a heavy-tailed loss (Rosenbrock4,
values over five decades), a noisy one and a mixed log/int/categorical one.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.pop("SIGOPT_API_TOKEN", None)

import argparse
import dataclasses
import datetime
import json
import math
import time
import warnings
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
from hyperopt import hp
from tqdm import tqdm

from .problems import PROBLEMS as QUALITY_PROBLEMS
from .problems import Dimension, Problem, hartmann6

RESULTS = Path(__file__).parent / "results" / "ablation"


@dataclass(frozen=True)
class Categorical:
    """A categorical dimension (problems.Dimension has none), rendered for hyperopt and Optuna."""

    name: str
    choices: tuple[str, ...]

    def hyperopt(self) -> Any:
        return hp.choice(self.name, list(self.choices))

    def optuna(self, trial: Any) -> str:
        return trial.suggest_categorical(self.name, list(self.choices))


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann3(p: dict[str, float]) -> float:
    x = np.array([p[f"x{i}"] for i in range(3)])
    return float(-np.sum(_ALPHA * np.exp(-np.sum(_H3_A * (x - _H3_P) ** 2, axis=1))))


def ackley5(p: dict[str, float]) -> float:
    x = np.array([p[f"x{i}"] for i in range(5)])
    return float(-20 * np.exp(-0.2 * np.sqrt(np.mean(x**2))) - np.exp(np.mean(np.cos(2 * np.pi * x))) + 20 + np.e)


def levy5(p: dict[str, float]) -> float:
    w = 1 + (np.array([p[f"x{i}"] for i in range(5)]) - 1) / 4
    middle = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
    return float(np.sin(np.pi * w[0]) ** 2 + middle + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2))


def rosenbrock4(p: dict[str, float]) -> float:
    x = np.array([p[f"x{i}"] for i in range(4)])
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def noisy_hartmann6(p: dict[str, float]) -> float:
    """Hartmann6 plus Gaussian noise (sd 0.1, a tenth of a typical early gap), seeded by the point."""
    rng = np.random.default_rng(abs(hash(tuple(round(p[f"x{i}"], 12) for i in range(6)))) % 2**32)
    return hartmann6(p) + 0.1 * float(rng.normal())


_MIXED_OFFSET = {"adam": 0.0, "sgd": 0.4, "rmsprop": 0.15}


def mixed4(p: dict[str, Any]) -> float:
    """A model-tuning-like mix: a log-scaled rate, an integer width, a categorical and a fraction."""
    rate = math.log10(float(p["rate"]))
    return ((rate + 2.5) ** 2 / 2 + (float(p["units"]) - 23) ** 2 / 200 + _MIXED_OFFSET[str(p["optimizer"])]
            + 2 * (float(p["dropout"]) - 0.3) ** 2 + 0.1 * math.sin(3 * rate) ** 2)


def _box(prefix: str, count: int, low: float, high: float) -> tuple[Dimension, ...]:
    return tuple(Dimension(f"{prefix}{i}", "float", low, high) for i in range(count))


PROBLEMS: dict[str, Problem] = {
    "branin": QUALITY_PROBLEMS["branin"],
    "hartmann6": QUALITY_PROBLEMS["hartmann6"],
    "hartmann3": Problem("hartmann3", _box("x", 3, 0, 1), hartmann3, -3.86278),
    "ackley5": Problem("ackley5", _box("x", 5, -5, 10), ackley5, 0.0),
    "levy5": Problem("levy5", _box("x", 5, -10, 10), levy5, 0.0),
    "rosenbrock4": Problem("rosenbrock4", _box("x", 4, -2, 2), rosenbrock4, 0.0),
    "noisy_hartmann6": Problem("noisy_hartmann6", _box("x", 6, 0, 1), noisy_hartmann6, None),
    "mixed4": Problem("mixed4", (Dimension("rate", "logfloat", 1e-5, 1.0), Dimension("units", "int", 4, 64),
                                 Categorical("optimizer", tuple(_MIXED_OFFSET)), Dimension("dropout", "float", 0, 0.8)),
                      mixed4, None),
}
"""``None`` optimum: regret against the best loss any run found (noisy; or mixed4, whose rounding
makes the exact optimum a matter of the grid)."""


def engine_options(algorithm: str):
    """The EngineOptions an algorithm name selects: ``sigopt`` the defaults, ``sigopt:-a,-b`` without a and b."""
    try:
        from sigopt_hyperopt.engines.embedded.options import DEFAULT_OPTIONS
    except ImportError:  # a baseline checkout from before the engines/ folder
        from sigopt_hyperopt.engine_options import DEFAULT_OPTIONS

    if ":" not in algorithm:
        return DEFAULT_OPTIONS
    changes = {}
    for item in algorithm.split(":", 1)[1].split(","):
        name = item.lstrip("-+")
        if name not in {f.name for f in dataclasses.fields(DEFAULT_OPTIONS)}:
            raise SystemExit(f"unknown engine option {name!r}")
        changes[name] = not item.startswith("-")
    return dataclasses.replace(DEFAULT_OPTIONS, **changes)


def _run(problem: Problem, algorithm: str, seed: int, evals: int) -> list[float]:
    from .quality import run_hyperopt, run_optuna

    if algorithm == "optuna_gp":
        return run_optuna(problem, seed, evals, "gp")
    if algorithm.startswith("sigopt"):
        from .suite import embedded_engine_class

        EmbeddedEngine = embedded_engine_class()
        if hasattr(EmbeddedEngine, "options"):  # the baseline checkout has no options
            # This process runs this one search only (the pool starts one per task): the class
            # attribute is the ablation's switch, set before the engine is built.
            EmbeddedEngine.options = engine_options(algorithm)
        return run_hyperopt(problem, "sigopt", seed, evals)
    return run_hyperopt(problem, algorithm, seed, evals)


def _import_for(algorithm: str) -> None:
    import hyperopt  # noqa: F401

    if algorithm == "optuna_gp":
        import optuna  # noqa: F401
        import optuna._gp.gp  # noqa: F401
        import torch  # noqa: F401
    elif algorithm.startswith("sigopt"):
        import sigopt_hyperopt.engines.embedded.engine  # noqa: F401


def run_one(task: tuple[str, str, int, int, str, str | None]) -> Path:
    problem_name, algorithm, seed, evals, results, baseline = task
    path = Path(results) / f"{problem_name}-{algorithm}-{seed}.json"
    if path.exists():
        return path
    if algorithm == "sigopt_before":
        from .checkout import baseline_run

        return baseline_run("benchmarks.ablation", problem_name, seed, evals, path, baseline)
    _import_for(algorithm)  # imports are not part of the time per evaluation
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        losses = _run(PROBLEMS[problem_name], algorithm, seed, evals)
    record = {"problem": problem_name, "algorithm": algorithm, "seed": seed, "losses": losses,
              "seconds": time.perf_counter() - started}
    path.write_text(json.dumps(record))
    return path


# -- the report -----------------------------------------------------------------------------------

def _load(results: Path) -> dict[str, dict[str, dict[int, dict]]]:
    runs: dict[str, dict[str, dict[int, dict]]] = {}
    for path in sorted(results.glob("*.json")):
        record = json.loads(path.read_text())
        runs.setdefault(record["problem"], {}).setdefault(record["algorithm"], {})[record["seed"]] = record
    return runs


def _regrets(problem: str, by_algorithm: dict[str, dict[int, dict]], at: int) -> dict[str, dict[int, float]]:
    optimum = PROBLEMS[problem].optimum
    if optimum is None:
        optimum = min(min(r["losses"]) for runs in by_algorithm.values() for r in runs.values())
    return {a: {s: float(min(r["losses"][:at]) - optimum) for s, r in runs.items()} for a, runs in by_algorithm.items()}


def _paired(after: dict[int, float], before: dict[int, float]) -> tuple[int, int, float]:
    from scipy.stats import wilcoxon

    seeds = sorted(set(after) & set(before))
    a = np.array([after[s] for s in seeds])
    b = np.array([before[s] for s in seeds])
    try:
        p = float(wilcoxon(a, b, zero_method="zsplit").pvalue)
    except ValueError:
        p = float("nan")
    return int(np.sum(a < b)), int(np.sum(a > b)), p


def _bootstrap(after: dict[int, float], before: dict[int, float], rng: np.random.Generator) -> tuple[float, float]:
    seeds = sorted(set(after) & set(before))
    a = np.array([after[s] for s in seeds])
    b = np.array([before[s] for s in seeds])
    picks = rng.integers(0, len(seeds), size=(2000, len(seeds)))
    low, high = np.percentile(np.median(a[picks], axis=1) - np.median(b[picks], axis=1), [2.5, 97.5])
    return float(low), float(high)


def section(results: Path = RESULTS, at: int = 40) -> str:
    from .report import machine

    runs = _load(results)
    if not runs:
        return "No results yet: run the command above."
    rng = np.random.default_rng(0)
    algorithms = sorted({a for p in runs.values() for a in p}, key=lambda a: (not a.startswith("sigopt"),
                                                                             a != "sigopt", a))
    lines = [f"Machine: {machine()}. Written {datetime.date.today().isoformat()}. BLAS on one thread; "
             "two runs at a time on 2 cores shared with other agents' work.", "",
             f"Median best-so-far regret at {at} evaluations over seeds (lower is better; bold: best in the row; "
             "in parentheses the number of seeds of a column that has fewer than `sigopt`).", ""]
    header = "| problem | seeds | " + " | ".join(f"`{a}`" for a in algorithms) + " |"
    lines += [header, "|---|---|" + "---|" * len(algorithms)]
    paired_rows = []
    for problem in PROBLEMS:
        if problem not in runs or "sigopt" not in runs[problem]:
            continue
        present = [a for a in algorithms if a in runs[problem]]
        # Each column over all of its seeds; each comparison below over the seeds both columns have.
        regrets = _regrets(problem, runs[problem], at)
        medians = {a: float(np.median(list(regrets[a].values()))) for a in present}
        best = min(medians.values())
        cells = [(f"**{medians[a]:.3g}**" if medians[a] == best else f"{medians[a]:.3g}")
                 + ("" if len(regrets[a]) == len(regrets["sigopt"]) else f" ({len(regrets[a])})")
                 if a in medians else "–" for a in algorithms]
        lines.append(f"| {problem} | {len(regrets['sigopt'])} | " + " | ".join(cells) + " |")
        comparisons = []
        for other in algorithms:
            if other == "sigopt" or other not in present:
                comparisons.append("–")
                continue
            wins, losses, p = _paired(regrets["sigopt"], regrets[other])
            low, high = _bootstrap(regrets["sigopt"], regrets[other], rng)
            comparisons.append(f"{wins}/{losses}, p = {p:.2g} [{low:+.2g}, {high:+.2g}]")
        paired_rows.append(f"| {problem} | " + " | ".join(comparisons) + " |")
    lines += ["", "Paired by seed, `sigopt` against each column: lower/higher in how many seeds, Wilcoxon p, "
              "95 % bootstrap interval of the difference of medians (negative: `sigopt` better).", "",
              "| problem | " + " | ".join(f"`{a}`" for a in algorithms) + " |",
              "|---|" + "---|" * len(algorithms)] + paired_rows
    lines += ["", "Seconds per evaluation (median over seeds of a whole search's wall time / evaluations; "
              "the objectives cost microseconds):", "",
              "| problem | " + " | ".join(f"`{a}`" for a in algorithms) + " |",
              "|---|" + "---|" * len(algorithms)]
    for problem in PROBLEMS:
        if problem not in runs:
            continue
        cells = []
        for a in algorithms:
            records = runs[problem].get(a, {}).values()
            cells.append(f"{np.median([r['seconds'] / len(r['losses']) for r in records]):.3f}" if records else "–")
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


NOTES = """What the tables say (run of 2026-12-02, 10 seeds for the main columns, 5 for the ablation
columns, 40 evaluations; the machine's load varied from 6 to 12 on 2 cores, so seconds are
comparable only within a row):

- **Targets not met.** Against Optuna's GPSampler the defaults are significantly worse on
  Hartmann3 and mixed4 (higher regret in 10 of 10 seeds, p = 0.002: GPSampler refines the optimum
  to 2e-5..5e-5, this engine to 3e-4..1.5e-3), tied on Ackley5 (5 of 10 each way) and behind on the noisy
  Hartmann6 (median 0.245 against 0.147, 4/6, p = 0.23). Against the engine before this work
  (`sigopt_before`) nothing is significant: Hartmann3 5/5, noisy 5/5 (median 0.245 against 0.326),
  mixed4 4/6, Ackley5 3/7 (median 3.19 against 2.03, p = 0.32). Every column beats random search
  (p <= 0.004).
- **Output warping** is the one ingredient with a consistent effect: without it mixed4 is 20 times
  worse (0.032 against 0.0015, all 5 seeds) and the noisy Hartmann6 worse (0.40 against 0.25, 4 of 5).
- **Fitted noise + posterior-mean incumbent**: better on the noisy problem (0.25 against 0.67,
  3 of 5), worse on Ackley5 (3.2 against 2.45): the nugget smooths Ackley's ripples. Not significant
  either way at 5 seeds.
- **logEI + batched L-BFGS-B**: better medians on Hartmann3 and the noisy problem, worse on mixed4
  (0.0015 against 0.0005); nothing significant.
- **Warm refits**: no measurable quality effect (Hartmann3 0.0003 either way, mixed4 4/1 for it),
  and they halve the time of a 40-evaluation search (0.35 against 0.88 s per evaluation in this run).
- **Time per evaluation**: 0.33-0.54 s against GPSampler's 0.38-1.26 s and the old engine's
  1.1-1.45 s in the same run (a loaded machine: the same searches take a fifth of that when it is
  quiet). At or below GPSampler on Hartmann3 and mixed4, up to 1.2 times its time on Ackley5 and
  the noisy problem.
- **Why GPSampler still wins on precision** is not established. Not the noise model (switching it off
  does not close the gap on Hartmann3) and not the acquisition search (logEI with L-BFGS-B and the Adam
  polish give the same). Left to test: libsigopt's hyperparameter fit (SLSQP with `ftol=1e-2`, bare
  maximum likelihood, length scales bounded to the domain's width) against GPSampler's MAP fit with
  priors; a Sobol initial design; a fit on warped inputs.
"""
"""What the tables say, written after the run (kept with the code that makes the tables)."""


def write_section(results: Path = RESULTS, notes: str = "") -> None:
    from .report import DOC, HEADER, replace_section

    text = DOC.read_text() if DOC.exists() else HEADER
    body = ("## Embedded engine: ablation of its ingredients\n\nCommand: `uv run --group bench --group peers "
            "python -m benchmarks.ablation --baseline PATH --seeds 10 --evals 40` (PATH: a checkout of the "
            "code before the change).\n\n" + section(results) + ("\n\n" + notes if notes else ""))
    DOC.write_text(replace_section(text, "engine-ablation", body))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--evals", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--algorithms", nargs="*", default=["sigopt", "sigopt_before", "optuna_gp", "rand"])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--report", action="store_true", help="only rewrite the docs section from stored runs")
    parser.add_argument("--single", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    if args.single:
        problem, algorithm, seed, evals = args.single
        run_one((problem, algorithm, int(seed), int(evals), str(args.results), None))
        return
    if not args.report:
        baseline = str(args.baseline.resolve()) if args.baseline else None
        tasks = [(p, a, s, args.evals, str(args.results), baseline)
                 for s in range(args.first_seed, args.first_seed + args.seeds) for p in args.problems
                 for a in args.algorithms]
        with Pool(args.jobs, maxtasksperchild=1) as pool:
            for _ in tqdm(pool.imap_unordered(run_one, tasks), total=len(tasks), desc="ablation runs"):
                pass
    write_section(args.results, NOTES)
    print(section(args.results))


if __name__ == "__main__":
    main()
