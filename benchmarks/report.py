"""Writes docs/benchmarks.md (tables and plots) from the stored results of the benchmark commands.

Run:  uv run --group bench python -m benchmarks.report

Each benchmark owns a section between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers, so a
section is replaced without touching the others.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
from collections import defaultdict
from importlib import metadata
from pathlib import Path

import numpy as np

from .problems import PROBLEMS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
IMAGES = ROOT / "docs" / "img"
RESULTS = Path(__file__).parent / "results"
CHECKPOINTS = (20, 40, 80)
ALGORITHM_ORDER = ("sigopt", "tpe", "rand", "anneal", "optuna")
ALGORITHM_LABELS = {"sigopt": "sigopt_suggest", "tpe": "hyperopt tpe", "rand": "hyperopt rand",
                    "anneal": "hyperopt anneal", "optuna": "Optuna TPESampler"}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in
                         ("numpy", "scipy", "hyperopt", "optuna", "libsigopt", "sigoptlite", "scikit-learn"))
    return (f"{cpu}, {os.cpu_count()} cores, {memory_kib / 2**20:.0f} GiB RAM; Python {platform.python_version()}; "
            f"{versions}")


def load_quality() -> dict[str, dict[str, list[list[float]]]]:
    runs: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted((RESULTS / "quality").glob("*.json")):
        record = json.loads(path.read_text())
        runs[record["problem"]][record["algorithm"]].append(record["losses"])
    return runs


def regret_curves(problem: str, by_algorithm: dict[str, list[list[float]]]) -> dict[str, np.ndarray]:
    """Best-so-far regret per run; without a known optimum, against the best loss of any run."""
    optimum = PROBLEMS[problem].optimum
    if optimum is None:
        optimum = min(min(losses) for runs in by_algorithm.values() for losses in runs)
    length = min(len(losses) for runs in by_algorithm.values() for losses in runs)
    return {algorithm: np.array([np.minimum.accumulate(np.asarray(l[:length])) - optimum for l in runs])
            for algorithm, runs in by_algorithm.items()}


def plot(problem: str, curves: dict[str, np.ndarray]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for algorithm in ALGORITHM_ORDER:
        if algorithm not in curves:
            continue
        runs = np.maximum(curves[algorithm], 1e-6)
        x = np.arange(1, runs.shape[1] + 1)
        ax.plot(x, np.median(runs, axis=0), label=ALGORITHM_LABELS[algorithm], linewidth=2 if algorithm == "sigopt" else 1.2)
        ax.fill_between(x, np.percentile(runs, 25, axis=0), np.percentile(runs, 75, axis=0), alpha=0.15)
    ax.set_yscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best-so-far regret (median, IQR band)")
    ax.set_title(problem)
    ax.legend(fontsize=8)
    fig.tight_layout()
    IMAGES.mkdir(parents=True, exist_ok=True)
    name = f"convergence-{problem}.png"
    fig.savefig(IMAGES / name, dpi=110)
    plt.close(fig)
    return f"img/{name}"


def quality_section() -> str:
    runs = load_quality()
    if not runs:
        return "No quality results yet: run `uv run --group bench python -m benchmarks.quality`."
    lines = ["Median best-so-far regret (lower is better); the best value in each column is in bold.", ""]
    verdicts = []
    for problem in PROBLEMS:
        if problem not in runs:
            continue
        curves = regret_curves(problem, runs[problem])
        seeds = min(len(c) for c in curves.values())
        checkpoints = [c for c in CHECKPOINTS if c <= min(c.shape[1] for c in curves.values())]
        medians = {a: {c: float(np.median(curves[a][:, c - 1])) for c in checkpoints} for a in curves}
        lines += [f"### {problem} ({seeds} seeds{', regret against the best loss of any run' if PROBLEMS[problem].optimum is None else ''})", "",
                  "| algorithm | " + " | ".join(f"{c} evals" for c in checkpoints) + " | seconds per run (median) |",
                  "|---|" + "---|" * (len(checkpoints) + 1)]
        best = {c: min(medians[a][c] for a in medians) for c in checkpoints}
        seconds = _seconds(problem)
        for algorithm in ALGORITHM_ORDER:
            if algorithm not in medians:
                continue
            cells = [(f"**{medians[algorithm][c]:.4g}**" if medians[algorithm][c] == best[c] else f"{medians[algorithm][c]:.4g}")
                     for c in checkpoints]
            lines.append(f"| {ALGORITHM_LABELS[algorithm]} | " + " | ".join(cells) + f" | {seconds.get(algorithm, float('nan')):.1f} |")
        lines += ["", f"![{problem} convergence]({plot(problem, curves)})", ""]
        if 40 in checkpoints and "sigopt" in medians and "tpe" in medians:
            met = medians["sigopt"][40] < medians["tpe"][40]
            verdicts.append(f"{problem}: sigopt_suggest {medians['sigopt'][40]:.4g} vs TPE {medians['tpe'][40]:.4g} "
                            f"at 40 evaluations ({'met' if met else 'NOT met'})")
    lines += ["**Target** (lower median regret than TPE at 40 evaluations on every problem):", ""]
    lines += [f"- {v}" for v in verdicts]
    return "\n".join(lines)


def _seconds(problem: str) -> dict[str, float]:
    by_algorithm: dict[str, list[float]] = defaultdict(list)
    for path in (RESULTS / "quality").glob(f"{problem}-*.json"):
        record = json.loads(path.read_text())
        by_algorithm[record["algorithm"]].append(record["seconds"])
    return {a: float(np.median(s)) for a, s in by_algorithm.items()}


HEADER = """# Benchmarks

Measured, not assumed. Every table and plot below is written by the commands named in its section
(see benchmarks/README.md); re-running a command replaces its section only.
"""


def replace_section(text: str, name: str, body: str) -> str:
    block = f"<!-- BEGIN {name} -->\n{body}\n<!-- END {name} -->"
    pattern = re.compile(rf"<!-- BEGIN {name} -->.*?<!-- END {name} -->", re.S)
    return pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"


def write_report() -> None:
    text = DOC.read_text() if DOC.exists() else HEADER
    stamp = f"Machine: {machine()}. Written {datetime.date.today().isoformat()}."
    text = replace_section(text, "quality", "## Search quality\n\nCommand: `uv run --group bench python -m benchmarks.quality` "
                           "(its defaults: 5 seeds, 80 evaluations, all five algorithms, two runs at a time).\n\n" + stamp + "\n\n" + quality_section())
    from .speed_report import latency_heading, latency_section

    text = replace_section(text, "latency", latency_heading() + stamp + "\n\n" + latency_section())
    from .distributed import section as distributed_section

    text = replace_section(text, "distributed", "## Distributed searches\n\nCommand: `uv run --group bench python -m "
                           "benchmarks.distributed --stock`.\n\n" + stamp + "\n\n" + distributed_section())
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


if __name__ == "__main__":
    write_report()
