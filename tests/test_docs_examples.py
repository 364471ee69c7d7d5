"""README's Python examples run as pasted, in order, as a reader types them into one session.

The only changes made to them: ``max_evals`` is cut to a few evaluations (the examples ask for
50-200), and the MongoDB address ``localhost:27017/foo_db`` becomes the test server's, for the
Python block and for the worker command of the bash block after it, which is started as written
(in a folder of its own, so the objective defined in the script reaches it only with the search).

Not run here, and why:
- README's ``pip install`` and "Two commands" blocks: tests/test_install.py installs the package as
  a user does, tests/test_cli.py runs ``quickstart``, and ``uv run pytest`` is this suite.
- docs/*.md: see DOCS_NOT_RUN; the blocks runnable on their own are run by the second test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .test_mongo import stop_workers

ROOT = Path(__file__).resolve().parent.parent
FEW_EVALS = 3

DOCS_NOT_RUN = {
    "cluster.md": "a driver on a cluster: needs the workers bootstrapped over SSH and the objective's module shipped "
                  "to them (tests/test_cluster_bootstrap.py runs such a search end to end)",
    "distributed.md": "its MongoTrials block is README's (run below); the SparkTrials one needs Java and Spark "
                      "(tests/test_spark.py runs the same calls)",
    "remote.md": "needs a SigOpt server and a token (tests/test_remote.py runs the same calls on one)",
}


def code_blocks(path: Path, language: str) -> list[str]:
    """The fenced blocks of one language, indentation removed (blocks inside list items)."""
    blocks = re.findall(rf"^( *)```{language}\n(.*?)^\1```", path.read_text(), flags=re.S | re.M)
    return ["\n".join(line[len(indent):] for line in body.splitlines()) + "\n" for indent, body in blocks]


def few_evals(code: str) -> str:
    return re.sub(r"max_evals=\d+", f"max_evals={FEW_EVALS}", code)


def run_python(code: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SIGOPT_API_TOKEN", "PYTHONPATH")}
    script = cwd / "example.py"
    script.write_text(code)
    return subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_readmes_python_blocks_run_in_order_with_a_real_worker(mongo_server, tmp_path):
    database = f"readme_{uuid.uuid4().hex[:8]}"
    python = [few_evals(block).replace("localhost:27017/foo_db", f"{mongo_server}/{database}")
              for block in code_blocks(ROOT / "README.md", "python")]
    assert len(python) == 4 and "MongoTrials" in python[1] and "metrics=metrics" in python[3]
    [worker_line] = [line for block in code_blocks(ROOT / "README.md", "bash") for line in block.splitlines()
                     if line.startswith("sigopt-hyperopt worker")]
    worker_args = worker_line.split("#")[0].replace("localhost:27017/foo_db", f"{mongo_server}/{database}").split()
    worker_dir = tmp_path / "worker"
    worker_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("SIGOPT_API_TOKEN", "PYTHONPATH")}
    worker = subprocess.Popen([str(Path(sys.executable).with_name(worker_args[0])), *worker_args[1:]],
                              cwd=worker_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        done = run_python("".join(f"print('--- block {i}', flush=True)\n{block}" for i, block in enumerate(python)),
                          tmp_path)
    finally:
        stop_workers([worker])
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.count("--- block") == 4
    first = done.stdout.split("--- block 1")[0]
    assert re.search(r"\{'layers': \{.*'n': [12].*\}, 'lr': [0-9.e-]+\}", first), first  # space_eval's answer
    assert f"finished {FEW_EVALS} job(s)" in worker.stdout.read()  # the worker evaluated the Mongo search


def docs_with_python() -> list[str]:
    return sorted(p.name for p in (ROOT / "docs").glob("*.md") if code_blocks(p, "python"))


@pytest.mark.parametrize("name", [name for name in docs_with_python() if name not in DOCS_NOT_RUN])
def test_docs_python_blocks_run_as_pasted(name, tmp_path):
    for block in code_blocks(ROOT / "docs" / name, "python"):
        done = run_python(few_evals(block), tmp_path)
        assert done.returncode == 0, f"{name}:\n{block}\n{done.stderr[-3000:]}"


def test_the_list_of_docs_not_run_is_current():
    assert set(DOCS_NOT_RUN) <= set(docs_with_python())
