"""``cluster up|down`` against a local moto server (AWS's EC2 API cannot run here; moto's server can).

boto3 reaches it through ``AWS_ENDPOINT_URL_EC2`` with dummy credentials, exactly as it would reach
AWS. Moto's instances have made-up addresses, so these tests never wait for SSH on them
(``--no-wait-ssh``; the wait itself is tested against a real sshd in test_cluster_bootstrap.py) and
never bootstrap them.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from sigopt_hyperopt.cli import main
from sigopt_hyperopt.cluster import ec2
from sigopt_hyperopt.cluster.state import load

from .sshd import free_port

SECRET = "moto-secret-key-that-must-never-be-printed"
NEWEST_NOBLE = "ami-0feedface0000002"
IMAGES = [
    {"ami_id": "ami-0feedface0000001", "name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250101",
     "creation_date": "2025-01-01T00:00:00.000Z", "architecture": "x86_64"},
    {"ami_id": NEWEST_NOBLE, "name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20260601",
     "creation_date": "2026-06-01T00:00:00.000Z", "architecture": "x86_64"},
    {"ami_id": "ami-0feedface0000003", "name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20260901",
     "creation_date": "2026-09-01T00:00:00.000Z", "architecture": "arm64"},
    {"ami_id": "ami-0feedface0000004", "name": "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20261001",
     "creation_date": "2026-10-01T00:00:00.000Z", "architecture": "x86_64"},
]


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("moto")
    amis = folder / "amis.json"
    amis.write_text(json.dumps([{**image, "owner_id": ec2.UBUNTU_OWNER, "state": "available", "public": True,
                                 "root_device_type": "ebs", "root_device_name": "/dev/sda1",
                                 "virtualization_type": "hvm", "hypervisor": "xen", "image_type": "machine",
                                 "description": image["name"], "platform": None, "sriov": "simple",
                                 "image_location": "amazon/" + image["name"]} for image in IMAGES]))
    port = free_port("127.0.0.1")
    server = Path(sys.executable).parent / "moto_server"
    log = folder / "moto.log"
    process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=open(log, "ab"),
                               stderr=subprocess.STDOUT, env={"PATH": "/usr/bin:/bin", "MOTO_AMIS_PATH": str(amis)})
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
    try:
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def aws(moto_endpoint, monkeypatch, tmp_path):
    """boto3 pointed at moto with dummy credentials; an EC2 client for the test's own checks."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAMOTOTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance-metadata address
    monkeypatch.setenv("SIGOPT_HYPEROPT_CLUSTERS", str(tmp_path / "clusters"))
    return boto3.client("ec2")


def cluster(capsys, *arguments: str) -> tuple[int, str]:
    code = main(["cluster", *arguments])
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    return code, out + err


def tagged(client, name: str, states=("pending", "running")) -> list[dict]:
    return ec2.find_instances(client, name, states)


def launch_unrelated(client) -> str:
    return client.run_instances(ImageId=NEWEST_NOBLE, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0][
        "InstanceId"]


def state_of(client, instance_id: str) -> str:
    return client.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]


def test_up_launches_tagged_instances_behind_an_ssh_only_group_and_is_idempotent(aws, capsys):
    unrelated = launch_unrelated(aws)
    code, out = cluster(capsys, "up", "alpha", "--count", "2", "--instance-type", "c7i.large",
                        "--ssh-cidr", "198.51.100.7/32", "--no-wait-ssh")
    assert code == 0, out
    instances = tagged(aws, "alpha")
    assert len(instances) == 2 and unrelated not in {i["InstanceId"] for i in instances}
    assert all(i["ImageId"] == NEWEST_NOBLE and i["InstanceType"] == "c7i.large" for i in instances)
    assert all({"Key": "Name", "Value": "sigopt-hyperopt-alpha"} in i["Tags"] for i in instances)

    group = ec2.find_security_group(aws, "alpha")
    assert {i["SecurityGroups"][0]["GroupId"] for i in instances} == {group["GroupId"]}
    rules = group["IpPermissions"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"], [x["CidrIp"] for x in r["IpRanges"]]) for r in rules] == [
        ("tcp", 22, 22, ["198.51.100.7/32"])]

    record = load("alpha")
    assert sorted(h.instance_id for h in record.hosts) == sorted(i["InstanceId"] for i in instances)
    assert {h.user for h in record.hosts} == {"ubuntu"} and record.security_group_id == group["GroupId"]
    assert SECRET not in record.path.read_text() and "AKIAMOTOTEST" not in record.path.read_text()

    code, out = cluster(capsys, "up", "alpha", "--count", "2", "--ssh-cidr", "198.51.100.7/32", "--no-wait-ssh")
    assert code == 0 and "2 instance(s) already there, 0 to launch" in out and "(0 launched now)" in out
    assert len(tagged(aws, "alpha")) == 2
    assert len(ec2.find_security_group(aws, "alpha")["IpPermissions"]) == 1

    code, out = cluster(capsys, "up", "alpha", "--count", "3", "--ssh-cidr", "198.51.100.7/32", "--no-wait-ssh")
    assert code == 0 and "(1 launched now)" in out
    assert len(tagged(aws, "alpha")) == 3 and len(load("alpha").hosts) == 3
    assert state_of(aws, unrelated) == "running"


