"""The code execnet runs on a host: install the package, start, stop and inspect workers.

execnet sends this module's source to the host's Python and runs it with a ``channel``; the driver
sends one request (a dict) and receives one answer (a dict). It uses the standard library only,
since it runs before anything is installed. Everything lives under the cluster's folder in the
login user's home::

    ~/.sigopt-hyperopt/clusters/NAME/
        venv/               the virtual environment (this package, pinned dependencies, --requirements)
        dist/               the shipped wheel and pins
        workers.json        pid of each worker's supervisor
        logs/worker-N.log   each worker's log (its supervisor's too)
        logs/worker-N.pids  every worker process the supervisor started (to match jobs to hosts)
        work/N/             each worker's working directory
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any

SUPERVISOR_MODULE = "sigopt_hyperopt.cluster.supervise"

MONGO_URL_ENV = "SIGOPT_HYPEROPT_MONGO"
"""The worker's database URL, password included, goes in its environment (readable by its own user
only), never on its command line (readable by every user of the host). The name is
:data:`sigopt_hyperopt.mongo.credentials.MONGO_URL_ENV`; this module may import nothing of the package."""


def _home_path(relative: str) -> str:
    return os.path.join(os.path.expanduser("~"), relative)


def _run(command: list[str], what: str, env: dict | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise RuntimeError(f"{what} failed (exit {done.returncode}): " + "\n".join(tail))
    return done.stdout


def install(request: dict) -> dict:
    """Create the venv (uv when the host has it, else ``python -m venv`` and pip) and install into it."""
    started = time.monotonic()
    base = _home_path(request["dir"])
    venv = os.path.join(base, "venv")
    dist = os.path.join(base, "dist")
    os.makedirs(dist, exist_ok=True)
    wheel = os.path.join(dist, request["wheel_name"])
    with open(wheel, "wb") as out:
        out.write(request["wheel"])
    pins = os.path.join(dist, "pins.txt")
    with open(pins, "w") as out:
        out.write("\n".join(request["pins"]) + "\n")
    python = os.path.join(venv, "bin", "python")
    if shutil.which("cloud-init"):
        # A fresh EC2 instance may still be running its start-up script (which installs python3-venv).
        subprocess.run(["cloud-init", "status", "--wait"], capture_output=True, timeout=900)
    uv = shutil.which("uv")
    if uv:
        if not os.path.exists(python):
            _run([uv, "venv", "--quiet", "--python", request["python"], venv], "uv venv")
        install_cmd = [uv, "pip", "install", "--quiet", "--python", python]
        _run(install_cmd + ["--no-deps", "-r", pins], "installing the pinned dependencies (uv)")
        _run(install_cmd + ["--no-deps", "--reinstall-package", "sigopt-hyperopt", wheel], "installing the wheel (uv)")
    else:
        if not os.path.exists(python):
            _run([request["python"], "-m", "venv", venv],
                 f"{request['python']} -m venv (on Debian/Ubuntu: apt-get install python3-venv, or install uv)")
        install_cmd = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run(install_cmd + ["--no-deps", "-r", pins], "installing the pinned dependencies (pip)")
        _run(install_cmd + ["--no-deps", "--force-reinstall", wheel], "installing the wheel (pip)")
    if request.get("requirements"):
        path = os.path.join(dist, "requirements.txt")
        with open(path, "w") as out:
            out.write(request["requirements"])
        _run(install_cmd + ["-r", path], "installing --requirements")
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], "finding site-packages").strip()
    for name, content in request.get("ship", {}).items():
        _write_tree(site, name, content)
    _run([python, "-c", "import sigopt_hyperopt.mongo.worker"], "importing the installed package")
    return {"installer": "uv" if uv else "pip", "seconds": time.monotonic() - started, "python": python}


def _write_tree(root: str, name: str, content: Any) -> None:
    """Write a shipped file (bytes) or folder (dict of name -> content) under ``root``."""
    path = os.path.join(root, name)
    if isinstance(content, dict):
        os.makedirs(path, exist_ok=True)
        for child, child_content in content.items():
            _write_tree(path, child, child_content)
    else:
        with open(path, "wb") as out:
            out.write(content)


def _pid_alive(pid: int) -> bool:
    """Alive and not a zombie (a finished supervisor whose parent has not reaped it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            ours = SUPERVISOR_MODULE.encode() in cmdline.read()
    except (OSError, IndexError):
        return False
    return ours and state != "Z"


def _read_workers(base: str) -> list[dict]:
    try:
        with open(os.path.join(base, "workers.json")) as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return []


def stop(request: dict) -> dict:
    """SIGTERM every supervisor (it passes the signal to its worker, which hands back its job), then wait."""
    base = _home_path(request["dir"])
    workers = [w for w in _read_workers(base) if _pid_alive(w["pid"])]
    for worker in workers:
        try:
            os.kill(worker["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + request.get("timeout", 60)
    while time.monotonic() < deadline and any(_pid_alive(w["pid"]) for w in workers):
        time.sleep(0.2)
    killed = 0
    for worker in workers:
        if _pid_alive(worker["pid"]):
            killed += 1
            try:
                os.killpg(worker["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
    return {"stopped": len(workers) - killed, "killed": killed}


def start(request: dict) -> dict:
    """Start ``count`` supervised workers (default: this host's CPU count), detached from the SSH session.

    The database URL reaches them in their environment (see :data:`MONGO_URL_ENV`): the supervisor
    inherits it and passes it to every worker it starts.
    """
    base = _home_path(request["dir"])
    env = {**os.environ, MONGO_URL_ENV: request["mongo"]}
    python = os.path.join(base, "venv", "bin", "python")
    os.makedirs(os.path.join(base, "logs"), exist_ok=True)
    count = request.get("count") or os.cpu_count() or 1
    workers = []
    for index in range(count):
        workdir = os.path.join(base, "work", str(index))
        os.makedirs(workdir, exist_ok=True)
        log_path = os.path.join(base, "logs", f"worker-{index}.log")
        pids_path = os.path.join(base, "logs", f"worker-{index}.pids")
        open(pids_path, "a").close()
        command = [python, "-m", SUPERVISOR_MODULE, "--pids-file", pids_path, "--",
                   "worker", f"--workdir={workdir}", *request.get("worker_args", [])]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=workdir, env=env, start_new_session=True, close_fds=True)
        workers.append({"index": index, "pid": process.pid, "log": log_path, "pids": pids_path})
    with open(os.path.join(base, "workers.json"), "w") as out:
        json.dump(workers, out)
    return {"started": len(workers), "pids": [w["pid"] for w in workers]}


def _last_line(path: str) -> str:
    try:
        with open(path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            stream.seek(max(0, stream.tell() - 4096))
            lines = [line for line in stream.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def status(request: dict) -> dict:
    base = _home_path(request["dir"])
    workers = []
    for worker in _read_workers(base):
        try:
            with open(worker["pids"]) as stream:
                children = [int(line) for line in stream if line.strip()]
        except OSError:
            children = []
        alive = _pid_alive(worker["pid"])
        workers.append({"index": worker["index"], "pid": worker["pid"], "alive": alive, "children": children,
                        "last_log_line": "" if alive else _last_line(worker["log"])})
    return {"hostname": socket.gethostname(), "cpus": os.cpu_count(), "workers": workers}


OPERATIONS = {"install": install, "start": start, "stop": stop, "status": status}


def handle(request: dict) -> dict:
    try:
        return {"ok": True, **OPERATIONS[request["op"]](request)}
    except Exception as error:  # sent back to the driver as the host's reason
        return {"ok": False, "error": f"{type(error).__name__}: {error}", "python": sys.version.split()[0]}


if __name__ == "__channelexec__":
    channel.send(handle(channel.receive()))  # type: ignore[name-defined]  # noqa: F821
