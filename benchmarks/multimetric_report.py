"""docs/benchmarks.md's ``multimetric`` section, from the runs benchmarks/multimetric.py stored.

Per problem and column: the median hypervolume of the feasible evaluations after 40 and 100 evaluations
(and, where the front is known, as a share of the true front's); ``sigopt`` against each peer seed by
seed (wins, Wilcoxon signed-rank p, bootstrap interval of the median difference, as the suite's
report does, on the hypervolume gap: the true front's, or the best any run reached, minus the run's);
for constrained problems the share of feasible evaluations; the columns' own seconds per evaluation;
and one picture of the fronts the median-seed runs found.

Run:  uv run --group bench python -m benchmarks.multimetric --report-only
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from importlib import metadata
from pathlib import Path

import numpy as np

from .hypervolume import non_dominated
from .multimetric import NSGA2_POPULATION
from .multimetric_problems import MULTIMETRIC
from .report import DOC, HEADER, IMAGES, machine, replace_section
from .suite_report import paired

SECTION = "multimetric"
ORDER = ("sigopt", "optuna_gp", "optuna_tpe", "nsga2", "rand")
LABELS = {"sigopt": "sigopt", "optuna_gp": "Optuna GP", "optuna_tpe": "Optuna TPE", "nsga2": "NSGA-II",
          "rand": "random"}
COUNTS = (40, 100)
PICTURE = "zdt3"
"""The problem whose fronts are drawn (a disconnected front shows what each column finds and misses)."""

Runs = dict[str, dict[str, dict[int, dict]]]  # problem -> algorithm -> seed -> record


def load(directory: Path) -> Runs:
    runs: Runs = defaultdict(lambda: defaultdict(dict))
    for path in sorted(Path(directory).glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("problem") in MULTIMETRIC:
            runs[record["problem"]][record["algorithm"]][record["seed"]] = record
    return runs


def with_budget(runs: Runs, directory: Path, at: int) -> Runs:
    """The runs, with ``sigopt``'s replaced by searches of exactly ``at`` evaluations where they are stored.

    ``sigopt`` passes max_evals to SigOpt as the observation budget, and SigOpt plans its multimetric
    phases over it (each metric alone first, then their combinations): the first 40 evaluations of a
    100-evaluation search are not a 40-evaluation search.  Such searches are kept in
    ``DIRECTORY/sigopt-AT/`` and, when present, stand for ``sigopt`` in the tables at that count.
    """
    budget = load(Path(directory) / f"sigopt-{at}")
    if not budget:
        return runs
    replaced: Runs = defaultdict(lambda: defaultdict(dict))
    for problem, by_algorithm in runs.items():
        for algorithm, seeds in by_algorithm.items():
            replaced[problem][algorithm] = seeds
        if budget.get(problem, {}).get("sigopt"):
            replaced[problem]["sigopt"] = budget[problem]["sigopt"]
    return replaced


def hypervolume_at(problem: str, record: dict, at: int) -> float | None:
    evaluations = record["evaluations"]
    if len(evaluations) < at:
        return None
    return MULTIMETRIC[problem].hypervolume(evaluations[:at])


def hypervolumes(problem: str, by_algorithm: dict[str, dict[int, dict]], at: int) -> dict[str, dict[int, float]]:
    table: dict[str, dict[int, float]] = {}
    for algorithm, runs in by_algorithm.items():
        values = {seed: hypervolume_at(problem, record, at) for seed, record in runs.items()}
        table[algorithm] = {seed: v for seed, v in values.items() if v is not None}
    return table


def attainable(problem: str, by_algorithm: dict[str, dict[int, dict]]) -> float:
    """The true front's hypervolume, or (front unknown) the best any run reached at any count."""
    known = MULTIMETRIC[problem].front_hypervolume()
    found = max((MULTIMETRIC[problem].hypervolume(r["evaluations"]) for runs in by_algorithm.values()
                 for r in runs.values()), default=0.0)
    return max(known, found) if known is not None else found


def _columns(runs: Runs) -> list[str]:
    present = {a for by in runs.values() for a in by}
    return [a for a in ORDER if a in present]


def _g(x: float) -> str:
    return f"{x:.4g}"