def test_ssh_is_never_opened_to_the_internet_unless_asked_in_so_many_words(aws, capsys):
    code, out = cluster(capsys, "up", "open", "--ssh-cidr", "0.0.0.0/0", "--no-wait-ssh")
    assert code == 2 and "Refusing to open SSH to the whole internet" in out
    assert tagged(aws, "open") == [] and ec2.find_security_group(aws, "open") is None

    code, out = cluster(capsys, "up", "open", "--allow-ssh-from-anywhere", "--no-wait-ssh")
    assert code == 0, out
    rules = ec2.find_security_group(aws, "open")["IpPermissions"]
    assert [x["CidrIp"] for r in rules for x in r["IpRanges"]] == ["0.0.0.0/0"]
    assert cluster(capsys, "down", "open", "--yes")[0] == 0


def test_dry_runs_act_on_nothing(aws, capsys):
    code, out = cluster(capsys, "up", "dry", "--count", "4", "--ssh-cidr", "203.0.113.0/24", "--dry-run")
    assert code == 0 and "dry run: nothing was changed" in out
    assert f"launch 4 x c7i.large from {NEWEST_NOBLE}" in out and "SSH (22/tcp) from 203.0.113.0/24 only" in out
    assert tagged(aws, "dry") == [] and ec2.find_security_group(aws, "dry") is None

    assert cluster(capsys, "up", "dry", "--count", "1", "--ssh-cidr", "203.0.113.0/24", "--no-wait-ssh")[0] == 0
    code, out = cluster(capsys, "down", "dry", "--dry-run")
    assert code == 0 and "terminate 1 instance(s)" in out and "dry run: nothing was changed" in out
    assert len(tagged(aws, "dry")) == 1 and ec2.find_security_group(aws, "dry") is not None
    assert cluster(capsys, "down", "dry", "--yes")[0] == 0


def test_down_asks_first_and_terminates_only_this_clusters_instances(aws, capsys, monkeypatch):
    unrelated = launch_unrelated(aws)
    for name, count in (("beta", 2), ("gamma", 1)):
        assert cluster(capsys, "up", name, "--count", str(count), "--ssh-cidr", "192.0.2.1/32", "--no-wait-ssh")[0] == 0
    beta = [i["InstanceId"] for i in tagged(aws, "beta")]

    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    code, out = cluster(capsys, "down", "beta")
    assert code == 2 and "Not confirmed: nothing was terminated" in out
    assert all(state_of(aws, i) == "running" for i in beta)

    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    code, out = cluster(capsys, "down", "beta")
    assert code == 0, out
    assert all(state_of(aws, i) == "terminated" for i in beta)
    assert ec2.find_security_group(aws, "beta") is None
    assert state_of(aws, unrelated) == "running"
    assert [i["State"]["Name"] for i in tagged(aws, "gamma")] == ["running"]
    assert ec2.find_security_group(aws, "gamma") is not None
    code, out = cluster(capsys, "status", "beta")
    assert code == 2 and "No cluster named 'beta'" in out
    assert cluster(capsys, "down", "gamma", "--yes")[0] == 0


def test_missing_credentials_are_a_clear_error(aws, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, out = cluster(capsys, "up", "nocreds", "--ssh-cidr", "192.0.2.1/32", "--no-wait-ssh")
    assert code == 2 and "No AWS credentials found" in out


def test_the_callers_address_becomes_a_single_host_range():
    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"203.0.113.9\n")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert ec2.caller_cidr(f"http://127.0.0.1:{server.server_port}/") == "203.0.113.9/32"
    finally:
        server.shutdown()


def test_the_bin_script_is_the_cluster_command(aws):
    script = Path(__file__).resolve().parent.parent / "bin" / "sigopt-hyperopt-cluster"
    done = subprocess.run([sys.executable, str(script), "up", "scripted", "--count", "2", "--ssh-cidr", "192.0.2.0/28",
                           "--dry-run"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "launch 2 x c7i.large" in done.stdout and "dry run: nothing was changed" in done.stdout
    assert tagged(aws, "scripted") == [] and SECRET not in done.stdout + done.stderr
