"""The command line, run as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SIGOPT_API_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "sigopt_hyperopt.cli", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def test_quickstart_runs_a_real_search_and_prints_the_best_parameters():
    done = run_cli("quickstart", "--max-evals", "12")
    assert done.returncode == 0, done.stderr
    auc = float(re.search(r"Best cross-validated AUC: ([0-9.]+) after 12 evaluations", done.stdout).group(1))
    assert 0.9 < auc <= 1.0
    assert "kind = " in done.stdout
    assert "12/12" in done.stdout + done.stderr  # the progress bar reached the end


def test_version_and_help():
    assert run_cli("--version").stdout.startswith("sigopt-hyperopt ")
    assert "quickstart" in run_cli("--help").stdout
