"""What one multimetric suggestion costs as a search grows: ``python -m benchmarks.multimetric_cost 100 300 550``.

For each count N: an embedded engine synced with N observations of a ZDT1-like two-metric problem
(5-D) makes one suggestion (a driver's first call: its fit is computed), then, synced with N + 3,
another (a call between refits).  Prints the seconds of each; docs/multimetric.md quotes them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from hyperopt import hp

from sigopt_hyperopt import Metric
from sigopt_hyperopt.engines.base import Observation
from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
from sigopt_hyperopt.space import translate

DIMENSION = 5


def zdt1_observations(count: int, seed: int = 0) -> list[Observation]:
    rng = np.random.default_rng(seed)
    observations = []
    for key in range(count):
        x = rng.random(DIMENSION)
        g = 1 + 9 * x[1:].mean()
        observations.append(Observation(key=key, assignments={f"x{i}": float(v) for i, v in enumerate(x)}, value=None,
                                        metric_values={"f1": float(x[0]), "f2": float(g * (1 - np.sqrt(x[0] / g)))}))
    return observations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="+", type=int)
    args = parser.parse_args()
    space = translate({f"x{i}": hp.uniform(f"x{i}", 0, 1) for i in range(DIMENSION)})
    observations = zdt1_observations(max(args.counts) + 3)
    for count in args.counts:
        engine = EmbeddedEngine.for_space(space, observation_budget=1000, metrics=[Metric("f1"), Metric("f2")])
        seconds = []
        for synced in (count, count + 3):
            engine.sync(observations[:synced])
            start = time.perf_counter()
            engine.suggest(1, [], seed=synced)
            seconds.append(time.perf_counter() - start)
        print(f"{count} observations: first call {seconds[0]:.2f} s; {count + 3} observations, same engine {seconds[1]:.2f} s")


if __name__ == "__main__":
    main()
