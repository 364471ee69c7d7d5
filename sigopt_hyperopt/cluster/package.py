"""What a host installs: this package's wheel at the driver's exact version, and pinned dependencies.

The wheel is built from the driver's source tree, or repacked from the installed package when the
driver runs an installed copy (``pip install sigopt-hyperopt``: there is no source tree to build
from), or given with ``--wheel``; it is sent over the execnet channel, so hosts need no access to
the source. The dependencies are pinned to the versions
installed next to the driver (the closure of this package's base requirements, markers evaluated
here) and installed without resolution (``--no-deps``): the hosts run exactly what the driver runs.
Workers need neither the embedded engine (the driver suggests) nor the extras.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import shutil
import subprocess
import sys
import zipfile
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


def wheel_source() -> str:
    """Where the wheel shipped without ``--wheel`` comes from, in words (the bootstrap's plan says it)."""
    root = source_tree()
    if root is not None:
        return f"a wheel built from {root}"
    return f"a wheel repacked from the installed sigopt-hyperopt {__version__} ({_info_dir(installed_distribution())})"


def installed_distribution() -> metadata.Distribution:
    """The installed distribution this package runs from, or a ClusterError saying what to pass instead."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is None or dist.version != __version__ or not dist.files:
        raise ClusterError(f"sigopt-hyperopt {__version__} runs neither from a source checkout nor from an installed "
                           "package whose files are listed (RECORD), so no wheel can be made here: pass --wheel with "
                           f"the wheel of version {__version__}.")
    return dist


KEPT_METADATA = ("METADATA", "WHEEL", "entry_points.txt")
"""The files of an installed ``.dist-info`` that a wheel carries (the installer writes the others)."""


def repack_installed(out_dir: Path) -> Path:
    """The wheel of the installed package, rebuilt from its installed files (as listed in RECORD).

    An installed package is a wheel unpacked: its modules, and a ``.dist-info`` whose METADATA,
    WHEEL and entry points came from the wheel. Those, zipped with a new RECORD, are that wheel again
    (compiled ``.pyc`` files, the console script and the installer's own notes are left out: the
    host's installer makes them). A file changed since it was installed is shipped as it is now, with
    a warning: the hosts then run what the driver runs.
    """
    dist = installed_distribution()
    info = _info_dir(dist)
    wheel_tag = next((line.split(":", 1)[1].strip() for line in (info / "WHEEL").read_text().splitlines()
                      if line.startswith("Tag:")), "py3-none-any")
    records: list[str] = []
    path = out_dir / f"sigopt_hyperopt-{__version__}-{wheel_tag}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for entry in dist.files or []:
            name = entry.as_posix()
            in_info = name.startswith(info.name + "/")
            if name.startswith(("../", "/")) or "__pycache__" in entry.parts or name.endswith(".pyc"):
                continue
            if in_info and not (entry.name in KEPT_METADATA or "licenses" in entry.parts):
                continue
            if not in_info and not name.startswith("sigopt_hyperopt/"):
                continue  # the console script (bin/), other top-level files an installer wrote
            data = Path(entry.locate()).read_bytes()
            digest = _record_hash(data)
            if entry.hash is not None and entry.hash.value != digest.split("=", 1)[1]:
                logger.warning("%s was changed since sigopt-hyperopt was installed; the hosts get it as it is now",
                               name)
            wheel.writestr(name, data)
            records.append(f"{name},{digest},{len(data)}")
        records.append(f"{info.name}/RECORD,,")
        wheel.writestr(f"{info.name}/RECORD", "\n".join(records) + "\n")
    return check_wheel(path)


def _info_dir(dist: metadata.Distribution) -> Path:
    """The installed ``.dist-info`` folder (named in the distribution's own file list)."""
    name = next(entry.parts[0] for entry in dist.files or [] if entry.parts[0].endswith(".dist-info"))
    return Path(str(dist.locate_file(name)))


def _record_hash(data: bytes) -> str:
    """A RECORD line's hash: ``sha256=`` and the urlsafe base64 digest without padding."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(out_dir: Path) -> Path:
    """The wheel of the running version in ``out_dir``: built from the source tree, else repacked from the install."""
    root = source_tree()
    if root is None:
        return repack_installed(out_dir)
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
