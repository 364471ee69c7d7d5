"""A search driver for the remote-engine tests: fmin over MongoTrials with SigOpt over HTTP.

Run as a process (``python -m tests.remote_driver host:port/db exp_key max_evals``) so a test can
kill it like a real driver dies; the tests also call :func:`drive` in process to continue the search.
SIGOPT_API_TOKEN and SIGOPT_API_URL come from the environment.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import numpy as np
from hyperopt import fmin, hp

from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.mongo import MongoTrials
from sigopt_hyperopt.engines.remote.retry import RetryPolicy

from .objectives import slow_quadratic

FAST_RETRIES = RetryPolicy(max_attempts=12, max_total_seconds=60, initial_delay=0.01, max_delay=0.2,
                           request_timeout=10)
"""Short backoffs so fault-injection tests take seconds; the bounds are the product's."""

SPACE = {"x": hp.uniform("x", -1, 1)}


def drive(mongo_db: str, exp_key: str, max_evals: int, *, max_queue_len: int = 3, seed: int = 0,
          **options: Any) -> MongoTrials:
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key=exp_key)
    algo = partial(sigopt_suggest, retry=FAST_RETRIES, **options)
    fmin(slow_quadratic, SPACE, algo=algo, max_evals=max_evals, trials=trials, max_queue_len=max_queue_len,
         rstate=np.random.default_rng(seed), show_progressbar=False)
    return trials


if __name__ == "__main__":
    mongo_db, exp_key, max_evals = sys.argv[1], sys.argv[2], int(sys.argv[3])
    drive(mongo_db, exp_key, max_evals, parallel_bandwidth=int(sys.argv[4]) if len(sys.argv) > 4 else None)
