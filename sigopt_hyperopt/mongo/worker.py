"""The worker behind ``sigopt-hyperopt worker``, a drop-in for ``hyperopt-mongo-worker``.

It speaks hyperopt's job protocol (the same documents, the pickled domain in GridFS, ``MongoCtrl``)
and adds what keeps a parallel search from losing work:

* a heartbeat: while a job runs, a thread refreshes its ``refresh_time`` (without touching its
  version, so the final write still passes hyperopt's version check);
* stale-job recovery: while looking for work (at most every ``stale_after / 4`` seconds) the worker
  requeues jobs whose owner stopped heartbeating for ``stale_after`` seconds, and marks ERROR a job
  that has been requeued ``max_requeues`` times (it kills its workers); a requeue bumps the job's
  version, so a worker that was only frozen cannot overwrite the job it lost;
* a registry entry: the worker announces itself in the ``workers`` collection while it runs, so the
  driver can size its queue to the workers it can see;
* a clean stop: on SIGTERM/SIGINT the worker takes no new job; a job still running after
  ``grace_period`` seconds is handed back (NEW again), so a clean stop leaves nothing RUNNING;
* jobs that cannot be run end in ERROR with the reason and the worker goes on: a malformed job
  document (checked before anything reads it), a result the database refuses to store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pymongo.errors
from hyperopt import mongoexp
from hyperopt.base import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_RUNNING, spec_from_misc

from ..errors import RefusedOperationError
from . import DatabaseError, MongoJobs, MongoTrials, parse_mongo_url
from .malformed import what_is_malformed
from .worker_id import new_worker_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """The options of ``hyperopt-mongo-worker`` (same defaults), and the recovery settings."""

    mongo: str = field(repr=False)  # may hold a password: never in a logged repr
    exp_key: str | None = None
    poll_interval: float = 5.0
    max_consecutive_failures: int = 4
    max_jobs: int = sys.maxsize
    reserve_timeout: float | None = 120.0
    workdir: str | None = None
    last_job_timeout: float | None = None
    heartbeat_interval: float = 5.0
    stale_after: float = 60.0
    max_requeues: int = 3
    grace_period: float = 30.0
    outage_tolerance: float = 120.0
    max_jobs_in_db: int = sys.maxsize
    no_subprocesses: bool = False
    """Accepted for compatibility: jobs always run in the worker process (heartbeat, hand-back)."""


GAVE_UP_EXIT_CODE = 3
"""``sigopt-hyperopt worker``'s exit status after ``--max-consecutive-failures`` failed jobs in a row:
not 0, so a supervisor (the cluster command's, systemd, a container runtime) starts it again."""

FULL_LOOK_S = 2.0
"""An idle worker searches the queue at least this often even when nobody rang."""


class _HandBack(BaseException):
    """Raised in the main thread when a stopping worker's grace period runs out."""


class _Malformed(Exception):
    """A job whose document a worker cannot run; it was written ERROR (not the objective's failure)."""


class Worker:
    """One worker process: reserve, evaluate with a heartbeat, write back; stop cleanly on a signal."""

    def __init__(self, options: WorkerOptions, jobs: MongoJobs | None = None) -> None:
        self.options = options
        self.address = parse_mongo_url(options.mongo) if options.mongo or jobs is None else None
        self.jobs = jobs if jobs is not None else MongoJobs.new_from_connection_str(options.mongo)
        self.jobs.outage_tolerance = options.outage_tolerance
        self.host_id = new_worker_id()
        self._stopping = threading.Event()
        self._evaluating = False
        self._next_requeue_scan = 0.0
        self._next_announcement = 0.0
        self._signal_when_empty: int | None = None
        self._handlers_installed = False
        self._next_full_look = 0.0
        self._start_directory = os.getcwd()
        self._domains: dict[tuple[Any, str], tuple[Any, Any]] = {}
        self._stop_signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)
        self.done = 0
        """Jobs completed by :meth:`run`."""
        self.gave_up = False
        """True when the worker stopped after ``max_consecutive_failures`` failed jobs in a row."""

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> int:
        """Evaluate jobs until a limit or a signal; returns the number of jobs completed."""
        self._install_signal_handlers()
        deadline = time.monotonic() + self.options.last_job_timeout if self.options.last_job_timeout else None
        done = failures = 0
        shown = self.address.redacted if self.address is not None else self.jobs.jobs.full_name
        logger.info("worker %s polling %s every %.1f s", self.host_id, shown, self.options.poll_interval)
        while done < self.options.max_jobs and failures < self.options.max_consecutive_failures:
            if self._stopping.is_set() or (deadline is not None and time.monotonic() > deadline):
                break
            if self._too_many_jobs_in_db():
                break
            job = self._reserve()
            if job is None:
                break
            if self._stopping.is_set():  # the stop came while this job was being reserved
                self._hand_back(job)
                break
            try:
                self._run_job(job)
            except _HandBack:
                self._hand_back(job)
                break
            except _Malformed as error:
                logger.warning("job %s not run: %s", job["_id"], error)
                continue
            except Exception as error:  # the objective failed, or its result was refused; the job is ERROR
                if isinstance(error, DatabaseError) and not isinstance(error, RefusedOperationError):
                    raise  # the store is gone for good: stop, saying why
                failures += 1
                logger.warning("job tid=%s failed (%d in a row): %s", job.get("tid"), failures, error)
                continue
            failures = 0
            done += 1
        self.gave_up = failures >= self.options.max_consecutive_failures
        if self.gave_up:
            logger.error("worker %s gave up after %d failed jobs in a row (--max-consecutive-failures)",
                         self.host_id, failures)
        self.done = done
        logger.info("worker %s stopping after %d jobs", self.host_id, done)
        try:
            self.jobs.retire_worker(self.host_id)
        except pymongo.errors.PyMongoError:
            pass  # the entry expires by itself
        return done

    def _too_many_jobs_in_db(self) -> bool:
        """hyperopt-mongo-worker's --max-jobs-in-db: refuse to work on a database that grew too big."""
        if self.options.max_jobs_in_db == sys.maxsize:
            return False
        count = len(self.jobs)
        if count >= self.options.max_jobs_in_db:
            logger.warning("%d jobs in the database (--max-jobs-in-db=%d): stopping", count,
                           self.options.max_jobs_in_db)
            return True
        return False

    def _reserve(self) -> dict | None:
        started = time.monotonic()
        while not self._stopping.is_set():
            self._announce(busy=False)
            if time.monotonic() >= self._next_requeue_scan:
                self.jobs.requeue_stale(self.options.stale_after, self.options.max_requeues, self.options.exp_key)
                self._next_requeue_scan = time.monotonic() + self.options.stale_after / 4
            job = self._look_for_a_job()
            if job is not None:
                return job
            if self.options.reserve_timeout and time.monotonic() - started > self.options.reserve_timeout:
                logger.info("no job within %.0f s", self.options.reserve_timeout)
                return None
            self._stopping.wait(self.options.poll_interval)
        return None

    def _look_for_a_job(self) -> dict | None:
        """Search the queue only if a job may have been queued since it was last found empty.

        The signal is read before the search, so a job queued during an empty search rings a
        value this worker has not seen. Every ``FULL_LOOK_S`` the queue is searched regardless, for
        drivers that do not ring (stock hyperopt's ``MongoTrials``).
        """
        signal_now = self.jobs.queue_signal()
        if signal_now == self._signal_when_empty and time.monotonic() < self._next_full_look:
            return None
        job = self.jobs.reserve(self.host_id, exp_key=self.options.exp_key)
        if job is None:
            self._signal_when_empty = signal_now
            self._next_full_look = time.monotonic() + max(FULL_LOOK_S, self.options.poll_interval)
        return job

    def _announce(self, busy: bool) -> None:
        """Refresh this worker's registry entry, at most once a second; it lives three periods."""
        if time.monotonic() < self._next_announcement:
            return
        period = max(self.options.poll_interval, self.options.heartbeat_interval, 1.0)
        try:
            self.jobs.announce_worker(self.host_id, self.options.exp_key, 3 * period, busy,
                                     stale_after=self.options.stale_after)
        except pymongo.errors.PyMongoError as error:  # the registry is advisory: never stop for it
            logger.warning("could not announce worker %s: %s", self.host_id, type(error).__name__)
        self._next_announcement = time.monotonic() + 1.0

    # -- one job ---------------------------------------------------------------------------------

    def _run_job(self, job: dict) -> None:
        started = time.monotonic()
        malformed = what_is_malformed(job)
        if malformed is not None:
            self.jobs.update(job, {"state": JOB_STATE_ERROR, "error": ("MalformedJob", malformed),
                                   "refresh_time": self.jobs.now()})
            raise _Malformed(malformed)
        logger.info("job tid=%s (%s) reserved", job["tid"], job["_id"])
        trials = MongoTrials(self.jobs, exp_key=job["exp_key"], refresh=False)
        ctrl = mongoexp.MongoCtrl(trials=trials, current_trial=job, read_only=False)
        heartbeat = _Heartbeat(self, job)
        self._evaluating = True
        if self._stopping.is_set():
            # The stop came after the loop's last look and before this job was marked as evaluating:
            # the signal handler armed no grace period, so arm it here, or the job runs to its end.
            self._arm_grace_period()
        try:
            try:
                # Loading the domain fails when the objective's module is missing here: that is the
                # job's error too, written as ERROR, never a job left RUNNING by a worker that moved on.
                domain = self._load_domain(trials, job)
                result = mongoexp.SONify(self._evaluate_in_workdir(domain, job, ctrl))
            except (_HandBack, DatabaseError):
                raise
            except BaseException as error:
                heartbeat.stop()
                self._write_error(job, error)
                raise
            # The heartbeat must be over before the result is written: on a server that applies
            # updates as read-modify-write, a late heartbeat would put back the RUNNING document.
            heartbeat.stop()
            try:
                for name, value in result.pop("attachments", {}).items():
                    ctrl.attachments[name] = value
                self.jobs.update(job, {"state": JOB_STATE_DONE, "result": result, "refresh_time": self.jobs.now()})
            except RefusedOperationError as error:
                self._write_error(job, RefusedOperationError(f"the database refused to store the result: {error}"))
                raise
            except (mongoexp.OperationFailure, DatabaseError):
                raise  # the job was requeued meanwhile (its new owner writes it), or the store is gone
            except Exception as error:  # e.g. a result too large or not storable
                self._write_error(job, error)
                raise
        finally:
            self._evaluating = False
            heartbeat.stop()
            signal.alarm(0)
        logger.info("job tid=%s done in %.2f s", job["tid"], time.monotonic() - started)

    def _evaluate_in_workdir(self, domain: Any, job: dict, ctrl: Any) -> Any:
        """Evaluate in ``--workdir``, else in a directory of the job's own (hyperopt's layout), which is
        removed afterwards when the objective left nothing in it.  The working directory is restored
        even when the objective raises (hyperopt's ``working_dir`` leaves it, and the next job's
        directory then ends up inside the last one's)."""
        base = job["misc"].get("workdir") or self._start_directory
        workdir = os.path.abspath(self.options.workdir or os.path.join(base, str(job["_id"])))
        made_for_this_job = not self.options.workdir and not os.path.exists(workdir)
        os.makedirs(workdir, exist_ok=True)
        try:
            with contextlib.chdir(workdir):
                return domain.evaluate(spec_from_misc(job["misc"]), ctrl)
        finally:
            if made_for_this_job:
                _remove_if_empty(workdir)

    def _write_error(self, job: dict, error: BaseException) -> None:
        self.jobs.update(job, {"state": JOB_STATE_ERROR, "error": (str(type(error)), str(error)),
                               "refresh_time": self.jobs.now()})

    def _load_domain(self, trials: MongoTrials, job: dict) -> Any:
        """The search's domain, unpickled once per GridFS file (a new file id means a new domain)."""
        name = job["misc"]["cmd"][1]
        version = trials.attachments.version(name)
        cached = self._domains.get((job["exp_key"], name))
        if cached is not None and cached[0] == version:
            return cached[1]
        domain = mongoexp.pickler.loads(trials.attachments[name])
        self._domains[(job["exp_key"], name)] = (version, domain)
        logger.info("loaded the domain of search %r (file %s)", job["exp_key"], version)
        return domain

    def _hand_back(self, job: dict) -> None:
        if self.jobs.hand_back(job, self.host_id):
            logger.warning("job tid=%s handed back unfinished (stop requested)", job.get("tid"))

    # -- signals ---------------------------------------------------------------------------------

    def stop_on(self, *signums: int) -> None:
        """Also stop cleanly on these signals (besides SIGTERM and SIGINT), from the next :meth:`run`."""
        self._stop_signals = (*self._stop_signals, *signums)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def stop(signum: int, _frame: Any) -> None:
            if self._stopping.is_set():
                if self._evaluating:
                    raise _HandBack()  # a second signal: do not wait for the grace period
                return
            self._stopping.set()
            logger.info("signal %d: taking no new job%s", signum,
                        f"; finishing the current one within {self.options.grace_period:.0f} s" if self._evaluating else "")
            if self._evaluating:
                self._arm_grace_period()

        def grace_over(_signum: int, _frame: Any) -> None:
            if self._evaluating:
                raise _HandBack()

        for signum in self._stop_signals:
            signal.signal(signum, stop)
        signal.signal(signal.SIGALRM, grace_over)
        self._handlers_installed = True

    def _arm_grace_period(self) -> None:
        """Hand the running job back when the grace period is over (SIGALRM; only where the handlers are ours)."""
        if self._handlers_installed:
            signal.alarm(max(1, int(round(self.options.grace_period))))


