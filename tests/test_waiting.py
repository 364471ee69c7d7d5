"""A Mongo search that cannot make progress says why, and Ctrl-C ends it with one line saying how to go on.

The driver is a script run as a user runs it (``python search.py``), the workers are the installed
``sigopt-hyperopt worker`` command, the database a real server (FerretDB unless ``MONGO_URL``).
The first cases read :func:`why_waiting` directly on documents as the store holds them.
"""

from __future__ import annotations

import datetime
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymongo

from sigopt_hyperopt.mongo.address import parse_mongo_url
from sigopt_hyperopt.mongo.waiting import why_waiting, worker_command

from .test_cli_messages import COMMAND
from .test_worker import stop_all

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)
COMMAND_TEXT = "sigopt-hyperopt worker --mongo=db.example:27017/search"


def _doc(tid: int, state: int, **fields) -> dict:
    return {"_id": tid, "tid": tid, "state": state, "result": {"status": "new"}, "misc": {}, **fields}


def _worker(worker_id: str, alive: bool, stale_after: float | None = 30.0) -> dict:
    expires = NOW + datetime.timedelta(seconds=5 if alive else -5)
    return {"_id": worker_id, "expires": expires, **({"stale_after": stale_after} if stale_after else {})}


def test_no_live_worker_names_the_command_to_start():
    docs = [_doc(0, 0), _doc(1, 0)]
    wait = why_waiting(docs, [_worker("gone:1:aa", alive=False)], NOW, COMMAND_TEXT)
    assert wait.kind == "no-worker"
    assert f"start `{COMMAND_TEXT}`" in wait.message and "2 job(s) queued" in wait.message


def test_a_running_trial_whose_worker_stopped_says_when_it_is_requeued():
    last_beat = NOW - datetime.timedelta(seconds=10)
    docs = [_doc(0, 2, result={"status": "ok", "loss": 1.0}),
            _doc(1, 1, owner="dead:7:bb", refresh_time=last_beat)]
    wait = why_waiting(docs, [_worker("dead:7:bb", alive=False), _worker("live:8:cc", alive=True, stale_after=30)],
                       NOW, COMMAND_TEXT)
    assert wait.kind == "requeue"
    assert "trial 1 was running on worker dead:7:bb" in wait.message
    assert "at about 12:00:20 UTC (in 20 s)" in wait.message and "30 s after its last heartbeat" in wait.message


def test_every_failed_trial_names_the_first_failure_and_its_worker():
    docs = [_doc(0, 3, owner="box:9:dd", error=["<class 'ModuleNotFoundError'>", "No module named 'myobj'"]),
            _doc(1, 0)]
    wait = why_waiting(docs, [_worker("box:9:dd", alive=True)], NOW, COMMAND_TEXT)
    assert wait.kind == "failing"
    assert "trial 0 on worker box:9:dd raised ModuleNotFoundError: No module named 'myobj'" in wait.message


def test_nothing_is_said_while_live_workers_run_the_trials():
    docs = [_doc(0, 2, result={"status": "ok", "loss": 1.0}), _doc(1, 1, owner="live:8:cc", refresh_time=NOW)]
    assert why_waiting(docs, [_worker("live:8:cc", alive=True)], NOW, COMMAND_TEXT) is None
    assert why_waiting([_doc(0, 2, result={"status": "ok", "loss": 1.0})], [], NOW, COMMAND_TEXT) is None


def test_the_worker_command_never_shows_the_password():
    address = parse_mongo_url("mongo://alice:hunter2@db.example:27017/search/jobs?authSource=admin")
    command = worker_command(address, "exp1")
    assert "hunter2" not in command
    assert command == ("sigopt-hyperopt worker --mongo='alice@db.example:27017/search?authSource=admin' "
                       "--mongo-password-file=FILE --exp-key=exp1")


# -- real driver scripts and workers --------------------------------------------------------------------------------

