"""Installing the package as a user does: pip into a fresh venv, pip into an ML environment, uv add.

Each test builds real virtual environments from a wheel of this checkout and installs from the
package index (PyPI here), then runs a 10-evaluation search with the embedded engine, which fetches
libsigopt and sigoptlite into a private directory on first use (see
sigopt_hyperopt/engines/embedded/packages.py).  The commands are the ones docs/install.md shows.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import textwrap
import tomllib
from pathlib import Path

import pytest

from sigopt_hyperopt.engines.embedded.packages import ENGINE_PACKAGES

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT_S = 900

SEARCH = textwrap.dedent("""
    from hyperopt import Trials, hp
    import sigopt_hyperopt
    from sigopt_hyperopt import fmin

    space = {"x": hp.uniform("x", -5, 10), "y": hp.uniform("y", 0, 15)}
    trials = Trials()
    best = fmin(lambda p: (p["x"] - 1) ** 2 + (p["y"] - 2) ** 2, space, max_evals=10, trials=trials,
                show_progressbar=False)
    import libsigopt
    print("evaluations", len(trials.trials), "best", best, "libsigopt from", *libsigopt.__path__)
""")


def _pythons() -> dict[str, str]:
    """One interpreter per CPython minor version this machine has, of those the package claims (>= 3.11)."""
    found: dict[str, str] = {}
    for minor in range(11, 16):
        candidates = [shutil.which(f"python3.{minor}")]
        candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3.{minor}")))
        for candidate in filter(None, candidates):
            probe = subprocess.run([candidate, "-c", "import venv, ensurepip"], capture_output=True)
            if probe.returncode == 0:
                found[f"3.{minor}"] = candidate
                break
    return found


PYTHONS = _pythons()


def _run(command: list, *, env: dict | None = None, cwd: Path | None = None, check: bool = True) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=INSTALL_TIMEOUT_S)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} exited {done.returncode}:\n{done.stdout[-3000:]}\n"
                             f"{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def _uv() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to build the wheel (bash .ci/run installs it)"
    return uv


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([_uv(), "build", "--wheel", "--out-dir", out, ROOT])
    [built] = out.glob("sigopt_hyperopt-*.whl")
    return built


def user_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user's environment: no test settings, no token, and a private engine directory to fill."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SIGOPT", "VIRTUAL_ENV", "UV_", "PYTHON")) and k != "UV"}
    env["SIGOPT_HYPEROPT_ENGINE_DIR"] = str(tmp_path / "engine")
    env.update(extra)
    return env


def make_venv(python: str, where: Path) -> Path:
    _run([python, "-m", "venv", where])
    return where / "bin" / "python"


def freeze(python: Path) -> dict[str, str]:
    lines = _run([python, "-m", "pip", "freeze", "--all"]).splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line)


def test_every_claimed_python_this_machine_has_is_tested():
    assert "3.11" in PYTHONS, f"no Python 3.11 found (found {PYTHONS})"


@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_one_pip_command_into_a_fresh_venv_then_a_search_runs(tmp_path, wheel, version):
    python = make_venv(PYTHONS[version], tmp_path / "venv")
    _run([python, "-m", "pip", "install", wheel])  # docs/install.md: pip install sigopt-hyperopt
    output = _run([python, "-c", SEARCH], env=user_env(tmp_path))
    assert "evaluations 10" in output
    assert f"libsigopt from {tmp_path / 'engine'}" in output, output  # fetched into the private directory
    assert "fetching SigOpt's embedded engine" in output  # said once, where a user sees it
    again = _run([python, "-c", SEARCH], env=user_env(tmp_path))
    assert "evaluations 10" in again and "fetching" not in again
    _run([python, "-m", "pip", "check"])  # the environment stays consistent: nothing installed around pip


def test_into_an_environment_with_numpy_2_pandas_and_scikit_learn_nothing_changes_version(tmp_path, wheel):
    python = make_venv(PYTHONS["3.11"], tmp_path / "venv")
    _run([python, "-m", "pip", "install", "numpy>=2", "pandas", "scikit-learn", "requests"])
    before = freeze(python)
    assert int(before["numpy"].split(".")[0]) >= 2 and int(before["urllib3"].split(".")[0]) >= 2
    _run([python, "-m", "pip", "install", wheel])
    after = freeze(python)
    changed = {name: (version, after.get(name)) for name, version in before.items() if after.get(name) != version}
    assert changed == {}, f"pip changed versions the environment had: {changed}"
    output = _run([python, "-c", SEARCH], env=user_env(tmp_path))
    assert "evaluations 10" in output


def test_without_a_download_the_error_says_what_to_run_and_that_command_works(tmp_path, wheel):
    python = make_venv(PYTHONS["3.11"], tmp_path / "venv")
    _run([python, "-m", "pip", "install", wheel])
    env = user_env(tmp_path, SIGOPT_HYPEROPT_ENGINE_DOWNLOAD="0")
    refused = subprocess.run([python, "-c", SEARCH], capture_output=True, text=True, env=env)
    assert refused.returncode != 0 and "EngineNotInstalledError" in refused.stderr
    [command] = re.findall(r"^    (\S+ -m pip install --no-deps .+)$", refused.stderr, re.M)
    assert command.startswith(str(python))
    _run(command.split())
    output = _run([python, "-c", SEARCH], env=env)
    assert "evaluations 10" in output and "site-packages" in output
    assert not (tmp_path / "engine").exists()


def test_the_cli_fetches_the_engine_ahead_of_time_and_the_extras_install(tmp_path, wheel):
    python = make_venv(PYTHONS["3.11"], tmp_path / "venv")
    _run([python, "-m", "pip", "install", wheel])
    cli = python.parent / "sigopt-hyperopt"
    printed = _run([cli, "install-engine"], env=user_env(tmp_path))
    assert str(tmp_path / "engine") in printed
    output = _run([python, "-c", SEARCH], env=user_env(tmp_path, SIGOPT_HYPEROPT_ENGINE_DOWNLOAD="0"))
    assert "evaluations 10" in output

    # A SigOpt server needs the client: the error says which extra, and the extra brings it.
    with_token = user_env(tmp_path, SIGOPT_API_TOKEN="not-used")
    refused = subprocess.run([python, "-c", SEARCH], capture_output=True, text=True, env=with_token)
    assert "pip install 'sigopt-hyperopt[server]'" in refused.stderr and "not-used" not in refused.stderr
    _run([python, "-m", "pip", "install", f"{wheel}[server,aws,dashboard]"])
    _run([python, "-c", "import sigopt, boto3, starlette, uvicorn, plotly"])


def test_uv_add_then_uv_run_works_with_no_extra_step(tmp_path, wheel):
    uv = _uv()
    env = user_env(tmp_path, UV_PYTHON_DOWNLOADS="never")
    project = tmp_path / "project"
    _run([uv, "init", "--no-workspace", "--python", PYTHONS["3.11"], project], env=env)
    _run([uv, "add", wheel], env=env, cwd=project)
    (project / "search.py").write_text(SEARCH)
    output = _run([uv, "run", "python", "search.py"], env=env, cwd=project)
    assert "evaluations 10" in output and str(tmp_path / "engine") in output


def test_the_engine_pins_agree_with_the_repositorys_engine_group():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert sorted(pyproject["dependency-groups"]["engine"]) == sorted(p.requirement for p in ENGINE_PACKAGES)
    declared = " ".join(pyproject["project"]["dependencies"])
    assert "libsigopt" not in declared and "sigoptlite" not in declared
