"""``cluster bootstrap|tunnel|status|down`` against real OpenSSH servers on loopback addresses.

Hosts (each its own sshd, HOME and PATH; see tests/sshd.py):

* 127.0.0.2 -- Debian's python3 and uv: installs with uv;
* 127.0.0.3 -- Debian's python3, no uv: installs with ``python -m venv`` and pip;
* 127.0.0.4 -- a Python older than the package needs (pyenv's 3.9 when the machine has it, else none).

The end-to-end test runs a real search: fmin with sigopt_suggest and MongoTrials on FerretDB,
evaluated by workers that ``bootstrap`` installed and started over SSH, reaching the database
through the tunnels ``cluster tunnel`` holds (one of which is cut and must come back).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hyperopt import fmin, hp
from hyperopt.base import JOB_STATE_DONE, JOB_STATE_RUNNING

from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.cli import main
from sigopt_hyperopt.cluster.remote import _pid_alive
from sigopt_hyperopt.cluster.ssh import run, wait_for_ssh, write_config
from sigopt_hyperopt.cluster.state import ClusterState, Host
from sigopt_hyperopt.errors import ClusterError
from sigopt_hyperopt.mongo import MongoTrials

from .sshd import free_port, make_keys, start_sshd
from .test_mongo import queue_placeholder_jobs

ROOT = Path(__file__).resolve().parent.parent
DEBIAN_PYTHON = "/usr/bin/python3"


def _real_uv() -> str:
    """The uv binary itself (not a pyenv shim, which needs the driver's HOME)."""
    from shutil import which

    found = which("uv")
    assert found, "uv is needed on the test machine (.ci/run installs it)"
    if "/shims/" in found:
        found = subprocess.run(["pyenv", "which", "uv"], capture_output=True, text=True, check=True).stdout.strip()
    return os.path.realpath(found)


def _old_python() -> str | None:
    versions = sorted((Path.home() / ".pyenv" / "versions").glob("3.[6-9].*/bin/python3"))
    return str(versions[-1]) if versions else None


def _bin_dir(folder: Path, links: dict[str, str]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for name, target in links.items():
        os.symlink(target, folder / name)
    return str(folder)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    base = tmp_path_factory.mktemp("hosts")
    keys = base / "keys"
    make_keys(keys)
    system = ["/usr/local/bin", "/usr/bin", "/bin"]
    old = _old_python()
    started = {
        "uv": start_sshd(base, keys, "127.0.0.2",
                         [_bin_dir(base / "bin-uv", {"python3": DEBIAN_PYTHON, "uv": _real_uv()}), *system]),
        "pip": start_sshd(base, keys, "127.0.0.3", [_bin_dir(base / "bin-pip", {"python3": DEBIAN_PYTHON}), *system]),
        # Only this folder on PATH: its python3 is an old one, or there is none at all.
        "old": start_sshd(base, keys, "127.0.0.4", [_bin_dir(base / "bin-old", {"python3": old} if old else {})]),
    }
    clusters = base / "clusters"
    previous = os.environ.get("SIGOPT_HYPEROPT_CLUSTERS")
    os.environ["SIGOPT_HYPEROPT_CLUSTERS"] = str(clusters)
    try:
        yield {"key": str(keys / "user_ed25519"), "clusters": clusters, **started}
    finally:
        if previous is None:
            os.environ.pop("SIGOPT_HYPEROPT_CLUSTERS", None)
        else:
            os.environ["SIGOPT_HYPEROPT_CLUSTERS"] = previous
        for host in started.values():
            _kill_leftover_workers(host.home)
            host.stop()


def _kill_leftover_workers(home: Path) -> None:
    """After a failed test, no supervisor may outlive it (a passing test has stopped them with `down`)."""
    for record in home.glob(".sigopt-hyperopt/clusters/*/workers.json"):
        for worker in json.loads(record.read_text()):
            if _pid_alive(worker["pid"]):
                os.killpg(worker["pid"], signal.SIGKILL)


def cluster(capsys, *arguments: str) -> tuple[int, str]:
    code = main(["cluster", *arguments])
    out, err = capsys.readouterr()
    return code, out + err


def _worker_pids(host, name: str) -> list[int]:
    record = host.home / ".sigopt-hyperopt" / "clusters" / name / "workers.json"
    return [w["pid"] for w in json.loads(record.read_text())]


class TunnelProcess:
    """``sigopt-hyperopt cluster tunnel NAME`` in its own process, its output lines in a queue."""

    def __init__(self, name: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "SIGOPT_API_TOKEN"}
        env["PYTHONPATH"] = str(ROOT)
        self.process = subprocess.Popen([sys.executable, "-m", "sigopt_hyperopt.cli", "cluster", "tunnel", name],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip())

    def wait_for(self, predicate, since: int = 0, timeout: float = 60) -> int:
        """Until ``predicate(lines said since line number since)`` holds; returns the number of lines said."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.seen[since:]):
                return len(self.seen)
            try:
                self.seen.append(self.lines.get(timeout=0.5))
            except queue.Empty:
                continue
        raise AssertionError("tunnel output never matched; it said:\n" + "\n".join(self.seen))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        finally:
            while not self.lines.empty():
                self.seen.append(self.lines.get())


def _ssh_children(pid: int) -> list[int]:
    """The tunnel-carrying ssh processes started by process ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            arguments = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and b"-R" in arguments:
            found.append(int(stat.parent.name))
    return found


def _started_processes(host, name: str) -> list[int]:
    """Every supervisor of the cluster on a host and the worker process each one runs now.

    A supervisor appends each worker it starts to its pids file (kept across bootstraps): the last
    line is its current worker, once that one is running.
    """
    base = host.home / ".sigopt-hyperopt" / "clusters" / name
    supervisors = _worker_pids(host, name)
    deadline = time.monotonic() + 60
    while True:
        current = [int(path.read_text().split()[-1]) for path in (base / "logs").glob("worker-*.pids")
                   if path.read_text().split()]
        running = [pid for pid in current if Path(f"/proc/{pid}").exists() and pid not in supervisors]
        if len(running) == len(supervisors) and all(_pid_parent(pid) in supervisors for pid in running):
            return supervisors + running
        assert time.monotonic() < deadline, f"the supervisors {supervisors} run no worker: {current}"
        time.sleep(0.1)


def _pid_parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _assert_secret_only_in_environment(host, name: str, secret: str) -> None:
    """No command line on the host holds the secret; every worker process got it (in its environment)."""
    for pid in _started_processes(host, name):
        assert secret.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes(), pid
        assert secret.encode() in Path(f"/proc/{pid}/environ").read_bytes(), pid


def test_a_search_runs_on_workers_that_bootstrap_started_over_ssh(hosts, mongo_db, tmp_path, capsys, monkeypatch):
    objective = tmp_path / "cluster_objective.py"
    objective.write_text(textwrap.dedent("""
        import time

        import iniconfig  # not a dependency of sigopt-hyperopt: the hosts get it from --requirements


        def objective(params):
            time.sleep(0.3)
            return (params["x"] - 0.25) ** 2
    """))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("iniconfig\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from cluster_objective import objective as fn  # noqa: E402  (the driver imports it as the user would)

    uv_host, pip_host = hosts["uv"], hosts["pip"]
    code, out = cluster(capsys, "bootstrap", "e2e", "--hosts", f"{uv_host.spec},{pip_host.spec}", "--key", hosts["key"],
                        "--db", mongo_db, "--workers-per-host", "2", "--ship", str(objective),
                        "--requirements", str(requirements),
                        "--tunnel-port", str(free_port("127.0.0.1")), "--poll-interval", "0.2")
    assert code == 0, out
    assert f"ok      {uv_host.spec}" in out and "installed with uv" in out
    assert f"ok      {pip_host.spec}" in out and "installed with pip" in out
    assert "2 of 2 host(s) running workers" in out

    tunnel = TunnelProcess("e2e")
    try:
        said = tunnel.wait_for(lambda lines: all(any(line.startswith(f"tunnel {host.spec}") and line.endswith(": up")
                                                     for line in lines) for host in (uv_host, pip_host)))

        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="cluster")
        ready_by = time.monotonic() + 120  # every worker on both hosts is polling before the search starts
        while trials.live_workers() < 4:
            assert time.monotonic() < ready_by, f"{trials.live_workers()} of 4 workers reached the database"
            time.sleep(0.2)
        cut = threading.Event()

        def cut_a_tunnel_midway() -> None:
            # Once some trials are done, end the ssh carrying one host's tunnel; the keeper must reopen it.
            while trials.count_by_state_unsynced(JOB_STATE_DONE) < 4:
                time.sleep(0.2)
            os.kill(_ssh_children(tunnel.process.pid)[0], signal.SIGKILL)
            cut.set()

        cutter = threading.Thread(target=cut_a_tunnel_midway, daemon=True)
        cutter.start()
        fmin(fn, {"x": hp.uniform("x", -1, 1)}, algo=sigopt_suggest, max_evals=16, trials=trials, max_queue_len=4,
             rstate=np.random.default_rng(0), show_progressbar=False)
        assert cut.is_set()
        said = tunnel.wait_for(lambda lines: any(": down (" in line for line in lines), since=said)
        tunnel.wait_for(lambda lines: any(line.endswith(": up") for line in lines), since=said)

        docs = trials.all_trial_docs()
        assert len(docs) == 16 and all(d["state"] == JOB_STATE_DONE and d["result"]["status"] == "ok" for d in docs)

        code, out = cluster(capsys, "status", "e2e")
        assert code == 0, out
        finished = []
        for host in (uv_host, pip_host):
            line = next(line for line in out.splitlines() if line.strip().startswith(host.spec))
            assert "reachable, 2/2 worker(s) alive" in line, out
            finished.append(int(line.split("jobs finished ")[1].split(",")[0]))
        assert sum(finished) == 16 and all(n > 0 for n in finished), out  # every job, and both hosts took some
        assert "finished 16" in out

        pids = {name: _worker_pids(hosts[name], "e2e") for name in ("uv", "pip")}
        code, out = cluster(capsys, "down", "e2e")
        assert code == 0, out
        assert out.count("2 worker(s) stopped cleanly") == 2, out
        assert not any(_pid_alive(pid) for group in pids.values() for pid in group)
        assert trials.count_by_state_unsynced(JOB_STATE_RUNNING) == 0
    finally:
        assert tunnel.stop() == 0, "\n".join(tunnel.seen)
    assert "tunnels closed" in tunnel.seen[-1]


def test_a_failing_host_is_reported_with_its_reason_while_the_others_carry_on(hosts, mongo_db, capsys, tmp_path):
    unreachable = f"root@127.0.0.5:{free_port('127.0.0.5')}"  # nobody listens there
    good, old = hosts["uv"], hosts["old"]
    code, out = cluster(capsys, "bootstrap", "mixed", "--hosts", f"{good.spec},{unreachable},{old.spec}",
                        "--key", hosts["key"], "--db", f"alice:s3cret-pw@{mongo_db}", "--workers-per-host", "1",
                        "--tunnel-port", str(free_port("127.0.0.1")))
    assert code == 1
    assert f"ok      {good.spec}" in out
    assert f"FAILED  {unreachable}: cannot connect over SSH" in out and "Connection refused" in out
    assert f"FAILED  {old.spec}: " in out and "sigopt-hyperopt needs Python >=3.11" in out
    assert "1 of 3 host(s) running workers" in out
    assert not (old.home / ".sigopt-hyperopt").exists()  # nothing was installed on the old-Python host
    assert "s3cret-pw" not in out and "alice:***@" in out
    assert not any("s3cret-pw" in path.read_text() for path in hosts["clusters"].glob("mixed.*"))
    _assert_secret_only_in_environment(good, "mixed", "s3cret-pw")  # ps on the host shows no password

    code, out = cluster(capsys, "status", "mixed")
    assert f"{good.spec}: reachable, 1/1 worker(s) alive" in out and "s3cret-pw" not in out
    assert f"{unreachable}: not bootstrapped" in out

    # Bootstrapping again replaces the workers (the old one stops first) and reuses the venv; the password
    # comes from a file this time, so it is on no command line here either.
    [first_pid] = _worker_pids(good, "mixed")
    secret_file = tmp_path / "db-password"
    secret_file.write_text("f1le-pw-2\n")
    secret_file.chmod(0o600)
    code, out = cluster(capsys, "bootstrap", "mixed", "--db", f"alice@{mongo_db}", "--mongo-password-file",
                        str(secret_file))
    assert code == 1 and f"ok      {good.spec}" in out and "1 worker(s) started (replaced 1)" in out, out
    assert not _pid_alive(first_pid)
    assert "f1le-pw-2" not in out
    _assert_secret_only_in_environment(good, "mixed", "f1le-pw-2")

    # A worker that dies (its whole process group killed, as by the OOM killer) shows its last log line.
    [pid] = _worker_pids(good, "mixed")
    log = good.home / ".sigopt-hyperopt" / "clusters" / "mixed" / "logs" / "worker-0.log"
    deadline = time.monotonic() + 60
    while not log.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    code, out = cluster(capsys, "status", "mixed")
    last_line = log.read_text().strip().splitlines()[-1]
    assert f"{good.spec}: reachable, 0/1 worker(s) alive" in out
    assert f"worker 0 (pid {pid}) is not running; last log line: {last_line}" in out
    assert "s3cret-pw" not in log.read_text()

    code, out = cluster(capsys, "down", "mixed")
    assert code == 0 and "0 worker(s) stopped cleanly" in out, out


def test_a_wrong_key_path_fails_before_any_work(hosts, mongo_db, capsys):
    code, out = cluster(capsys, "bootstrap", "nokey", "--hosts", hosts["uv"].spec, "--key", "/nonexistent/id_ed25519",
                        "--db", mongo_db)
    assert code == 2
    assert "error: The SSH key /nonexistent/id_ed25519 does not exist: pass --key" in out
    assert not (hosts["clusters"] / "nokey.json").exists()
    assert not (hosts["uv"].home / ".sigopt-hyperopt" / "clusters" / "nokey").exists()


def test_dry_runs_print_the_plan_and_touch_nothing(hosts, mongo_db, capsys):
    host = hosts["uv"]
    code, out = cluster(capsys, "bootstrap", "dry", "--hosts", host.spec, "--key", hosts["key"], "--db", mongo_db,
                        "--workers-per-host", "3", "--dry-run")
    assert code == 0 and "dry run: nothing was changed" in out
    assert f"{host.spec}: ~/.sigopt-hyperopt/clusters/dry/venv; 3 worker(s)" in out
    assert not (hosts["clusters"] / "dry.json").exists()
    assert not (host.home / ".sigopt-hyperopt" / "clusters" / "dry").exists()

    record = ClusterState(name="dry", hosts=[Host(host.address, "root", host.port, bootstrapped=True)],
                          key_path=hosts["key"], database=mongo_db, tunnel_port=40000)
    record.save()
    before = record.path.read_text()
    code, out = cluster(capsys, "tunnel", "dry", "--dry-run")
    assert code == 0 and "dry run: nothing was opened" in out
    assert f"-R 127.0.0.1:40000:{mongo_db.split('/')[0]}" in out
    code, out = cluster(capsys, "down", "dry", "--dry-run")
    assert code == 0 and f"stop the workers on 1 host(s): {host.spec}" in out and "terminate" not in out
    code, out = cluster(capsys, "status", "dry", "--dry-run")
    assert code == 0 and "dry run" in out
    assert record.path.read_text() == before and not record.known_hosts_path.exists()


def test_waiting_for_ssh_returns_when_it_answers_and_names_the_silent_ones(hosts):
    host = hosts["uv"]
    wait_for_ssh([(host.address, host.port)], timeout=10)
    silent = free_port("127.0.0.6")
    with pytest.raises(ClusterError, match=f"127.0.0.6:{silent}"):
        wait_for_ssh([(host.address, host.port), ("127.0.0.6", silent)], timeout=1)


def test_paths_with_spaces_and_percent_signs_reach_the_host(hosts, tmp_path, monkeypatch):
    """The generated ssh config quotes the key and known-hosts paths (a space used to break every command)."""
    folder = tmp_path / "my keys %d"
    folder.mkdir()
    key = folder / "id ed25519"
    key.write_bytes(Path(hosts["key"]).read_bytes())
    key.chmod(0o600)
    monkeypatch.setenv("SIGOPT_HYPEROPT_CLUSTERS", str(tmp_path / "cluster records"))
    host = hosts["uv"]
    state = ClusterState(name="spaced", hosts=[Host(host.address, "root", host.port)], key_path=str(key))
    write_config(state)
    done = run(state, state.hosts[0], "echo reached")
    assert done.returncode == 0 and done.stdout.strip() == "reached", done.stderr
    assert state.known_hosts_path.read_text().strip()  # the host key was remembered at the quoted path


def test_a_bootstrap_with_no_host_up_says_to_fix_the_hosts_not_to_hold_tunnels(hosts, mongo_db, capsys):
    unreachable = f"root@127.0.0.5:{free_port('127.0.0.5')}"  # nobody listens there
    code, out = cluster(capsys, "bootstrap", "none-up", "--hosts", unreachable, "--key", hosts["key"], "--db", mongo_db,
                        "--tunnel-port", str(free_port("127.0.0.1")))
    assert code == 1
    assert f"FAILED  {unreachable}: cannot connect over SSH" in out
    assert "0 of 1 host(s) running workers" in out
    assert "cluster tunnel" not in out, out  # before: "keep `sigopt-hyperopt cluster tunnel none-up` running"
    assert "No host runs workers, so there is nothing to tunnel to yet: fix what each FAILED line says" in out


def test_status_after_down_counts_no_finished_job_as_taken_outside_the_cluster(hosts, mongo_db, capsys):
    """After `down` no host is asked for its workers; before, every finished job then counted as
    "taken by workers outside this cluster"."""
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="after-down")
    queue_placeholder_jobs(trials, 4)
    jobs = trials.handle
    for i in range(3):  # finished by the cluster's workers before `down`
        job = jobs.reserve(f"cluster-host:{4242 + i}:aaaaaa", exp_key="after-down")
        jobs.update(job, {"state": JOB_STATE_DONE, "result": {"status": "ok", "loss": 1.0}})
    jobs.reserve("laptop:77:bbbbbb", exp_key="after-down")  # running on a worker of the user's own
    good = hosts["uv"]
    ClusterState(name="after-down", hosts=[Host(good.address, "root", good.port, bootstrapped=False)],
                 key_path=hosts["key"], database=mongo_db).save()
    code, out = cluster(capsys, "status", "after-down")
    assert code == 0, out
    assert f"{good.spec}: not bootstrapped" in out
    assert "all jobs: new 0, running 1, finished 3, failed 0 (1 running on workers outside this cluster)" in out, out