def hypervolume_table(runs: Runs, at: int, columns: list[str]) -> str:
    lines = ["| problem | D | reference point | true front | " + " | ".join(LABELS[c] for c in columns) + " | seeds |",
             "|" + "---|" * (len(columns) + 5)]
    for problem in (p for p in MULTIMETRIC if p in runs):
        volumes = hypervolumes(problem, runs[problem], at)
        medians = {c: float(np.median(list(volumes[c].values()))) for c in columns if volumes.get(c)}
        if not medians:
            continue
        best = max(medians.values())
        front = MULTIMETRIC[problem].front_hypervolume()
        cells = []
        for c in columns:
            if c not in medians:
                cells.append("–")
                continue
            text = _g(medians[c]) + (f" ({100 * medians[c] / front:.0f} %)" if front else "")
            cells.append(f"**{text}**" if medians[c] == best else text)
        seeds = min(len(volumes[c]) for c in medians)
        reference = ", ".join(f"{r:g}" for r in MULTIMETRIC[problem].reference)
        lines.append(f"| {problem} | {MULTIMETRIC[problem].dimension} | ({reference}) | "
                     f"{_g(front) if front else 'unknown'} | " + " | ".join(cells) + f" | {seeds} |")
    return "\n".join(lines)


def paired_table(runs: Runs, at: int, columns: list[str]) -> tuple[str, dict[str, dict[str, int]]]:
    """``sigopt`` against each peer on the hypervolume gap (lower is better), seed by seed."""
    rng = np.random.default_rng(0)
    peers = [c for c in columns if c != "sigopt"]
    lines = ["| problem | against | sigopt − peer (median hypervolume) | 95 % bootstrap | seeds higher / lower | "
             "Wilcoxon p | verdict |", "|---|---|---|---|---|---|---|"]
    tally = {peer: {"better": 0, "worse": 0, "tie": 0} for peer in peers}
    for problem in (p for p in MULTIMETRIC if p in runs):
        volumes = hypervolumes(problem, runs[problem], at)
        if not volumes.get("sigopt"):
            continue
        top = attainable(problem, runs[problem])
        gaps = {c: {s: top - v for s, v in volumes.get(c, {}).items()} for c in columns}
        for peer in peers:
            if not gaps.get(peer):
                continue
            result = paired(gaps["sigopt"], gaps[peer], rng)
            if not result:
                continue
            significant = result["p"] < 0.05
            higher = -result["difference"]  # the gap's difference, as hypervolume's
            verdict = ("**better**" if higher > 0 else "**worse**") if significant else (
                "higher median" if higher > 0 else "lower median" if higher < 0 else "equal")
            tally[peer]["better" if significant and higher > 0 else "worse" if significant and higher < 0 else "tie"] += 1
            lines.append(f"| {problem} | {LABELS[peer]} | {higher:+.3g} | {-result['high']:+.3g} to {-result['low']:+.3g} "
                         f"| {result['wins']} / {result['losses']} | {result['p']:.3f} | {verdict} |")
    return "\n".join(lines), tally


def feasible_table(runs: Runs, columns: list[str], at: int) -> str:
    """Constrained problems: share of feasible evaluations and the best feasible value of each objective,
    over the first ``at`` evaluations of the runs that long."""
    lines = ["| problem | measure | " + " | ".join(LABELS[c] for c in columns) + " |", "|" + "---|" * (len(columns) + 2)]
    for problem in (p for p in MULTIMETRIC if p in runs and MULTIMETRIC[p].constrained):
        spec = MULTIMETRIC[problem]
        shares, bests = {}, {m.name: {} for m in spec.optimized}
        for c in columns:
            records = [dict(r, evaluations=r["evaluations"][:at]) for r in runs[problem].get(c, {}).values()
                       if len(r["evaluations"]) >= at]
            if not records:
                continue
            shares[c] = float(np.median([np.mean([spec.feasible(v) for v in r["evaluations"]]) for r in records]))
            for m in spec.optimized:
                values = [[v[m.name] for v in r["evaluations"] if spec.feasible(v)] for r in records]
                picks = [(min(x) if m.objective == "minimize" else max(x)) for x in values if x]
                if picks:
                    bests[m.name][c] = float(np.median(picks))
        lines.append(f"| {problem} | feasible evaluations (median share) | "
                     + " | ".join(f"{100 * shares[c]:.0f} %" if c in shares else "–" for c in columns) + " |")
        for m in spec.optimized:
            lines.append(f"| {problem} | best feasible {m.name} ({m.objective}, median) | "
                         + " | ".join(_g(bests[m.name][c]) if c in bests[m.name] else "–" for c in columns) + " |")
    return "\n".join(lines)