DRIVER = """\
import sys, time
import hyperopt
from hyperopt import hp
import sigopt_hyperopt
from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.mongo import MongoTrials
{objective}

trials = MongoTrials("mongo://{mongo_db}/jobs", exp_key="{exp_key}", poll_interval=0.2)
best = {fmin}(objective, {{"x": hp.uniform("x", -1, 1)}}, algo=sigopt_suggest, max_evals={max_evals}, trials=trials)
print("best", best, flush=True)
"""

INLINE_OBJECTIVE = """\
def objective(params):
    time.sleep({sleep})
    return (params["x"] - 0.25) ** 2
"""

IMPORTED_OBJECTIVE = "from myobj import objective  # a module beside the script: not on the workers' path"


class Driver:
    """``python search.py`` in its own folder, its output read line by line as it comes."""

    def __init__(self, folder: Path, mongo_db: str, exp_key: str, *, max_evals: int, sleep: float = 0.0,
                 objective: str = "", fmin: str = "hyperopt.fmin") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        script = folder / "search.py"
        objective = objective or INLINE_OBJECTIVE.format(sleep=sleep)
        script.write_text(DRIVER.format(mongo_db=mongo_db, exp_key=exp_key, max_evals=max_evals, objective=objective,
                                        fmin=fmin))
        env = {k: v for k, v in os.environ.items() if k not in ("SIGOPT_API_TOKEN", "PYTHONPATH")}
        self.process = subprocess.Popen([sys.executable, str(script)], cwd=folder, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float = 120.0) -> str:
        """The first line (from now on or already read) that holds ``text``."""
        for line in self.lines:
            if text in line:
                return line
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None and self._queue.empty():
                    break
                continue
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in:\n{''.join(self.lines)}")

    def finish(self, timeout: float = 180.0) -> str:
        self.process.wait(timeout=timeout)
        time.sleep(0.5)  # the reader drains the pipe
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return "".join(self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=20)


