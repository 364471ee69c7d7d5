"""Run a benchmark module against another checkout's ``sigopt_hyperopt`` (the code before a change).

Before/after numbers are only comparable when they come from one run on one machine: a baseline
measured last week on an idle machine says little next to today's figure on a shared one.  So the
benchmarks that take ``--baseline PATH`` (a ``git worktree add`` of the old commit) run the same cases
on both, interleaved, in the same run.

How: a temporary directory holds two links, ``sigopt_hyperopt`` to the baseline's package and
``benchmarks`` to *this* checkout's benchmarks, and the module runs with that directory as its
working directory, which Python puts first on the import path.  The benchmark code (problems,
measurement) is therefore identical for both sides; only the package under test differs.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import BenchmarkError

BENCHMARKS = Path(__file__).resolve().parent
THIS_CHECKOUT = BENCHMARKS.parent


@contextlib.contextmanager
def import_root(checkout: Path) -> Iterator[Path]:
    """A directory from which ``import sigopt_hyperopt`` gets ``checkout``'s and ``benchmarks`` gets ours."""
    package = Path(checkout).resolve() / "sigopt_hyperopt"
    if not (package / "__init__.py").exists():
        raise BenchmarkError(f"{checkout} has no sigopt_hyperopt package; make one with "
                             "`git worktree add PATH COMMIT` and pass PATH")
    with tempfile.TemporaryDirectory(prefix="sigopt-hyperopt-bench-") as root:
        (Path(root) / "sigopt_hyperopt").symlink_to(package)
        (Path(root) / "benchmarks").symlink_to(BENCHMARKS)
        yield Path(root)


def popen(checkout: Path | None, root: Path | None, module: str, *args: str, **options) -> subprocess.Popen:
    """Start ``python -m module args`` importing ``checkout``'s package (this one's when None)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=str(root or THIS_CHECKOUT), env=env,
                            **options)


def baseline_run(module: str, problem_name: str, seed: int, evals: int, path: Path, baseline: str | None) -> Path:
    """``sigopt_suggest`` of the baseline checkout on one problem and seed, stored at ``path`` as ``sigopt_before``.

    ``module`` is the benchmark whose ``--single PROBLEM sigopt SEED EVALS --results DIR`` runs one case in
    a process that imports the baseline's package (the problems and the measurement stay this checkout's).
    """
    if baseline is None:
        raise BenchmarkError("sigopt_before needs --baseline PATH (a checkout of the code before the change)")
    with tempfile.TemporaryDirectory() as scratch, import_root(Path(baseline)) as root:
        process = popen(Path(baseline), root, module, "--single", problem_name, "sigopt", str(seed), str(evals),
                        "--results", scratch)
        if process.wait() != 0:
            raise BenchmarkError(f"the baseline run {problem_name} seed {seed} failed (exit {process.returncode})")
        record = json.loads((Path(scratch) / f"{problem_name}-sigopt-{seed}.json").read_text())
    record["algorithm"] = "sigopt_before"
    path.write_text(json.dumps(record))
    return path
