"""Where the embedded engine's code comes from: libsigopt and sigoptlite, kept out of pip's resolver.

libsigopt 1.0.0 declares ``numpy<1.23``, ``jsonschema<4`` and ``qmcpy==1.2``, and sigoptlite 0.1.2
``numpy<2``: pins from 2023 that no current environment satisfies (numpy 1.22 has no wheel for Python
3.11, and pandas or scikit-learn need a newer numpy).  Both run correctly on current releases, so
this package depends on what they really import (numpy, scipy, jsonschema, qmcpy) and not on them:
``pip install sigopt-hyperopt`` resolves in one step and downgrades nothing.

The two pure-Python wheels themselves come from, in this order:

1. the environment, when they are installed there (``uv sync`` of this repository, or
   ``pip install --no-deps libsigopt==1.0.0 sigoptlite==0.1.2``);
2. a private directory (``SIGOPT_HYPEROPT_ENGINE_DIR``, default ``~/.cache/sigopt-hyperopt/engine``)
   that the first embedded search fills once per machine, with pip (or uv when pip is absent, as in
   a uv project) from the package index the user configured, exact versions, ``--no-deps``, and
   each wheel checked against the sha256 recorded below.  That directory is appended to
   ``sys.path``; the environment's own packages are never changed.

``SIGOPT_HYPEROPT_ENGINE_DOWNLOAD=0`` turns step 2's download off (air-gapped machines); the error
then says exactly what to install.  ``sigopt-hyperopt install-engine`` fills the directory ahead of
time (a container image, a machine about to lose its network).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigurationError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnginePackage:
    """One wheel of the embedded engine, at the exact version this package is tested with."""

    name: str
    version: str
    module: str
    sha256: str
    """Of ``{name}-{version}-py3-none-any.whl`` on PyPI: what the private install accepts."""

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


ENGINE_PACKAGES = (
    EnginePackage("libsigopt", "1.0.0", "libsigopt",
                  "8c824c7d6359744d46f3a65aaf2d2098f6d61d877a1989feac6beca38140626c"),
    EnginePackage("sigoptlite", "0.1.2", "sigoptlite",
                  "fdb776b48ba1603d4537dfe85ebeec878ebe937304d845efa81b8fe9c9c63502"),
)

DIR_VARIABLE = "SIGOPT_HYPEROPT_ENGINE_DIR"
DOWNLOAD_VARIABLE = "SIGOPT_HYPEROPT_ENGINE_DOWNLOAD"
INSTALL_TIMEOUT_S = 600.0


class EngineNotInstalledError(ConfigurationError):
    """libsigopt/sigoptlite are neither installed nor obtainable here; the message says what to run."""


def ensure_engine() -> None:
    """Make ``import libsigopt`` and ``import sigoptlite`` work, or raise what to do about it.

    Cheap after the first call: the environment's copy or the filled private directory is found
    without running anything.
    """
    if installed_in_environment():
        return
    directory = engine_dir()
    if not _filled(directory):
        if os.environ.get(DOWNLOAD_VARIABLE, "1").strip().lower() in ("0", "false", "no", "off"):
            raise EngineNotInstalledError(_what_to_run(f"{DOWNLOAD_VARIABLE} is set to refuse downloads"))
        try:
            install_engine(directory)
        except OSError as error:
            raise EngineNotInstalledError(_what_to_run(f"{directory} could not be written: {error}")) from None
    _use(directory)
    if not installed_in_environment():
        raise EngineNotInstalledError(_what_to_run(f"{directory} does not hold importable packages"))


def engine_dir(root: Path | None = None) -> Path:
    """The private directory of this engine version (one per version set, so upgrades never mix)."""
    base = os.environ.get(DIR_VARIABLE)
    if root is not None:
        root = root.expanduser()
    elif base:
        root = Path(base).expanduser()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = Path(cache) / "sigopt-hyperopt" / "engine"
    return root / "-".join(f"{p.name}-{p.version}" for p in ENGINE_PACKAGES)


def install_engine(directory: Path | None = None) -> Path:
    """Fill the private directory (idempotent; concurrent callers are safe: the first rename wins).

    The wheels are installed into a temporary sibling and renamed into place, so a directory that
    exists is complete.  Returns the directory.
    """
    directory = directory or engine_dir()
    if _filled(directory):
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    command, tool = _installer()
    staging = directory.parent / f".staging-{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="sigopt-hyperopt-engine-") as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text("".join(f"{p.requirement} --hash=sha256:{p.sha256}\n" for p in ENGINE_PACKAGES))
        full = [*command, "--target", str(staging), "--no-deps", "--require-hashes", "-r", str(requirements)]
        logger.warning("fetching SigOpt's embedded engine (%s) into %s with %s, once per machine",
                       ", ".join(p.requirement for p in ENGINE_PACKAGES), directory, tool)
        try:
            finished = subprocess.run(full, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise EngineNotInstalledError(_what_to_run(f"running {tool} failed: {error}")) from None
    if finished.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        detail = (finished.stderr or finished.stdout).strip().splitlines()[-3:]
        raise EngineNotInstalledError(_what_to_run(f"{tool} failed: " + " / ".join(detail)))
    try:
        os.rename(staging, directory)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another process filled it first
        if not _filled(directory):
            raise
    return directory


def _installer() -> tuple[list[str], str]:
    """pip of this interpreter, else uv (a uv project's environment has no pip)."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                "--only-binary", ":all:"], "pip"
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--python", sys.executable, "--only-binary", ":all:"], "uv"
    raise EngineNotInstalledError(_what_to_run("this Python has no pip and no uv is on PATH"))


def installed_in_environment() -> bool:
    """Both packages importable (from the environment, or from a directory already on sys.path)."""
    return all(importlib.util.find_spec(p.module) is not None for p in ENGINE_PACKAGES)


def _filled(directory: Path) -> bool:
    """Both wheels installed there (libsigopt is a namespace package: its dist-info is the mark)."""
    return all((directory / f"{p.name}-{p.version}.dist-info" / "RECORD").is_file() for p in ENGINE_PACKAGES)


def _use(directory: Path) -> None:
    if str(directory) not in sys.path:
        sys.path.append(str(directory))
        importlib.invalidate_caches()
        logger.info("using SigOpt's embedded engine from %s", directory)


def _what_to_run(why: str) -> str:
    pins = " ".join(p.requirement for p in ENGINE_PACKAGES)
    return (
        f"SigOpt's embedded optimizer ({pins}) is not installed and could not be fetched: {why}.\n"
        f"Install it into this environment with:\n"
        f"    {sys.executable} -m pip install --no-deps {pins}\n"
        f"(or `uv pip install --no-deps {pins}`; --no-deps because their declared pins numpy<1.23, "
        f"jsonschema<4 and qmcpy==1.2 are stale, and sigopt-hyperopt already installed what they use), "
        f"or run `sigopt-hyperopt install-engine` where the package index is reachable. "
        f"To use a SigOpt server instead, set SIGOPT_API_TOKEN."
    )