def start_worker(command: str, cwd: Path, *extra: str) -> subprocess.Popen:
    """A worker started with a command as a message shows it (``sigopt-hyperopt`` is the installed script)."""
    words = shlex.split(command)
    assert words[0] == "sigopt-hyperopt", command
    env = {k: v for k, v in os.environ.items() if k not in ("SIGOPT_API_TOKEN", "PYTHONPATH")}
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([COMMAND, *words[1:], "--poll-interval=0.2", *extra], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_search_without_workers_says_which_command_to_start_and_that_command_finishes_it(mongo_db, tmp_path):
    driver = Driver(tmp_path / "driver", mongo_db, "no-worker", max_evals=3)
    workers = []
    try:
        line = driver.wait_for("no worker is serving this search")
        shown = line.split("start `", 1)[1].split("`", 1)[0]
        assert shown == f"sigopt-hyperopt worker --mongo={mongo_db} --exp-key=no-worker", line
        workers.append(start_worker(shown, tmp_path / "elsewhere", "--reserve-timeout=0"))  # stopped below
        output = driver.finish()
        assert driver.process.returncode == 0, output
        assert "best {'x':" in output
    finally:
        driver.stop()
        stop_all(workers)


def test_workers_that_cannot_import_the_objective_end_the_search_naming_the_error_and_the_worker(mongo_db, tmp_path):
    """Before, the driver ended in ``ValueError: There are no finished trials`` and the cause was only
    in the worker's log."""
    folder = tmp_path / "driver"
    folder.mkdir()
    (folder / "myobj.py").write_text("def objective(params):\n    return params['x'] ** 2\n")
    driver = Driver(folder, mongo_db, "no-import", max_evals=4, objective=IMPORTED_OBJECTIVE)
    # It gives up after its 4th failed job in a row (--max-consecutive-failures): the search's last one.
    worker = start_worker(f"sigopt-hyperopt worker --mongo={mongo_db}", tmp_path / "elsewhere", "--reserve-timeout=0")
    try:
        output = driver.finish()
        assert driver.process.returncode == 1, output
        last = output.strip().splitlines()[-1]
        assert last.startswith("sigopt_hyperopt.errors.AllTrialsFailedError: All 4 trials failed"), output
        assert "raised ModuleNotFoundError: No module named 'myobj'" in last
        early = driver.wait_for("the first 3 trials all failed on the workers")  # said before the search ended
        assert "No module named 'myobj'" in early and output.index(early) < output.index("Traceback"), output
        worker_output = worker.communicate(timeout=60)[0]
        worker_id = next(line.split("worker ", 1)[1].split(" ", 1)[0] for line in worker_output.splitlines()
                         if " polling " in line)
        assert f"on worker {worker_id} raised" in last and f"on worker {worker_id} raised" in early, worker_output
    finally:
        driver.stop()
        stop_all([worker])


def test_a_stalled_search_says_its_workers_gave_up_and_ctrl_c_ends_it_with_how_to_continue(mongo_db, tmp_path):
    folder = tmp_path / "driver"
    folder.mkdir()
    (folder / "myobj.py").write_text("def objective(params):\n    return params['x'] ** 2\n")
    driver = Driver(folder, mongo_db, "gave-up", max_evals=6, objective=IMPORTED_OBJECTIVE, fmin="sigopt_hyperopt.fmin")
    worker = start_worker(f"sigopt-hyperopt worker --mongo={mongo_db}", tmp_path / "elsewhere",
                          "--max-consecutive-failures=2", "--reserve-timeout=0")
    try:
        assert worker.wait(timeout=120) == 3  # gave up
        line = driver.wait_for("no worker is serving this search")
        assert "the workers' trials all failed so far" in line and "No module named 'myobj'" in line, line
        driver.process.send_signal(signal.SIGINT)
        output = driver.finish()
        assert driver.process.returncode == 1, output  # a subclass of KeyboardInterrupt: Python exits with 1
        assert "During handling" not in output, output  # one exception, not a chain
        last = output.strip().splitlines()[-1]
        assert last.startswith("sigopt_hyperopt.errors.SearchInterrupted: search 'gave-up' interrupted with 2 of 6 "
                               "trial(s) finished"), output
        assert "To continue, run the same fmin again" in last and mongo_db in last
    finally:
        driver.stop()
        stop_all([worker])


def test_a_sigkilled_workers_trial_is_announced_as_waiting_for_its_requeue(mongo_db, tmp_path):
    driver = Driver(tmp_path / "driver", mongo_db, "killed", max_evals=4, sleep=1.0)
    command = f"sigopt-hyperopt worker --mongo={mongo_db}"
    options = ("--heartbeat-interval=0.3", "--stale-after=30", "--reserve-timeout=0")  # stopped below
    workers = [start_worker(command, tmp_path / f"w{i}", *options) for i in range(3)]
    client = pymongo.MongoClient(f"mongodb://{mongo_db.split('/')[0]}")
    try:
        jobs = client[mongo_db.split("/")[1]]["jobs"]
        deadline = time.monotonic() + 120
        while (running := jobs.find_one({"exp_key": "killed", "state": 1})) is None:
            assert time.monotonic() < deadline, driver.finish(timeout=1)
            time.sleep(0.1)
        victim_pid = int(running["owner"].split(":")[1])
        os.kill(victim_pid, signal.SIGKILL)
        line = driver.wait_for(f"trial {running['tid']} was running on worker {running['owner']}, which stopped")
        assert "a live worker requeues it" in line and "30 s after its last heartbeat" in line, line
        output = driver.finish()
        assert driver.process.returncode == 0, output
        survivors = [w for w in workers if w.pid != victim_pid]
        for survivor in survivors:
            survivor.terminate()
        said = "".join(survivor.communicate(timeout=60)[0] for survivor in survivors)
        requeued = [line for line in said.splitlines() if "stopped heartbeating" in line]
        assert len(requeued) == 1, said  # one requeue, logged once by the one worker that did it
    finally:
        client.close()
        driver.stop()
        stop_all(workers)
