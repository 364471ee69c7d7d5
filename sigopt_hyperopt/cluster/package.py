"""What a host installs: this package's wheel at the driver's exact version, and pinned dependencies.

The wheel is built from the driver's source tree (or given with ``--wheel``) and sent over the
execnet channel, so hosts need no access to the source. The dependencies are pinned to the versions
installed next to the driver (the closure of this package's base requirements, markers evaluated
here) and installed without resolution (``--no-deps``): the hosts run exactly what the driver runs.
Workers need neither the embedded engine (the driver suggests) nor the extras.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .. import __version__
from ..errors import ClusterError

logger = logging.getLogger(__name__)

DISTRIBUTION = "sigopt-hyperopt"


@dataclass(frozen=True)
class Payload:
    """The files a host needs to install this package."""

    wheel_name: str
    wheel: bytes
    pins: list[str]


def source_tree() -> Path | None:
    """The checkout this package runs from, if it runs from one."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(r'^name\s*=\s*"sigopt-hyperopt"', pyproject.read_text(), re.M):
        return root
    return None


def build_wheel(out_dir: Path) -> Path:
    """Build the wheel of the running version from the source tree into ``out_dir``."""
    root = source_tree()
    if root is None:
        raise ClusterError("sigopt-hyperopt is not running from a source checkout, so no wheel can be built here: "
                           "pass --wheel with the wheel of version " + __version__ + ".")
    if shutil.which("uv"):
        command = ["uv", "build", "--wheel", "--out-dir", str(out_dir), str(root)]
    else:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out_dir), str(root)]
    logger.info("building the wheel: %s", " ".join(command))
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        raise ClusterError(f"Building the wheel failed ({' '.join(command)}):\n{built.stderr[-2000:]}")
    wheels = sorted(out_dir.glob("sigopt_hyperopt-*.whl"))
    if not wheels:
        raise ClusterError(f"Building the wheel produced no sigopt_hyperopt-*.whl in {out_dir}")
    return check_wheel(wheels[-1])


def check_wheel(path: Path) -> Path:
    """A wheel of this very version, or a ClusterError (hosts must run the driver's version)."""
    match = re.match(r"sigopt_hyperopt-([^-]+)-", path.name)
    if not path.is_file() or match is None:
        raise ClusterError(f"{path} is not a sigopt-hyperopt wheel.")
    if match.group(1) != __version__:
        raise ClusterError(f"{path.name} is version {match.group(1)} but the driver runs {__version__}: "
                           "hosts must run the driver's version.")
    return path


def pinned_dependencies(distribution: str = DISTRIBUTION) -> list[str]:
    """``name==version`` of every distribution this one needs, as installed here (itself excluded)."""
    pins: dict[str, str] = {}
    pending = [(distribution, frozenset())]
    seen: set[tuple[str, frozenset]] = set()
    while pending:
        name, extras = pending.pop()
        if (canonicalize_name(name), extras) in seen:
            continue
        seen.add((canonicalize_name(name), extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise ClusterError(f"{name} is needed by sigopt-hyperopt but not installed next to the driver: "
                               "install the package's dependencies here first.") from None
        if canonicalize_name(name) != canonicalize_name(distribution):
            pins[canonicalize_name(name)] = f"{dist.metadata['Name']}=={dist.version}"
        for text in dist.requires or []:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if requirement.marker is None or any(requirement.marker.evaluate(env) for env in environments):
                pending.append((requirement.name, frozenset(requirement.extras)))
    return sorted(pins.values(), key=str.lower)


def payload(wheel: Path | None, build_dir: Path) -> Payload:
    path = check_wheel(wheel) if wheel is not None else build_wheel(build_dir)
    return Payload(wheel_name=path.name, wheel=path.read_bytes(), pins=pinned_dependencies())
