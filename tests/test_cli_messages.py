"""What the command says when a user gets something wrong: one line that says what to do, no traceback.

Every case runs the installed ``sigopt-hyperopt`` command (the console script, as a user types it) on
real files and sockets.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import socket
import subprocess
import sys
from pathlib import Path

import hyperopt
import numpy as np
import pytest
from hyperopt import Trials, hp

from sigopt_hyperopt.mongo.worker import WorkerOptions

COMMAND = str(Path(sys.executable).with_name("sigopt-hyperopt"))
SPACE_MODULE = 'from hyperopt import hp\nSPACE = {"x": hp.uniform("x", -1, 1)}\n'


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SIGOPT_API_TOKEN", "PYTHONPATH")}
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def assert_one_clear_line(done: subprocess.CompletedProcess, *expected: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    for text in expected:
        assert text in line, line
    return line


@pytest.fixture
def trials_file(tmp_path) -> Path:
    """A pickled Trials of two searches, ``alpha`` and ``beta``, as ``trials_save_file`` leaves it."""
    trials = Trials()
    for exp_key in ("alpha", "beta"):
        part = Trials(exp_key=exp_key)
        hyperopt.fmin(lambda p: p["x"] ** 2, {"x": hp.uniform("x", -1, 1)}, algo=hyperopt.rand.suggest, max_evals=3,
                      trials=part, rstate=np.random.default_rng(0), show_progressbar=False)
        # insert_trial_docs refuses other exp_keys into an exp_key=None Trials; a saved file may hold them
        trials._dynamic_trials += [{**doc, "tid": doc["tid"] + len(trials._dynamic_trials)} for doc in part._dynamic_trials]
    trials.refresh()
    path = tmp_path / "trials.pkl"
    path.write_bytes(pickle.dumps(trials))
    return path


def test_the_dashboard_on_a_port_in_use_says_so_and_how_to_pick_another(tmp_path, trials_file):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("dashboard", str(trials_file), f"--port={port}", cwd=tmp_path)
    assert_one_clear_line(done, f"127.0.0.1:{port}", "in use", "--port")


def test_a_report_of_an_exp_key_the_store_lacks_is_an_error_listing_those_it_has(tmp_path, trials_file):
    html = tmp_path / "report.html"
    done = run("report", str(trials_file), "--exp-key=nosuch", f"--html={html}", cwd=tmp_path)
    assert_one_clear_line(done, "'nosuch'", "'alpha', 'beta'", "--exp-key")
    assert not html.exists()
    assert run("report", str(trials_file), "--exp-key=beta", f"--html={html}", cwd=tmp_path).returncode == 0
    assert html.stat().st_size > 0


def test_space_names_a_module_in_the_current_folder(tmp_path, trials_file):
    (tmp_path / "mysearch.py").write_text(SPACE_MODULE)
    html = tmp_path / "report.html"
    done = run("report", str(trials_file), "--space=mysearch:SPACE", f"--html={html}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    missing = run("report", str(trials_file), "--space=nosuchmodule:SPACE", f"--html={html}", cwd=tmp_path)
    assert_one_clear_line(missing, "No module named 'nosuchmodule'", "in the folder that holds the module")


def test_worker_help_shows_every_default(tmp_path):
    done = run("worker", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    options_part = " ".join(done.stdout.split("options:", 1)[1].split())  # argparse wraps lines
    described = dict(re.findall(r"(--[a-z-]+)(?: [A-Z_]+)? (.*?)(?= --[a-z]|$)", options_part))
    for field in dataclasses.fields(WorkerOptions):
        option = "--" + field.name.replace("_", "-")
        assert option in described, option
        if option != "--no-subprocesses":  # a flag, accepted for compatibility
            assert "default" in described[option], f"{option}: {described[option]}"
    assert "default: 5 s" in described["--poll-interval"] and "default: 120 s" in described["--reserve-timeout"]
