"""Real OpenSSH servers on loopback addresses, standing in for cluster hosts.

Each "host" is its own ``/usr/sbin/sshd`` on its own address (127.0.0.2, 127.0.0.3, ...) with a
generated host key and one authorized user key, both in a temporary folder. ``SetEnv`` gives each
host its own ``HOME`` (so two hosts on one machine do not share a cluster folder) and its own
``PATH`` (which Python and whether ``uv`` is there), as separate machines would have; the uv and
pip caches stay shared so installs on the second host are fast.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
PASSED_PREFIXES = ("PIP_", "UV_", "SSL_CERT_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


@dataclass
class SshHost:
    address: str
    port: int
    home: Path
    process: subprocess.Popen
    log: Path

    @property
    def spec(self) -> str:
        return f"root@{self.address}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def make_keys(folder: Path) -> tuple[Path, Path]:
    """A host key and a user key pair; returns (host key, user private key)."""
    folder.mkdir(parents=True, exist_ok=True)
    host_key, user_key = folder / "host_ed25519", folder / "user_ed25519"
    for key in (host_key, user_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(key)], check=True)
    shutil.copy(f"{user_key}.pub", folder / "authorized_keys")
    return host_key, user_key


def start_sshd(folder: Path, keys: Path, address: str, path_dirs: list[str]) -> SshHost:
    """One sshd on ``address`` whose sessions see ``path_dirs`` as PATH and a HOME of their own."""
    if not os.access(SSHD, os.X_OK):
        raise RuntimeError(f"{SSHD} is missing: install openssh-server (.ci/run does)")
    Path("/run/sshd").mkdir(exist_ok=True)
    home = folder / f"home-{address}"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port(address)
    caches = Path.home() / ".cache"
    environment = {"HOME": str(home), "PATH": ":".join(path_dirs), "UV_CACHE_DIR": str(caches / "uv"),
                   "PIP_CACHE_DIR": str(caches / "pip")}
    # This machine's package-index settings (TLS bundle, pip options), as a host's own setup would have them.
    environment.update({k: v for k, v in os.environ.items() if k.startswith(PASSED_PREFIXES) and k not in environment})
    config = folder / f"sshd-{address}.conf"
    config.write_text("\n".join([
        f"ListenAddress {address}:{port}",
        f"HostKey {keys / 'host_ed25519'}",
        f"PidFile {folder / f'sshd-{address}.pid'}",
        f"AuthorizedKeysFile {keys / 'authorized_keys'}",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "AllowTcpForwarding yes",
        "Subsystem sftp internal-sftp",
        "SetEnv " + " ".join(f'"{k}={v}"' for k, v in environment.items()),
        "",
    ]))
    log = folder / f"sshd-{address}.log"
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection((address, port), timeout=1) as connection:
                if connection.recv(8).startswith(b"SSH-"):
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"sshd on {address}:{port} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    return SshHost(address, port, home, process, log)
