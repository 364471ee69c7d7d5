"""Keep one ``sigopt-hyperopt worker`` running on a cluster host until told to stop.

``python -m sigopt_hyperopt.cluster.supervise --pids-file F -- worker --workdir=... ...``

The worker finds its database in ``SIGOPT_HYPEROPT_MONGO``, which the supervisor inherits and passes
on: a password on a command line would be shown to every user of the host.

A worker exits with an error when it cannot reach the database (at its start, or after an outage
longer than the store's tolerance), which on a cluster usually means the SSH tunnel is not up yet
or dropped. The supervisor starts it again after a pause that grows to a minute, so workers ride out
tunnels that come late or drop for a while. SIGTERM/SIGINT are passed on to the worker (which then
takes no new job and hands back an unfinished one after its grace period) and end the supervisor
once the worker has exited. A worker that exits normally (0) is not restarted.
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
from typing import Any, Sequence

logger = logging.getLogger("sigopt_hyperopt.cluster.supervise")

MAX_PAUSE_S = 60.0


def supervise(worker_args: Sequence[str], pids_file: str, first_pause: float = 2.0) -> int:
    stopping = threading.Event()
    current: list[subprocess.Popen] = []

    def stop(signum: int, _frame: Any) -> None:
        stopping.set()
        for process in current:
            if process.poll() is None:
                process.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pause = first_pause
    while True:
        process = subprocess.Popen([sys.executable, "-m", "sigopt_hyperopt.cli", *worker_args])
        current[:] = [process]
        with open(pids_file, "a") as out:
            out.write(f"{process.pid}\n")
        logger.info("worker process %d started", process.pid)
        code = process.wait()
        if code == 0 or stopping.is_set():
            logger.info("worker process %d exited (%d); supervisor done", process.pid, code)
            return code
        logger.warning("worker process %d exited with %d; starting another in %.0f s", process.pid, code, pause)
        if stopping.wait(pause):
            return code
        pause = min(pause * 2, MAX_PAUSE_S)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sigopt_hyperopt.cluster.supervise")
    parser.add_argument("--pids-file", required=True, help="append each worker process id here")
    parser.add_argument("--first-pause", type=float, default=2.0)
    parser.add_argument("worker_args", nargs=argparse.REMAINDER, help="-- then the `sigopt-hyperopt` arguments")
    args = parser.parse_args(argv)
    worker_args = args.worker_args[1:] if args.worker_args[:1] == ["--"] else args.worker_args
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervise: %(message)s")
    return supervise(worker_args, args.pids_file, args.first_pause)


if __name__ == "__main__":
    sys.exit(main())
