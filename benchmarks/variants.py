"""The embedded engine with its options switched, on the suite's problems, paired by seed with peers.

The suite (benchmarks/suite.py) compares ``sigopt`` as it ships with the peers; this compares versions
of the engine with each other, to choose its defaults.  A column ``sigopt:+a,-b`` is the engine with
option ``a`` of :class:`~sigopt_hyperopt.engines.embedded.options.EngineOptions` on and ``b`` off, relative to
the defaults of the code that runs it (the section says which code that was).

Run (one run, BLAS on one thread, two runs at a time):

    uv run --group bench --group peers python -m benchmarks.variants \\
        --columns sigopt:+symmetric_warp sigopt sigopt:+map_fit --reference sigopt:+symmetric_warp \\
        --problems branin ackley5 ... --seeds 10 --evals 40

Runs are stored under benchmarks/results/variants/ (one file each, skipped when present, as the
suite's); ``--report-only`` rewrites the section of docs/benchmarks.md from them.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from .report import DOC, HEADER, machine, replace_section
from .suite import PROBLEMS, SUITES, algorithm_name, plan, _task
from .suite_report import label, load, paired_table, regret_table, time_table

RESULTS = Path(__file__).parent / "results" / "variants"
PEERS = ("optuna_gp", "rand")


TITLE = "Embedded engine: variants on the suite's problems"


def section(results: Path, columns: list[str], reference: str, chosen: list[str], at: int, command: str,
            title: str = TITLE) -> str:
    parts = [f"## {title}",
             f"Command: `{command}`. Machine: {machine()}. Written {datetime.date.today().isoformat()}; the 2 cores "
             "were shared with other agents' work, so seconds compare only within a table. Each `sigopt:` column "
             "is the engine with the named options of `EngineOptions` switched on (+) or off (−) relative to "
             "the defaults of the code that ran it; regret as in the suite (the noiseless value of the "
             "incumbent minus the optimum or the best value any run found)."]
    for suite in SUITES:
        runs = load(results / suite)
        runs = {p: by for p, by in runs.items() if all(by.get(c) for c in columns)}
        if not runs:
            continue
        table, _ = regret_table(runs, at, columns)
        parts += [f"### {suite}: median regret at {at} evaluations", table]
        for ours, against in [pair for one in chosen for pair in ((one, reference), (one, "optuna_gp"))]:
            if ours == against or against not in columns:
                continue
            table, tally = paired_table(runs, at, against, ours=ours)
            parts += [f"### {suite}: {label(ours)} against {label(against)}, seed by seed",
                      f"Significantly better on {tally['better']}, significantly worse on {tally['worse']}, no "
                      f"significant difference on {tally['tie']} (Wilcoxon signed-rank, p < 0.05).", table]
        parts += [f"### {suite}: seconds per evaluation, the algorithm's own (median over seeds)",
                  time_table(runs, columns)]
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", nargs="+", type=algorithm_name, required=True,
                        help="engine variants (sigopt, sigopt:+NAME,-NAME) and peers, in table order")
    parser.add_argument("--reference", type=algorithm_name, required=True, help="the engine as it was")
    parser.add_argument("--chosen", type=algorithm_name, nargs="+", default=["sigopt"],
                        help="the variants compared seed by seed with the reference and GPSampler")
    parser.add_argument("--problems", nargs="+", required=True, choices=sorted(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evals", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--section", default="engine-variants",
                        help="the section of docs/benchmarks.md to write (one per run kept)")
    parser.add_argument("--title", default=TITLE, help="the section's heading")
    args = parser.parse_args()
    columns = list(dict.fromkeys([*args.columns, args.reference, *args.chosen, *PEERS]))
    if not args.report_only:
        from multiprocessing import Pool

        from tqdm import tqdm

        from .suite import warm_up

        tasks = plan(args.problems, columns, list(range(args.seeds)), args.evals, args.results, set(), None)
        with Pool(args.jobs, initializer=warm_up) as pool:
            for failure in tqdm(pool.imap_unordered(_task, tasks), total=len(tasks), desc="variant runs"):
                if failure:
                    print("failed:", failure)
    command = ("uv run --group bench --group peers python -m benchmarks.variants --columns " + " ".join(args.columns)
               + f" --reference {args.reference} --chosen " + " ".join(args.chosen) + " --problems " + " ".join(args.problems)
               + f" --seeds {args.seeds} --evals {args.evals}")
    if args.results != RESULTS:
        command += f" --results {args.results.as_posix()}"
    if args.section != "engine-variants":
        command += f" --section {args.section} --title '{args.title}'"
    text = DOC.read_text() if DOC.exists() else HEADER
    DOC.write_text(replace_section(text, args.section, section(args.results, columns, args.reference, args.chosen,
                                                               args.evals, command, args.title)))


if __name__ == "__main__":
    main()