def _remove_if_empty(directory: str) -> None:
    """A job's own directory goes when the objective left nothing in it (hyperopt keeps it always)."""
    try:
        os.rmdir(directory)
    except OSError:
        pass  # it holds the objective's files: they are the user's


class _Heartbeat:
    """While a job runs, refresh its ``refresh_time`` (and the worker's registry entry)."""

    def __init__(self, worker: Worker, job: dict) -> None:
        self._worker = worker
        self._job = job
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job['tid']}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and wait for a beat in flight to land; safe to call twice."""
        self._finished.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _beat(self) -> None:
        worker, job = self._worker, self._job
        while not self._finished.wait(worker.options.heartbeat_interval):
            try:
                worker.jobs.jobs.update_one({"_id": job["_id"], "owner": worker.host_id, "state": JOB_STATE_RUNNING},
                                            {"$set": {"refresh_time": worker.jobs.now()}})
            except pymongo.errors.PyMongoError as error:  # a missed beat, not a reason to stop beating
                logger.warning("heartbeat of job tid=%s missed: %s", job["tid"], type(error).__name__)
            worker._announce(busy=True)


def run_worker(options: WorkerOptions) -> Worker:
    """Run a worker with these options until it stops; returns it (``gave_up`` says why it stopped)."""
    worker = Worker(options)
    worker.run()
    return worker
