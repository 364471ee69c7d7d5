"""docs/benchmarks.md sections for the quality suite (benchmarks/suite.py), from its stored runs.

Per suite: median regret per problem and column at the report's evaluation counts, Bayesmark's
normalized score (100 = the best loss any run found, 0 = random search's median best at the same
count), paired comparisons of ``sigopt`` against GPSampler and against ``sigopt_before`` (wins,
Wilcoxon signed-rank p, bootstrap interval of the median regret difference), the algorithms' own
seconds per evaluation from the same run, and a convergence plot.

Run:  uv run --group bench python -m benchmarks.suite --report-only
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from importlib import metadata
from pathlib import Path

import numpy as np

from .report import DOC, HEADER, IMAGES, machine, replace_section

ORDER = ("sigopt", "sigopt_before", "optuna_gp", "optuna_tpe", "tpe", "rand")
LABELS = {"sigopt": "sigopt", "sigopt_before": "sigopt_before", "optuna_gp": "Optuna GP",
          "optuna_tpe": "Optuna TPE", "tpe": "hyperopt TPE", "rand": "random"}
COUNTS = (40, 100)
BOOTSTRAP = 5000

Runs = dict[str, dict[str, dict[int, dict]]]  # problem -> algorithm -> seed -> record


def load(directory: Path) -> Runs:
    runs: Runs = defaultdict(lambda: defaultdict(dict))
    for path in sorted(Path(directory).glob("*.json")):
        record = json.loads(path.read_text())
        runs[record["problem"]][record["algorithm"]][record["seed"]] = record
    return runs


def incumbent_values(record: dict) -> np.ndarray:
    """The noiseless value of the best point seen so far, after each evaluation.

    Without noise that is the best loss so far; with noise, the true value at the point with the best
    *observed* loss (what a user would pick and deploy).
    """
    losses = np.asarray(record["losses"], dtype=float)
    values = np.asarray(record.get("values", record["losses"]), dtype=float)
    best = np.minimum.accumulate(losses)
    index = np.array([int(np.flatnonzero(losses[: i + 1] == best[i])[0]) for i in range(len(losses))])
    return values[index]


def reference(problem: str, by_algorithm: dict[str, dict[int, dict]]) -> float:
    """The known optimum, else the best noiseless value any run found (Bayesmark's 100)."""
    from .suite import PROBLEMS

    optimum = PROBLEMS[problem].optimum
    found = min(float(np.min(incumbent_values(r))) for runs in by_algorithm.values() for r in runs.values())
    return found if optimum is None else min(optimum, found)


def regrets_at(problem: str, by_algorithm: dict[str, dict[int, dict]], at: int) -> dict[str, dict[int, float]]:
    best = reference(problem, by_algorithm)
    return {a: {seed: float(incumbent_values(r)[at - 1] - best) for seed, r in runs.items() if len(r["losses"]) >= at}
            for a, runs in by_algorithm.items()}


def scores(regrets: dict[str, dict[int, float]]) -> dict[str, float]:
    """Bayesmark's median score: 100 * (1 - median regret / random search's median regret)."""
    if not regrets.get("rand"):
        return {}
    random_median = float(np.median(list(regrets["rand"].values())))
    if random_median <= 0:
        return {a: 100.0 for a in regrets}
    return {a: 100.0 * (1.0 - float(np.median(list(r.values()))) / random_median) for a, r in regrets.items() if r}


def paired(ours: dict[int, float], theirs: dict[int, float], rng: np.random.Generator) -> dict[str, float]:
    """Seed-by-seed comparison of regrets (lower is better for ``ours`` when the difference is negative)."""
    from scipy.stats import wilcoxon

    seeds = sorted(set(ours) & set(theirs))
    a = np.array([ours[s] for s in seeds])
    b = np.array([theirs[s] for s in seeds])
    if len(seeds) == 0:
        return {}
    try:
        p = float(wilcoxon(a, b, zero_method="zsplit").pvalue) if np.any(a != b) else 1.0
    except ValueError:
        p = float("nan")
    picks = rng.integers(0, len(seeds), size=(BOOTSTRAP, len(seeds)))
    differences = np.median(a[picks], axis=1) - np.median(b[picks], axis=1)
    low, high = np.percentile(differences, [2.5, 97.5])
    return {"n": len(seeds), "wins": int(np.sum(a < b)), "losses": int(np.sum(a > b)), "p": p,
            "difference": float(np.median(a) - np.median(b)), "low": float(low), "high": float(high)}


def overhead(runs: dict[int, dict]) -> float:
    """The algorithm's own seconds per evaluation: wall time less the objective's, median over seeds."""
    return float(np.median([(r["seconds"] - r.get("objective_seconds", 0.0)) / len(r["losses"]) for r in runs.values()]))


def label(column: str) -> str:
    """A column's name in tables: the peers' readable names; engine variants (``sigopt:+a``) as they are."""
    return LABELS.get(column, f"`{column}`")


def _g(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.1e}"


def _columns(runs: Runs) -> list[str]:
    present = {a for by in runs.values() for a in by}
    return [a for a in ORDER if a in present]


def regret_table(runs: Runs, at: int, columns: list[str]) -> tuple[str, dict[str, dict[str, float]]]:
    header = "| problem | D | " + " | ".join(label(c) for c in columns) + " | seeds |"
    lines = [header, "|" + "---|" * (len(columns) + 3)]
    all_scores: dict[str, dict[str, float]] = {}
    from .suite import PROBLEMS

    for problem in sorted(runs, key=_problem_order):
        regrets = regrets_at(problem, runs[problem], at)
        if not any(regrets.values()):
            continue
        medians = {a: float(np.median(list(regrets[a].values()))) for a in columns if regrets.get(a)}
        best = min(medians.values())
        cells = [(f"**{_g(medians[a])}**" if medians[a] == best else _g(medians[a])) if a in medians else "–"
                 for a in columns]
        seeds = min(len(regrets[a]) for a in medians)
        lines.append(f"| {problem} | {PROBLEMS[problem].dimension} | " + " | ".join(cells) + f" | {seeds} |")
        all_scores[problem] = scores(regrets)
    return "\n".join(lines), all_scores


def score_table(all_scores: dict[str, dict[str, float]], columns: list[str]) -> str:
    lines = ["| problem | " + " | ".join(label(c) for c in columns) + " |", "|" + "---|" * (len(columns) + 1)]
    for problem, by in all_scores.items():
        best = max(by.values()) if by else None
        lines.append(f"| {problem} | " + " | ".join(
            (f"**{by[c]:.1f}**" if by[c] == best else f"{by[c]:.1f}") if c in by else "–" for c in columns) + " |")
    means = {c: float(np.mean([by[c] for by in all_scores.values() if c in by])) for c in columns
             if any(c in by for by in all_scores.values())}
    best = max(means.values(), default=None)  # no column has a score without a random-search column
    lines.append("| **mean** | " + " | ".join(
        (f"**{means[c]:.1f}**" if means[c] == best else f"{means[c]:.1f}") if c in means else "–" for c in columns) + " |")
    return "\n".join(lines)


def paired_table(runs: Runs, at: int, against: str, ours: str = "sigopt") -> tuple[str, dict[str, int]]:
    rng = np.random.default_rng(0)
    lines = [f"| problem | {label(ours)} − {label(against)} (median regret) | 95 % bootstrap | seeds lower / higher | "
             "Wilcoxon p | verdict |", "|---|---|---|---|---|---|"]
    tally = {"better": 0, "worse": 0, "tie": 0}
    for problem in sorted(runs, key=_problem_order):
        regrets = regrets_at(problem, runs[problem], at)
        if not regrets.get(ours) or not regrets.get(against):
            continue
        result = paired(regrets[ours], regrets[against], rng)
        if not result:
            continue
        significant = result["p"] < 0.05
        verdict = ("**better**" if result["difference"] < 0 else "**worse**") if significant else (
            "lower median" if result["difference"] < 0 else "higher median" if result["difference"] > 0 else "equal")
        tally["better" if significant and result["difference"] < 0 else
              "worse" if significant and result["difference"] > 0 else "tie"] += 1
        lines.append(f"| {problem} | {result['difference']:+.3g} | {result['low']:+.3g} to {result['high']:+.3g} | "
                     f"{result['wins']} / {result['losses']} | {result['p']:.3f} | {verdict} |")
    return "\n".join(lines), tally


def time_table(runs: Runs, columns: list[str]) -> str:
    lines = ["| problem | " + " | ".join(label(c) for c in columns) + " |", "|" + "---|" * (len(columns) + 1)]
    for problem in sorted(runs, key=_problem_order):
        lines.append(f"| {problem} | " + " | ".join(
            f"{overhead(runs[problem][c]):.3f}" if runs[problem].get(c) else "–" for c in columns) + " |")
    return "\n".join(lines)


def _incomplete(runs: Runs) -> list[str]:
    """Problems whose peer columns do not all have the same seeds (a run cut short)."""
    columns = [c for c in ORDER if c != "sigopt_before" and any(c in by for by in runs.values())]
    return [p for p in sorted(runs, key=_problem_order)
            if len({frozenset(runs[p].get(c, {})) for c in columns}) > 1]


def problems_table(runs: Runs) -> str:
    from .suite import PROBLEMS

    lines = ["| problem | D | what it is |", "|---|---|---|"]
    for problem in sorted(runs, key=_problem_order):
        lines.append(f"| {problem} | {PROBLEMS[problem].dimension} | {PROBLEMS[problem].description} |")
    return "\n".join(lines)


def plot(suite: str, runs: Runs, columns: list[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted(runs, key=_problem_order)
    width = 4
    rows = (len(problems) + width - 1) // width
    figure, axes = plt.subplots(rows, width, figsize=(4 * width, 3 * rows), squeeze=False)
    for axis, problem in zip(axes.flat, problems):
        best = reference(problem, runs[problem])
        for column in columns:
            records = list(runs[problem].get(column, {}).values())
            if not records:
                continue
            length = min(len(r["losses"]) for r in records)
            curves = np.array([incumbent_values(r)[:length] - best for r in records])
            axis.plot(np.arange(1, length + 1), np.maximum(np.median(curves, axis=0), 1e-6), label=label(column))
        axis.set_yscale("log")
        axis.set_title(problem, fontsize=9)
        axis.set_xlabel("evaluations", fontsize=8)
    for axis in list(axes.flat)[len(problems):]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=7)
    figure.suptitle(f"{suite}: median regret of the incumbent", fontsize=11)
    figure.tight_layout()
    IMAGES.mkdir(parents=True, exist_ok=True)
    name = f"suite-{suite}.png"
    figure.savefig(IMAGES / name, dpi=80)
    plt.close(figure)
    return name


def _problem_order(problem: str) -> int:
    from .suite import PROBLEMS

    return list(PROBLEMS).index(problem) if problem in PROBLEMS else len(PROBLEMS)


def section(suite: str, directory: Path, evals: int) -> str:
    runs = load(Path(directory) / suite)
    incomplete = _incomplete(runs)
    for problem in incomplete:
        del runs[problem]
    if not runs:
        return f"## Quality suite: {suite}\n\nNo problem has all its columns yet (the stored runs: {Path(directory) / suite})."
    columns = _columns(runs)
    longest = max(len(r["losses"]) for by in runs.values() for rs in by.values() for r in rs.values())
    counts = [c for c in COUNTS if c <= longest] or [evals]
    try:
        torch = f"; torch {metadata.version('torch')}"
    except metadata.PackageNotFoundError:
        torch = ""
    seeds = max(len(rs) for by in runs.values() for rs in by.values())
    parts = [f"## Quality suite: {suite}",
             "Command: `uv run --group bench --group peers python -m benchmarks.suite --suites "
             f"{suite} --seeds {seeds} --evals {longest} --baseline PATH` (two runs at a time; `sigopt_before` is "
             "the baseline checkout's `sigopt_suggest`, `Optuna GP` Optuna's GPSampler).",
             problems_table(runs),
             f"Machine: {machine()}{torch}. Written {datetime.date.today().isoformat()}. The 2 cores were shared with "
             "other agents' tests and benchmarks, so seconds are comparable only within a table (one run).",
             "Regret is the noiseless value of the incumbent (the point with the best observed loss) minus "
             "the optimum, or, where no optimum is known, minus the best value any run found. Bold: the best "
             "median in the row."]
    if incomplete:
        parts.append("Not reported (some columns have fewer seeds than the others; the stored runs are kept and a "
                     "re-run fills them): " + ", ".join(incomplete) + ".")
    without = [p for p in sorted(runs, key=_problem_order) if "sigopt_before" in columns and not runs[p].get("sigopt_before")]
    if without:
        parts.append("`sigopt_before` was not run on " + ", ".join(without) + ": where the space has no numeric "
                     "choice and the engine is unchanged, the baseline translates the space and suggests exactly "
                     "as this code does (same seed, same points), so its column would repeat `sigopt`'s.")
    for at in counts:
        table, all_scores = regret_table(runs, at, columns)
        parts += [f"### Median regret at {at} evaluations", table,
                  f"### Bayesmark score at {at} evaluations (100 = the best any run found, 0 = random search's "
                  "median; the median over seeds, as Bayesmark scores)", score_table(all_scores, columns)]
        for against in ("optuna_gp", "sigopt_before"):
            if against in columns and "sigopt" in columns:
                table, tally = paired_table(runs, at, against)
                parts += [f"### sigopt against {label(against)}, seed by seed, at {at} evaluations",
                          f"Significantly better on {tally['better']}, significantly worse on {tally['worse']}, "
                          f"no significant difference on {tally['tie']} (Wilcoxon signed-rank, p < 0.05).", table]
    parts += ["### The algorithms' own seconds per evaluation (wall time less the objective's; median over seeds)",
              time_table(runs, columns)]
    name = plot(suite, runs, columns)
    parts.append(f"![{suite} convergence](img/{name})")
    return "\n\n".join(parts)


def write_suite_report(directory: Path, evals: int = 40) -> None:
    from .suite import SUITES

    text = DOC.read_text() if DOC.exists() else HEADER
    for suite in SUITES:
        if (Path(directory) / suite).is_dir():
            text = replace_section(text, f"suite-{suite}", section(suite, directory, evals))
    DOC.write_text(text)


if __name__ == "__main__":
    from .suite import RESULTS

    write_suite_report(RESULTS)
