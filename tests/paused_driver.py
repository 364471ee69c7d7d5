"""A driver that can be paused inside an algorithm call, for the fencing tests.

``python -m tests.paused_driver host:port/db exp_key max_evals lease_seconds [pause_at_call] [pause_file]``

``sigopt_hyperopt.fmin`` with ``sigopt_suggest`` (the embedded engine, or SigOpt over HTTP when
SIGOPT_API_TOKEN/SIGOPT_API_URL are set) over MongoTrials with a short lease and 0.2-second jobs.
With ``pause_at_call``, the driver writes ``pause_file`` at the start of that algorithm call and stops
itself with SIGSTOP (a laptop lid, a long GC, a VM migration): its lease thread stops with it, so the
lease expires and another driver can take the search over; the test sends SIGCONT. Exit status: 0, or
:data:`BUSY_EXIT_CODE` with the message on stderr when the driver stopped with ``SearchBusyError``.
"""

from __future__ import annotations

import os
import signal
import sys
from functools import partial
from pathlib import Path

import numpy as np
from hyperopt import hp

from sigopt_hyperopt import fmin, sigopt_suggest
from sigopt_hyperopt.errors import SearchBusyError
from sigopt_hyperopt.mongo import MongoTrials

from .objectives import slow_quadratic
from .remote_driver import FAST_RETRIES

BUSY_EXIT_CODE = 75
SPACE = {"x": hp.uniform("x", -1, 1)}


def paused_algo(pause_at: int, pause_file: str):
    """``sigopt_suggest`` that stops this process at the start of its ``pause_at``-th call."""
    algo = partial(sigopt_suggest, retry=FAST_RETRIES)
    calls = [0]

    def suggest(new_ids, domain, trials, seed):
        calls[0] += 1
        if calls[0] == pause_at:
            Path(pause_file).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGSTOP)  # returns once the test sends SIGCONT
        return algo(new_ids, domain, trials, seed)

    return suggest


def main(argv: list[str]) -> int:
    mongo_db, exp_key, max_evals, lease_seconds = argv[0], argv[1], int(argv[2]), float(argv[3])
    pause_at = int(argv[4]) if len(argv) > 4 else 0
    algo = paused_algo(pause_at, argv[5]) if pause_at else partial(sigopt_suggest, retry=FAST_RETRIES)
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key=exp_key, lease_seconds=lease_seconds)
    try:
        fmin(slow_quadratic, SPACE, algo=algo, max_evals=max_evals, trials=trials,
             rstate=np.random.default_rng(max_evals), show_progressbar=False)
    except SearchBusyError as error:
        print(f"SearchBusyError: {error}", file=sys.stderr)
        return BUSY_EXIT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
