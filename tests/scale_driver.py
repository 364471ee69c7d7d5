"""A driver process for the scale tests: ``python -m tests.scale_driver host:port/db exp_key max_evals``.

fmin with ``rand.suggest`` and one-second jobs over MongoTrials whose lease lasts 3 s, so a test can
kill it like a real driver dies and watch another take the search over.
"""

from __future__ import annotations

import sys

import numpy as np
from hyperopt import fmin, hp, rand

from sigopt_hyperopt.mongo import MongoTrials

from .objectives import one_second_quadratic

LEASE_SECONDS = 3.0
SPACE = {"x": hp.uniform("x", -1, 1)}


def drive(mongo_db: str, exp_key: str, max_evals: int) -> MongoTrials:
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key=exp_key, queue_len=2, lease_seconds=LEASE_SECONDS)
    fmin(one_second_quadratic, SPACE, algo=rand.suggest, max_evals=max_evals, trials=trials,
         rstate=np.random.default_rng(max_evals), show_progressbar=False)
    return trials


if __name__ == "__main__":
    drive(sys.argv[1], sys.argv[2], int(sys.argv[3]))
