"""hyperopt's ``MongoWorker`` (``run_one``) on this package's worker: claims, heartbeat, requeue.

``MongoWorker(mj, poll_interval, workdir, exp_key, logfilename).run_one(host_id, reserve_timeout,
erase_created_workdir)`` reserves one job (raising ``ReserveTimeout`` when none came in time), runs it
and writes its result, as hyperopt's does.  Underneath it is :class:`~.worker.Worker`'s one-job path:
the job is owned through a unique-key claim, beats while it runs (a worker that dies leaves a job
the others requeue), and a result's ``attachments`` are stored as the trial's attachments.

What differs from hyperopt, on purpose:

* the owner is stored as a string: a ``host_id`` tuple such as ``("hostname", 0)`` becomes
  ``"hostname:0"`` (MongoDB refuses an array as the worker registry's ``_id``); ``None`` is
  ``host:pid:random``;
* a relative ``workdir`` is resolved against the process's directory, not the one another thread's
  job changed to, and workers in threads of one process share the directory (:mod:`.shared_cwd`);
* the commands run are ``domain_attachment`` (what ``fmin`` writes) and ``token_load``
  (``package.module.function``); the pickled-bandit commands of hyperopt's early versions end the
  job in ERROR saying so.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
from typing import Any, Callable

from hyperopt.base import spec_from_misc
from hyperopt.mongoexp import ReserveTimeout

from .jobs import MongoJobs
from .shared_cwd import working_in
from .trials import MongoTrials
from .worker import Worker, WorkerOptions

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(levelname)s (%(name)s): %(message)s"

RUNNABLE_COMMANDS = ("domain_attachment", "token_load")


def exec_import(cmd_module: str, cmd: str) -> Callable:
    """The object ``cmd`` (``package.module.name``) after importing ``cmd_module``: what ``token_load`` runs."""
    module = importlib.import_module(cmd_module)
    attribute = cmd[len(cmd_module) + 1:] if cmd.startswith(cmd_module + ".") else cmd
    target: Any = module
    for name in attribute.split("."):
        target = getattr(target, name)
    return target


def stored_owner(host_id: Any) -> str:
    """The owner a job document records for ``host_id``: a string (tuple parts joined with ``:``)."""
    if isinstance(host_id, (tuple, list)):
        return ":".join(str(part) for part in host_id)
    return str(host_id)


class _FunctionDomain:
    """A ``token_load`` function seen as a domain: ``evaluate(spec, ctrl)`` calls it."""

    def __init__(self, function: Callable) -> None:
        self._function = function

    def evaluate(self, spec: dict, ctrl: Any) -> Any:
        return self._function(spec, ctrl)


class _OneJob(Worker):
    """:class:`Worker` running single jobs in hyperopt's directory layout, for :class:`MongoWorker`."""

    erase_created_workdir = False

    def _evaluate_in_workdir(self, domain: Any, job: dict, ctrl: Any) -> Any:
        """In ``workdir``, else in ``<the job's misc.workdir, else the current directory>/<job _id>``."""
        workdir = self.options.workdir
        if workdir is None:
            workdir = os.path.join(job["misc"].get("workdir") or "", str(job["_id"]))
        with working_in(workdir, self.erase_created_workdir):
            return domain.evaluate(spec_from_misc(job["misc"]), ctrl)

    def _load_domain(self, trials: MongoTrials, job: dict) -> Any:
        kind, name = job["misc"]["cmd"]
        if kind == "domain_attachment":
            return super()._load_domain(trials, job)
        if kind == "token_load":
            return _FunctionDomain(exec_import(name.rpartition(".")[0], name))
        raise ValueError(f"job command {kind!r} is not run by sigopt_hyperopt.mongoexp.MongoWorker "
                         f"(it runs {', '.join(RUNNABLE_COMMANDS)}); queue the search with fmin")


class MongoWorker:
    """Run jobs of a ``MongoJobs`` queue one at a time (hyperopt's class and signature)."""

    poll_interval: float = 3.0
    workdir: str | None = None

    def __init__(self, mj: MongoJobs, poll_interval: float = poll_interval, workdir: str | None = workdir,
                 exp_key: str | None = None, logfilename: str | None = "logfile.txt") -> None:
        """``mj``: the queue; ``poll_interval``: seconds between looks for a job; ``workdir``: where
        objectives run (default: a directory per job); ``exp_key``: take only this search's jobs;
        ``logfilename``: a file that receives the log while a job runs (None: none)."""
        self.mj = mj
        self.poll_interval = poll_interval
        self.workdir = workdir
        self.exp_key = exp_key
        self.logfilename = logfilename
        self._runner: _OneJob | None = None
        self._own_id = ""

    def make_log_handler(self) -> None:
        """``self.log_handler``: the file handler ``run_one`` attaches to the root logger."""
        self.log_handler = logging.FileHandler(self.logfilename)
        self.log_handler.setFormatter(logging.Formatter(fmt=LOG_FORMAT))
        self.log_handler.setLevel(logging.INFO)

    def run_one(self, host_id: Any = None, reserve_timeout: float | None = None,
                erase_created_workdir: bool = False) -> None:
        """Reserve one job (waiting at most ``reserve_timeout`` seconds, forever when None), run it, store
        its result; raises ``ReserveTimeout`` when no job came, the objective's exception when it failed
        (the job is then ERROR).  ``erase_created_workdir``: remove the job's directory afterwards if
        this call created it."""
        runner = self._runner_for(reserve_timeout)
        runner.host_id = stored_owner(host_id) if host_id is not None else self._own_id
        runner.erase_created_workdir = erase_created_workdir
        job = runner._reserve()
        if job is None:
            raise ReserveTimeout()
        root = logging.getLogger()
        if self.logfilename:
            self.make_log_handler()
            root.addHandler(self.log_handler)
        try:
            runner._run_job(job)
        finally:
            if self.logfilename:
                root.removeHandler(self.log_handler)
                self.log_handler.close()
        logger.info("job finished: %s", job["_id"])

    def _runner_for(self, reserve_timeout: float | None) -> _OneJob:
        options = WorkerOptions(mongo="", exp_key=self.exp_key, poll_interval=float(self.poll_interval),
                                reserve_timeout=float(reserve_timeout) if reserve_timeout else None,
                                workdir=self.workdir)
        if self._runner is None:
            self._runner = _OneJob(options, jobs=self.mj)
            self._own_id = self._runner.host_id  # host:pid:random, for calls that name no host_id
        else:
            self._runner.options = dataclasses.replace(options, outage_tolerance=self._runner.options.outage_tolerance)
        return self._runner