def time_table(runs: Runs, columns: list[str]) -> str:
    lines = ["| problem | " + " | ".join(LABELS[c] for c in columns) + " |", "|" + "---|" * (len(columns) + 1)]
    for problem in (p for p in MULTIMETRIC if p in runs):
        cells = []
        for c in columns:
            records = list(runs[problem].get(c, {}).values())
            cells.append(f"{np.median([(r['seconds'] - r['objective_seconds']) / len(r['evaluations']) for r in records]):.3f}"
                         if records else "–")
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_fronts(runs: Runs, columns: list[str], problem: str = PICTURE) -> str | None:
    """Each column's front from its median-hypervolume seed, against the true front, all after as many
    evaluations as every column's runs have (so the panels compare)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if problem not in runs:
        return None
    spec = MULTIMETRIC[problem]
    shown = [c for c in columns if runs[problem].get(c)]
    figure, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.2), sharex=True, sharey=True, squeeze=False)
    front = spec.front()
    at = min(len(r["evaluations"]) for c in shown for r in runs[problem][c].values())
    for axis, column in zip(axes.flat, shown):
        records = runs[problem][column]
        volumes = {seed: spec.hypervolume(r["evaluations"][:at]) for seed, r in records.items()}
        ordered = sorted(volumes, key=lambda s: (volumes[s], s))
        seed = ordered[(len(ordered) - 1) // 2]
        points = np.array([spec.objectives(v) for v in records[seed]["evaluations"][:at]])
        found = non_dominated(points)
        if front is not None:
            axis.plot(front[:, 0], front[:, 1], ".", markersize=1, color="#999", label="true front")
        axis.plot(points[:, 0], points[:, 1], "o", markersize=2.5, color="#8ab", alpha=0.6, label="evaluated")
        axis.step(found[:, 0], found[:, 1], where="post", color="#e76f51", linewidth=1.2)
        axis.plot(found[:, 0], found[:, 1], "o", markersize=3.5, color="#e76f51", label="front found")
        axis.set_xlim(-0.05, spec.reference[0])
        axis.set_ylim(min(-0.85, float(np.min(points[:, 1]))) - 0.05, spec.reference[1] + 0.4)
        axis.set_title(f"{LABELS[column]} (seed {seed}, HV {volumes[seed]:.3g})", fontsize=9)
        axis.set_xlabel("f1", fontsize=8)
    axes.flat[0].set_ylabel("f2", fontsize=8)
    axes.flat[0].legend(fontsize=6, loc="upper right")
    figure.suptitle(f"{problem}: the front after {at} evaluations, each column's median-hypervolume seed",
                    fontsize=10)
    figure.tight_layout()
    IMAGES.mkdir(parents=True, exist_ok=True)
    name = f"multimetric-front-{problem}.png"
    figure.savefig(IMAGES / name, dpi=90)
    plt.close(figure)
    return name


def _short_runs(runs: Runs, longest: int) -> list[tuple[str, list[tuple[str, int]]]]:
    """Per problem, the columns whose runs are shorter than the longest run stored (a cut budget)."""
    short = []
    for problem in (p for p in MULTIMETRIC if p in runs):
        cut = [(c, min(len(r["evaluations"]) for r in runs[problem][c].values())) for c in ORDER if runs[problem].get(c)]
        cut = [(c, n) for c, n in cut if n < longest]
        if cut:
            short.append((problem, cut))
    return short


def package_commit() -> str:
    """The last commit that changed the package outside the dashboard (what the ``sigopt`` column ran,
    the runs being made from a clean checkout of it)."""
    import subprocess

    from .report import ROOT

    try:
        return subprocess.run(["git", "log", "-1", "--format=%h", "--", "sigopt_hyperopt",
                               ":!sigopt_hyperopt/dashboard"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def section(directory: Path) -> str:
    runs = load(directory)
    if not runs:
        return f"## Multimetric searches\n\nNo runs stored yet ({directory})."
    columns = _columns(runs)
    longest = max(len(r["evaluations"]) for by in runs.values() for rs in by.values() for r in rs.values())
    seeds = max(len(rs) for by in runs.values() for rs in by.values())
    try:
        torch = f"; torch {metadata.version('torch')}"
    except metadata.PackageNotFoundError:
        torch = ""
    problems = ["| problem | D | metrics (objective, strategy, threshold) | what it is |", "|---|---|---|---|"]
    for name in (p for p in MULTIMETRIC if p in runs):
        spec = MULTIMETRIC[name]
        declared = "; ".join(f"{m.name} ({m.objective}" + (", constraint" if m.strategy == "constraint" else "")
                             + (f", {m.threshold:g}" if m.threshold is not None else "") + ")" for m in spec.metrics)
        problems.append(f"| {name} | {spec.dimension} | {declared} | {spec.description} |")
    parts = ["## Multimetric searches",
             f"Command: `uv run --group bench --group peers python -m benchmarks.multimetric --seeds {seeds} "
             f"--evals {longest}` (two runs at a time). Columns: `sigopt` is `sigopt_hyperopt.fmin(..., "
             "metrics=[Metric(...), ...])` with the embedded engine; Optuna's GPSampler, TPESampler and "
             f"NSGAIISampler (population {NSGA2_POPULATION}) as multi-objective studies, with a `constraints_func` on the "
             "constrained problem; random search is Optuna's RandomSampler.",
             "\n".join(problems),
             f"Package code: commit {package_commit()} (the last to change sigopt_hyperopt/ outside the dashboard). "
             f"Machine: {machine()}{torch}. Written {datetime.date.today().isoformat()}. The 2 cores were shared "
             "with other agents' work, so seconds compare only within this section.",
             "Hypervolume: the exact 2-D area dominated by a run's feasible evaluations (both optimized metrics "
             "minimized, a maximized one negated) up to the problem's fixed reference point (see "
             "benchmarks/multimetric_problems.py for why each). In brackets: its share of the true front's "
             "hypervolume. Higher is better; bold: the best median in the row."]
    short = _short_runs(runs, longest)
    if short:
        parts.append(f"Cut for time (the machine's 2 cores were shared): these columns ran searches of fewer than "
                     f"{longest} evaluations (a search's length is also its budget: `sigopt` passes max_evals to "
                     "SigOpt as the observation budget; run with `--algorithms sigopt optuna_gp --evals 40`), so they appear only "
                     "in the tables their length reaches: "
                     + "; ".join(f"{problem}: " + ", ".join(f"{LABELS[c]} ({n})" for c, n in cut)
                                 for problem, cut in short) + ".")
    counts = [c for c in COUNTS if c <= longest]
    budgets = [at for at in counts if (Path(directory) / f"sigopt-{at}").is_dir()]
    if budgets:
        parts.append("`sigopt` passes max_evals to SigOpt as the observation budget, and SigOpt plans its "
                     "multimetric phases over it (each metric alone first, then their combinations), so the "
                     "first evaluations of a longer search are not a shorter search. After "
                     + ", ".join(str(at) for at in budgets) + " evaluations the `sigopt` column is a search of "
                     "exactly that length (stored in " + ", ".join(f"`sigopt-{at}/`" for at in budgets)
                     + " beside the runs); the peers' columns are prefixes of their longest runs.")
    for at in counts:
        counted = with_budget(runs, directory, at)
        note = (" (`sigopt`: searches of exactly this many evaluations, see below)"
                if counted is not runs else "")
        parts += [f"### Median hypervolume after {at} evaluations{note}", hypervolume_table(counted, at, columns)]
        if "sigopt" in columns:
            table, tally = paired_table(counted, at, columns)
            if not any(sum(t.values()) for t in tally.values()):
                parts.append(f"(`sigopt` has no run of {at} evaluations to compare seed by seed.)")
                continue
            summary = "; ".join(f"against {LABELS[p]}: better on {t['better']}, worse on {t['worse']}, "
                                f"no significant difference on {t['tie']}" for p, t in tally.items())
            parts += [f"### sigopt against each peer, seed by seed, after {at} evaluations",
                      f"{summary} (Wilcoxon signed-rank on the paired hypervolumes, p < 0.05).", table]
    if any(MULTIMETRIC[p].constrained for p in runs):
        for at in counts:
            parts += [f"### Constraints: feasible share and best feasible values after {at} evaluations",
                      feasible_table(with_budget(runs, directory, at), columns, at)]
    parts += ["### The columns' own seconds per evaluation (wall time less the objective's; median over seeds)",
              time_table(runs, columns)]
    name = plot_fronts(runs, columns)
    if name:
        parts.append(f"![{PICTURE} fronts](img/{name})")
    return "\n\n".join(parts)


def write_report(directory: Path) -> None:
    text = DOC.read_text() if DOC.exists() else HEADER
    DOC.write_text(replace_section(text, SECTION, section(Path(directory))))


if __name__ == "__main__":
    from .multimetric import RESULTS

    write_report(RESULTS)
