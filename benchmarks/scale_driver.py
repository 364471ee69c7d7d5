"""One driver of the scale benchmark, run as its own process (so it can be an older checkout).

``python -m benchmarks.scale_driver MONGO_DB EVALS TIMEOUT OUT.json``: ``fmin`` with
``rand.suggest`` and an objective of 15 ms over ``MongoTrials`` (the package found on PYTHONPATH);
afterwards every trial's finish time is written to OUT.json.  Only public API, so it runs against
any version of the package.
"""

from __future__ import annotations

import datetime
import json
import sys
import time

import numpy as np
from hyperopt import fmin, hp, rand

from sigopt_hyperopt import MongoTrials

from .pool_objectives import sleep_then_quadratic


def main() -> None:
    mongo_db, evals, timeout, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="scale")
    space = {"x": hp.uniform("x", -1, 1), "y": hp.uniform("y", -1, 1), "duration": 0.015}
    started = time.time()
    fmin(sleep_then_quadratic, space, algo=rand.suggest, max_evals=evals, trials=trials, timeout=timeout,
         rstate=np.random.default_rng(0), show_progressbar=False)
    finished = [doc["refresh_time"].replace(tzinfo=datetime.timezone.utc).timestamp() for doc in trials.trials
                if doc.get("refresh_time") is not None and doc["result"].get("status") == "ok"]
    with open(out, "w") as f:
        json.dump({"started": started, "ended": time.time(), "finished": sorted(finished)}, f)


if __name__ == "__main__":
    main()
