"""``cluster bootstrap`` from an installed sigopt-hyperopt (``pip install``, no checkout): the wheel it ships.

Before, the bootstrap of an installed copy failed after its dry run had shown a plan: no source tree,
no wheel, "pass --wheel". Now the wheel is repacked from the installed files. The installed copy is
the real thing: this checkout's wheel built and installed into a folder of its own, run as a user
runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sigopt_hyperopt import __version__

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """This checkout's wheel, and the folder it is installed in (``pip install --target``, by uv)."""
    base = tmp_path_factory.mktemp("installed")
    subprocess.run(["uv", "build", "--wheel", "--out-dir", str(base / "dist"), str(ROOT)], check=True,
                   capture_output=True)
    [wheel] = (base / "dist").glob("sigopt_hyperopt-*.whl")
    subprocess.run(["uv", "pip", "install", "--no-deps", "--target", str(base / "site"), str(wheel)], check=True,
                   capture_output=True)
    return {"wheel": wheel, "site": base / "site", "base": base}


def run_installed(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Python with the installed copy first on its path (its dependencies from this environment)."""
    env = {k: v for k, v in os.environ.items() if k != "SIGOPT_API_TOKEN"}
    env["PYTHONPATH"] = str(site)
    env["SIGOPT_HYPEROPT_CLUSTERS"] = str(cwd / "clusters")  # no record of the user's is read or written
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_the_bootstrap_plan_of_an_installed_copy_ships_its_repacked_wheel(installed, tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    done = run_installed(installed["site"], "-m", "sigopt_hyperopt.cli", "cluster", "bootstrap", "inst", "--hosts",
                         "root@127.0.0.9", "--key", str(key), "--db", "127.0.0.1:27017/db", "--dry-run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert str(installed["site"]) in done.stdout  # the installed copy ran, not the checkout
    assert f"a wheel repacked from the installed sigopt-hyperopt {__version__}" in done.stdout, done.stdout


def test_the_repacked_wheel_holds_what_the_original_held_and_installs(installed, tmp_path):
    script = ("import pathlib, sys\nfrom sigopt_hyperopt.cluster import package\n"
              "print(package.payload(None, pathlib.Path(sys.argv[1])).wheel_name)\n")
    done = run_installed(installed["site"], "-c", script, str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    repacked = tmp_path / done.stdout.strip()
    assert repacked.name == installed["wheel"].name

    def contents(path: Path) -> dict[str, bytes]:
        with zipfile.ZipFile(path) as wheel:
            return {name: wheel.read(name) for name in wheel.namelist() if not name.endswith("/RECORD")}

    assert contents(repacked) == contents(installed["wheel"])
    with zipfile.ZipFile(repacked) as wheel:
        record = wheel.read(f"sigopt_hyperopt-{__version__}.dist-info/RECORD").decode()
    assert all(name in record for name in contents(repacked))

    subprocess.run(["uv", "pip", "install", "--no-deps", "--target", str(tmp_path / "host"), str(repacked)], check=True,
                   capture_output=True)
    version = run_installed(tmp_path / "host", "-m", "sigopt_hyperopt.cli", "--version", cwd=tmp_path)
    assert version.stdout.strip() == f"sigopt-hyperopt {__version__}", version.stderr
