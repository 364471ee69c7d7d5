"""What a ``MongoTrials`` driver is waiting for, in words a user can act on.

A driver whose search makes no progress sat silent: a progress bar at ``0/3`` when no worker ran,
at ``39/40`` for a minute while a killed worker's job waited to be requeued.  :func:`why_waiting`
reads the search's trial documents, the worker registry and the server's clock (nothing else: it
is a pure function, so each case is tested without waiting for it) and says which of these holds:

* no live worker takes this search's jobs: the worker command to start, with the real address (the
  password never: it comes from a file or the environment);
* a running trial's worker stopped (its registry entry expired): which trial, on which worker, and
  when a live worker requeues it (``stale_after`` after its last heartbeat, as each worker announces);
* every trial that finished so far failed on the workers: the first failure, with its worker
  (:func:`failing_from_the_start`, which the driver also asks while failures come fast).

The driver's loop (:mod:`.dispatch`) asks only after a few seconds without progress and shows the
answer in the progress bar and, at longer intervals, as a WARNING.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Iterable

from hyperopt.base import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING, STATUS_OK

from ..fmin_checks import first_failure
from .address import MongoAddress, redact

DEFAULT_STALE_AFTER_S = 60.0
"""``sigopt-hyperopt worker --stale-after``'s default: assumed for a worker that does not announce its own."""


@dataclass(frozen=True)
class Wait:
    """Why the driver is waiting: ``kind`` (``no-worker``, ``requeue``, ``failing``), a short ``note``
    for the progress bar, and the ``message`` that says what happens next or what to do."""

    kind: str
    note: str
    message: str


def worker_command(address: MongoAddress, exp_key: str | None) -> str:
    """The ``sigopt-hyperopt worker`` command that serves this search, as a user would type it.

    The password is never in it (``--mongo-password-file`` says where it comes from), nor the value
    of an option that can hold a secret (masked as in every message, see :mod:`.address`).
    """
    user = f"{address.username}@" if address.username else ""
    collection = "" if address.collection == "jobs" else f"/{address.collection}"
    url = f"{user}{address.hosts_text}/{address.database}{collection}"
    if address.query:
        url = "'" + url + "?" + redact("mongo://" + url + "?" + address.query).partition("?")[2] + "'"  # a shell word
    command = f"sigopt-hyperopt worker --mongo={url}"
    if address.username:
        command += " --mongo-password-file=FILE"
    if exp_key is not None:
        command += f" --exp-key={exp_key}"
    return command


def why_waiting(docs: Iterable[dict], workers: Iterable[dict], now: datetime.datetime, command: str) -> Wait | None:
    """Why a search with unfinished trials makes no progress, or None when nothing is wrong that can be seen.

    ``docs``: the search's trial documents; ``workers``: the registry entries of workers that take its
    jobs (expired ones included: they name the workers that stopped); ``now``: the database server's
    time (every time in the registry and the jobs is the server's); ``command``: :func:`worker_command`.
    """
    docs = list(docs)
    unfinished = [doc for doc in docs if doc.get("state") in (JOB_STATE_NEW, JOB_STATE_RUNNING)]
    if not unfinished:
        return None
    live = {worker["_id"]: worker for worker in workers if worker.get("expires") is not None and worker["expires"] > now}
    failure = _every_finished_failed(docs)
    if not live:
        queued = sum(doc["state"] == JOB_STATE_NEW for doc in unfinished)
        message = f"no worker is serving this search ({queued} job(s) queued): start `{command}`"
        if failure:
            message += f"; the workers' trials all failed so far (the first: {failure})"
        return Wait("no-worker", "no worker serves this search", message)
    stranded = sorted((doc for doc in unfinished if doc["state"] == JOB_STATE_RUNNING and doc.get("owner") not in live),
                      key=lambda doc: doc.get("tid", 0))
    if stranded:
        return _requeue_pending(stranded, live.values(), now)
    return failing_from_the_start(docs, at_least=1)


def failing_from_the_start(docs: Iterable[dict], at_least: int) -> Wait | None:
    """``at_least`` trials or more finished and every one failed: the first failure, with its worker.

    Said while the search still makes progress (jobs fail fast): a worker that cannot import the
    objective fails every job, and waiting for the end of the search to hear it wastes the search.
    """
    docs = list(docs)
    finished = sum(doc.get("state") in (JOB_STATE_DONE, JOB_STATE_ERROR) for doc in docs)
    failure = _every_finished_failed(docs) if finished >= at_least else None
    if failure is None:
        return None
    return Wait("failing", "every trial failed so far",
                f"the first {finished} trials all failed on the workers (the first: {failure}); fix the cause on the "
                "workers' machines (install the objective's module there, or run the objective by hand)")


def _every_finished_failed(docs: list[dict]) -> str | None:
    """The first failure when trials finished and none succeeded, else None."""
    finished = [doc for doc in docs if doc.get("state") in (JOB_STATE_DONE, JOB_STATE_ERROR)]
    if any(doc["state"] == JOB_STATE_DONE and (doc.get("result") or {}).get("status") == STATUS_OK for doc in finished):
        return None
    return first_failure(finished)


def _requeue_pending(stranded: list[dict], live: Iterable[dict], now: datetime.datetime) -> Wait:
    """The first running trial whose worker stopped, and when a live worker gives it to another."""
    doc = stranded[0]
    stale_after = min(float(worker.get("stale_after") or DEFAULT_STALE_AFTER_S) for worker in live)
    last_beat = doc.get("refresh_time") or doc.get("book_time") or now
    retry_at = last_beat + datetime.timedelta(seconds=stale_after)
    left = (retry_at - now).total_seconds()
    when = f"at about {retry_at:%H:%M:%S} UTC (in {left:.0f} s)" if left > 0 else "at the next scan of a live worker"
    others = f" ({len(stranded) - 1} more like it)" if len(stranded) > 1 else ""
    message = (f"trial {doc.get('tid')} was running on worker {doc.get('owner')}, which stopped (no heartbeat since "
               f"{last_beat:%H:%M:%S} UTC){others}; a live worker requeues it {when}, {stale_after:g} s after its "
               "last heartbeat (the workers' --stale-after)")
    return Wait("requeue", f"trial {doc.get('tid')} waits to be requeued", message)
