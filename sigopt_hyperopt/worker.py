"""The worker loop behind ``sigopt-hyperopt worker``, a drop-in for ``hyperopt-mongo-worker``.

It takes jobs from the MongoDB store through this package's pymongo-4 :class:`~.mongo.MongoJobs`
and evaluates them with hyperopt's own ``MongoWorker.run_one`` (same job protocol, same trial
documents), so a search driven by ``fmin`` with :class:`~.mongo.MongoTrials` is evaluated exactly as
hyperopt would evaluate it.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

from hyperopt import mongoexp

from .mongo import MongoJobs, parse_mongo_url

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """The options of ``hyperopt-mongo-worker``, with its defaults."""

    mongo: str
    exp_key: str | None = None
    poll_interval: float = 5.0
    max_consecutive_failures: int = 4
    max_jobs: int = sys.maxsize
    reserve_timeout: float | None = 120.0
    workdir: str | None = None
    last_job_timeout: float | None = None


def run_worker(options: WorkerOptions) -> int:
    """Evaluate jobs until a limit is reached; returns the number of jobs completed."""
    address = parse_mongo_url(options.mongo)  # host:port/db, as hyperopt-mongo-worker takes it
    jobs = MongoJobs.new_from_connection_str(options.mongo)
    worker = mongoexp.MongoWorker(jobs, options.poll_interval, workdir=options.workdir, exp_key=options.exp_key,
                                  logfilename=None)
    deadline = time.monotonic() + options.last_job_timeout if options.last_job_timeout else None
    done = failures = 0
    logger.info("worker polling %s every %.1f s", address.redacted, options.poll_interval)
    while done < options.max_jobs and failures < options.max_consecutive_failures:
        if deadline is not None and time.monotonic() > deadline:
            logger.info("last-job-timeout reached after %d jobs", done)
            break
        started = time.monotonic()
        try:
            worker.run_one(reserve_timeout=options.reserve_timeout)
        except mongoexp.ReserveTimeout:
            logger.info("no job within %s s; stopping after %d jobs", options.reserve_timeout, done)
            break
        except Exception as error:  # the job is marked ERROR by run_one; count it and go on
            failures += 1
            logger.warning("job failed (%d in a row): %s", failures, error)
            continue
        failures = 0
        done += 1
        logger.info("job done in %.2f s (%d so far)", time.monotonic() - started, done)
    return done
