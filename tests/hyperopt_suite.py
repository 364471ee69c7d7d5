"""Run hyperopt's own ``MongoTrials`` test suite against a real MongoDB-wire server.

hyperopt ships ``hyperopt/tests/integration/test_mongoexp.py`` in its wheel. Its ``TempMongo`` starts
a ``mongod`` on port 22334; ``tests/mongod_shim/mongod`` (put first on ``PATH``) starts FerretDB there
instead. The suite runs unmodified, or with its one import of ``hyperopt.mongoexp`` replaced by
``sigopt_hyperopt.mongoexp`` (the migration this package promises: one import line).

``python -m tests.hyperopt_suite [--stock]`` prints the summary; docs/distributed.md quotes both runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import hyperopt

from tests.conftest import ferretdb_binary

SHIM_DIR = Path(__file__).resolve().parent / "mongod_shim"
SUITE = Path(hyperopt.__file__).resolve().parent / "tests" / "integration" / "test_mongoexp.py"
STOCK_IMPORT = "from hyperopt.mongoexp import ("
FACADE_IMPORT = "from sigopt_hyperopt.mongoexp import ("


@dataclass(frozen=True)
class SuiteRun:
    passed: int
    failed: int
    errors: int
    skipped: int
    summary: str
    output: str


def _count(summary: str, word: str) -> int:
    found = re.search(rf"(\d+) {word}", summary)
    return int(found.group(1)) if found else 0


def run_suite(facade: bool, timeout: float = 1200.0) -> SuiteRun:
    """Copy the installed suite to a temporary directory (the import replaced when ``facade``) and run it."""
    source = SUITE.read_text()
    if source.count(STOCK_IMPORT) != 1:
        raise RuntimeError(f"{SUITE} no longer has exactly one {STOCK_IMPORT!r}: the suite changed")
    if facade:
        source = source.replace(STOCK_IMPORT, FACADE_IMPORT)
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="hyperopt-suite-") as tmp:
        copy = Path(tmp) / "test_mongoexp.py"
        copy.write_text(source)
        env = {**os.environ, "PATH": f"{SHIM_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
               "FERRETDB_BIN": ferretdb_binary(),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(copy)],
                              cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    summary = lines[-1].strip("= ") if lines else ""
    return SuiteRun(_count(summary, "passed"), _count(summary, "failed"), _count(summary, "error"),
                    _count(summary, "skipped"), summary, output)


if __name__ == "__main__":
    run = run_suite(facade="--stock" not in sys.argv)
    print(run.output if "-v" in sys.argv else run.summary)
