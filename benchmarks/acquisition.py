"""How close the batched EI search gets to libsigopt's own search, on the same model, and how fast.

Run:  uv run --group bench python -m benchmarks.acquisition

For random observations of Branin and Hartmann6 (20, 40 and 100 of them, 3 draws each) it builds
libsigopt's GP and expected improvement exactly as the engine does, then maximizes EI twice with the
same random seed: with libsigopt's ``constant_liar_acquisition_function_optimization`` (evolution
strategy + 200 Adam runs) and with :func:`sigopt_hyperopt.engines.embedded.acquisition.maximize_with_constant_liar`.
The ratio of the EI values found says whether the cheaper search loses anything.  Results go to
benchmarks/results/acquisition.json and into docs/benchmarks.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
import time
from pathlib import Path

import numpy as np
from libsigopt.aux.adapter_info_containers import PointsContainer
from libsigopt.aux.constant import PARALLEL_CONSTANT_LIAR
from libsigopt.compute.acquisition_function_optimization import constant_liar_acquisition_function_optimization
from libsigopt.views.rest.gp_next_points_categorical import GpNextPointsCategorical
from sigoptlite.sources import GPSource
from tqdm import tqdm

from sigopt_hyperopt.engines.embedded.acquisition import maximize_with_constant_liar
from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
from sigopt_hyperopt.engines.embedded.model import HyperparameterCache
from sigopt_hyperopt.engines.base import Observation
from sigopt_hyperopt.space import translate

from .problems import PROBLEMS

RESULTS = Path(__file__).parent / "results" / "acquisition.json"
COUNTS = (20, 40, 100)
DRAWS = 3


def acquisition_problem(problem_name: str, observations: int, draw: int):
    """libsigopt's EI and optimization domain for random observations, as the engine builds them."""
    problem = PROBLEMS[problem_name]
    rng = np.random.default_rng(1000 * draw + observations)
    points = [{d.name: float(rng.uniform(d.low, d.high)) for d in problem.dimensions} for _ in range(observations)]
    engine = EmbeddedEngine.for_space(translate(problem.hyperopt_space()))
    engine.sync([Observation(key=i, assignments=p, value=problem.objective(p)) for i, p in enumerate(points)])
    local = engine._observations
    source = GPSource(engine._experiment)
    hyperparameters = HyperparameterCache().hyperparameters(source, local)
    sampled = source.make_points_sampled(source.experiment, local)
    view = GpNextPointsCategorical({
        "domain_info": source.form_domain_info(source.experiment),
        "model_info": source.form_gp_model_info(local, hyperparameters),
        "num_to_sample": 1,
        "parallelism": PARALLEL_CONSTANT_LIAR,
        "points_sampled": sampled,
        "points_being_sampled": PointsContainer(points=np.array([])),
        "tag": {},
        "metrics_info": source.form_metrics_info(source.experiment, sampled),
        "task_options": [],
    })
    gaussian_process = view.form_gaussian_process_for_acquisition_function()
    acquisition_function = view.form_acquisition_function(gaussian_process, None, False)
    return view.form_af_optimization_domain(acquisition_function), acquisition_function


def compare(problem_name: str, observations: int, draw: int) -> dict:
    domain, acquisition_function = acquisition_problem(problem_name, observations, draw)
    row = {"problem": problem_name, "observations": observations, "draw": draw}
    for label, search in (("libsigopt", lambda: constant_liar_acquisition_function_optimization(
            domain, acquisition_function, 1)[0]), ("batched", lambda: maximize_with_constant_liar(
            domain, acquisition_function, 1))):
        np.random.seed(draw)
        started = time.perf_counter()
        point = search()
        row[f"{label}_seconds"] = time.perf_counter() - started
        row[f"{label}_ei"] = float(acquisition_function.evaluate_at_point_list(np.atleast_2d(point))[0])
    row["ratio"] = row["batched_ei"] / row["libsigopt_ei"]
    return row


def section() -> str:
    if not RESULTS.exists():
        return "No results yet: run `uv run --group bench python -m benchmarks.acquisition`."
    rows = json.loads(RESULTS.read_text())["rows"]
    lines = ["Maximum of expected improvement found on the same GP (same hyperparameters, same seed) by "
             "libsigopt's search and by the engine's batched search; ratio = batched / libsigopt (1 = as good).", "",
             "| problem | observations | EI ratio, median (min) over draws | libsigopt search (s) | batched search (s) |",
             "|---|---|---|---|---|"]
    for problem in dict.fromkeys(r["problem"] for r in rows):
        for count in dict.fromkeys(r["observations"] for r in rows if r["problem"] == problem):
            group = [r for r in rows if r["problem"] == problem and r["observations"] == count]
            ratios = [r["ratio"] for r in group]
            lines.append(f"| {problem} | {count} | {np.median(ratios):.4f} ({min(ratios):.4f}) | "
                         f"{np.median([r['libsigopt_seconds'] for r in group]):.3f} | "
                         f"{np.median([r['batched_seconds'] for r in group]):.3f} |")
    return "\n".join(lines)


def main() -> None:
    jobs = [(p, n, d) for p in ("branin", "hartmann6") for n in COUNTS for d in range(DRAWS)]
    rows = [compare(*job) for job in tqdm(jobs, desc="EI search")]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": rows}, indent=1))
    from .speed_report import write_acquisition_section

    write_acquisition_section()


if __name__ == "__main__":
    main()
