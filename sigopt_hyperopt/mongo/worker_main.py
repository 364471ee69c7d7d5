"""``hyperopt-mongo-worker`` as ``python -m sigopt_hyperopt.mongoexp``: hyperopt's flags, this package's worker.

``main_worker_helper(options, args)`` takes hyperopt's options object (``optparse`` values, or any
object with those attributes; a missing one has hyperopt's default).  ``--max-jobs=1`` runs one job
through :class:`~.hyperopt_worker.MongoWorker` (``ReserveTimeout`` when none comes), as hyperopt does;
more jobs run in :class:`~.worker.Worker`'s loop, the one behind ``sigopt-hyperopt worker``.

What differs from hyperopt, on purpose:

* jobs run in the worker process: ``--no-subprocesses`` is accepted and changes nothing (a job per
  subprocess cannot beat or be handed back);
* SIGTERM, SIGINT and SIGHUP stop the worker cleanly: no new job, the current one finishes within the
  grace period or is handed back (NEW again) — hyperopt's ``Shutdown`` wrote it ERROR; SIGUSR1 (hyperopt's
  "finish this job, then quit") does the same;
* a reserve timeout ends the loop (hyperopt's subprocess loop counted it as a failed job and waited
  again), and a worker that gave up after ``--max-consecutive-failures`` exits with status 3, not 0,
  so a supervisor starts it again.
"""

from __future__ import annotations

import logging
import optparse
import signal
import sys
from typing import Any, Sequence

from .hyperopt_connection import as_mongo_str
from .hyperopt_worker import MongoWorker
from .jobs import MongoJobs
from .worker import GAVE_UP_EXIT_CODE, Worker, WorkerOptions

logger = logging.getLogger(__name__)

DEFAULT_MONGO = "localhost/hyperopt"


def _option(options: Any, name: str, default: Any) -> Any:
    value = getattr(options, name, default)
    return default if value is None else value


def worker_options(options: Any) -> WorkerOptions:
    """This package's worker settings for hyperopt's options (strings from the command line converted)."""
    last_job_timeout = getattr(options, "last_job_timeout", None)
    reserve_timeout = getattr(options, "reserve_timeout", 120.0)
    return WorkerOptions(
        mongo=as_mongo_str(_option(options, "mongo", DEFAULT_MONGO)),
        exp_key=getattr(options, "exp_key", None),
        poll_interval=float(_option(options, "poll_interval", 5.0)),
        max_consecutive_failures=int(_option(options, "max_consecutive_failures", 4)),
        max_jobs=int(_option(options, "max_jobs", sys.maxsize)),
        reserve_timeout=float(reserve_timeout) if reserve_timeout is not None else None,
        workdir=getattr(options, "workdir", None),
        last_job_timeout=float(last_job_timeout) if last_job_timeout is not None else None,
        max_jobs_in_db=int(_option(options, "max_jobs_in_db", sys.maxsize)),
        no_subprocesses=not getattr(options, "use_subprocesses", True),
    )


def main_worker_helper(options: Any, args: Sequence[str]) -> int:
    """Run the worker hyperopt's options describe; returns the exit status (0, or 3 when it gave up)."""
    settings = worker_options(options)
    if settings.max_jobs <= 0:
        raise ValueError("N <= 0")
    if settings.max_jobs == 1:
        handle = MongoJobs.new_from_connection_str(settings.mongo)
        MongoWorker(handle, settings.poll_interval, workdir=settings.workdir, exp_key=settings.exp_key).run_one(
            reserve_timeout=settings.reserve_timeout)
        return 0
    worker = Worker(settings)
    if hasattr(signal, "SIGHUP"):
        worker.stop_on(signal.SIGHUP, signal.SIGUSR1)
    worker.run()
    return GAVE_UP_EXIT_CODE if worker.gave_up else 0


def main_worker() -> int:
    """Parse ``hyperopt-mongo-worker``'s command line (``sys.argv``) and run the worker."""
    parser = optparse.OptionParser(usage="%prog [options]")
    parser.add_option("--exp-key", dest="exp_key", default=None, metavar="str",
                      help="take only the jobs of this search (default: any)")
    parser.add_option("--last-job-timeout", dest="last_job_timeout", metavar="T", default=None,
                      help="reserve no job after T seconds")
    parser.add_option("--max-consecutive-failures", dest="max_consecutive_failures", metavar="N", default=4,
                      help="stop after N failed jobs in a row (default: 4)")
    parser.add_option("--max-jobs", dest="max_jobs", default=sys.maxsize,
                      help="stop after this many jobs (default: no limit)")
    parser.add_option("--mongo", dest="mongo", default=DEFAULT_MONGO,
                      help="<host>[:port]/<db> of the job store (default: %default)")
    parser.add_option("--poll-interval", dest="poll_interval", metavar="N", default=5,
                      help="seconds between looks at the queue (default: 5)")
    parser.add_option("--reserve-timeout", dest="reserve_timeout", metavar="T", default=120.0,
                      help="stop when no job came within T seconds (default: 120)")
    parser.add_option("--workdir", dest="workdir", default=None, metavar="DIR",
                      help="run objectives in DIR (default: a directory per job)")
    parser.add_option("--no-subprocesses", dest="use_subprocesses", default=True, action="store_false",
                      help="accepted for compatibility: jobs always run in the worker process")
    parser.add_option("--max-jobs-in-db", dest="max_jobs_in_db", default=sys.maxsize,
                      help="stop when the database holds this many jobs (default: no limit)")
    options, args = parser.parse_args()
    if args:
        parser.print_help()
        return -1
    return main_worker_helper(options, args)


def main() -> None:
    """The command's entry point: log to stderr, run, exit with the worker's status."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    sys.exit(main_worker())
