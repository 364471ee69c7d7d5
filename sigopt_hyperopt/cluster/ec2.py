"""EC2 with boto3: launch a cluster's instances and security group, find them, terminate them.

Every resource carries the tag ``sigopt-hyperopt:cluster = NAME``; finding and terminating go by
that tag only, so ``down`` never touches an instance of another cluster or one launched by hand.
The security group admits SSH (22/tcp) from one CIDR: the caller's own address (/32) unless
``--ssh-cidr`` says otherwise, and never the whole internet unless explicitly allowed.
Credentials come from boto3's standard chain (environment, profile, instance role) and are never
printed or stored; ``AWS_ENDPOINT_URL_EC2`` / ``AWS_ENDPOINT_URL`` point boto3 elsewhere (the tests
use a local moto server).
"""

from __future__ import annotations

import ipaddress
import logging
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ClusterError

try:
    import boto3
    import botocore.exceptions
except ImportError as missing:
    raise ClusterError(f"Launching EC2 instances needs boto3 ({missing}): pip install 'sigopt-hyperopt[aws]'. "
                       "Machines of your own are bootstrapped over SSH without it (cluster bootstrap).") from None

logger = logging.getLogger(__name__)

TAG_KEY = "sigopt-hyperopt:cluster"
LIVE_STATES = ("pending", "running", "stopping", "stopped")
UBUNTU_OWNER = "099720109477"  # Canonical
UBUNTU_NAME = "ubuntu/images/hvm-ssd*/ubuntu-noble-24.04-amd64-server-*"
CALLER_ADDRESS_URL = "https://checkip.amazonaws.com"
OPEN_TO_ALL = ("0.0.0.0/0", "::/0")

USER_DATA = """#!/bin/sh
# sigopt-hyperopt: what `cluster bootstrap` needs beyond the image: a Python venv module.
if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi
"""


@dataclass(frozen=True)
class LaunchPlan:
    name: str
    count: int
    instance_type: str
    ami: str | None
    key_name: str | None
    subnet: str | None
    spot: bool
    ssh_cidr: str


def client(region: str | None) -> Any:
    """An EC2 client from boto3's standard credential chain; ClusterError when that chain is empty."""
    try:
        session = boto3.session.Session(region_name=region)
        if session.region_name is None:
            raise ClusterError("No AWS region: pass --region or set AWS_DEFAULT_REGION (or a region in ~/.aws/config).")
        if session.get_credentials() is None:
            raise ClusterError("No AWS credentials found: run `aws configure`, set AWS_PROFILE, or set "
                               "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment.")
        return session.client("ec2")
    except botocore.exceptions.BotoCoreError as error:
        raise ClusterError(f"Cannot set up the AWS client: {error}") from None


def aws_call(what: str, function: Callable[..., Any], **kwargs: Any) -> Any:
    """Call boto3, turning AWS's refusals into ClusterErrors that name the step."""
    try:
        return function(**kwargs)
    except botocore.exceptions.ClientError as error:
        info = error.response.get("Error", {})
        raise ClusterError(f"AWS refused to {what}: {info.get('Code')}: {info.get('Message')}") from None
    except botocore.exceptions.NoCredentialsError:
        raise ClusterError("No AWS credentials found: run `aws configure` or set AWS_PROFILE.") from None
    except botocore.exceptions.BotoCoreError as error:
        raise ClusterError(f"Cannot reach AWS to {what}: {error}") from None


def check_ssh_cidr(cidr: str, allow_anywhere: bool) -> str:
    try:
        network = str(ipaddress.ip_network(cidr, strict=False))
    except ValueError:
        raise ClusterError(f"--ssh-cidr {cidr!r} is not an address range such as 203.0.113.7/32.") from None
    if network in OPEN_TO_ALL and not allow_anywhere:
        raise ClusterError(f"Refusing to open SSH to the whole internet ({network}): give your own address range "
                           "with --ssh-cidr, or pass --allow-ssh-from-anywhere if you really mean it.")
    return network


def caller_cidr(url: str = CALLER_ADDRESS_URL, timeout: float = 10) -> str:
    """This machine's public address as a /32, as AWS's check-ip service sees it."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            address = answer.read().decode().strip()
        return str(ipaddress.ip_network(f"{address}/32" if ":" not in address else f"{address}/128"))
    except (OSError, ValueError) as error:
        raise ClusterError(f"Cannot find this machine's public address ({url}: {error}); pass --ssh-cidr.") from None


def default_ami(ec2: Any) -> str:
    """The newest Ubuntu 24.04 amd64 image published by Canonical in the client's region."""
    images = aws_call("list Ubuntu images", ec2.describe_images, Owners=[UBUNTU_OWNER],
                      Filters=[{"Name": "name", "Values": [UBUNTU_NAME]}, {"Name": "state", "Values": ["available"]},
                               {"Name": "architecture", "Values": ["x86_64"]}])["Images"]
    if not images:
        raise ClusterError("No Ubuntu 24.04 image found in this region: pass --ami.")
    return max(images, key=lambda image: image.get("CreationDate") or "")["ImageId"]


def find_instances(ec2: Any, name: str, states: tuple[str, ...] = LIVE_STATES) -> list[dict]:
    """The cluster's instances (by tag) in the given states."""
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": f"tag:{TAG_KEY}", "Values": [name]}, {"Name": "instance-state-name", "Values": list(states)}])
    try:
        return [instance for page in pages for reservation in page["Reservations"] for instance in reservation["Instances"]]
    except botocore.exceptions.ClientError as error:
        raise ClusterError(f"AWS refused to list instances: {error.response.get('Error', {}).get('Message')}") from None


def group_name(name: str) -> str:
    return f"sigopt-hyperopt-{name}"


def find_security_group(ec2: Any, name: str) -> dict | None:
    groups = aws_call("list security groups", ec2.describe_security_groups,
                      Filters=[{"Name": f"tag:{TAG_KEY}", "Values": [name]}])["SecurityGroups"]
    return groups[0] if groups else None


def ensure_security_group(ec2: Any, name: str, ssh_cidr: str, subnet: str | None) -> str:
    """The cluster's group, created if missing, admitting SSH from ``ssh_cidr`` (added if missing)."""
    group = find_security_group(ec2, name)
    if group is None:
        vpc_id = None
        if subnet:
            vpc_id = aws_call("describe the subnet", ec2.describe_subnets, SubnetIds=[subnet])["Subnets"][0]["VpcId"]
        arguments: dict[str, Any] = {
            "GroupName": group_name(name),
            "Description": f"sigopt-hyperopt cluster {name}: SSH only",
            "TagSpecifications": [{"ResourceType": "security-group", "Tags": [{"Key": TAG_KEY, "Value": name}]}],
        }
        if vpc_id:
            arguments["VpcId"] = vpc_id
        group_id = aws_call("create the security group", ec2.create_security_group, **arguments)["GroupId"]
        logger.info("created security group %s", group_id)
        group = {"GroupId": group_id, "IpPermissions": []}
    admitted = {ip_range["CidrIp"] for rule in group.get("IpPermissions", [])
                if rule.get("FromPort") == 22 and rule.get("ToPort") == 22 for ip_range in rule.get("IpRanges", [])}
    if ssh_cidr not in admitted:
        aws_call("admit SSH in the security group", ec2.authorize_security_group_ingress, GroupId=group["GroupId"],
                 IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                 "IpRanges": [{"CidrIp": ssh_cidr, "Description": "SSH for sigopt-hyperopt"}]}])
    return group["GroupId"]


def launch(ec2: Any, plan: LaunchPlan, security_group_id: str, count: int) -> list[str]:
    """Launch ``count`` more instances for the cluster; returns their ids."""
    tags = [{"Key": TAG_KEY, "Value": plan.name}, {"Key": "Name", "Value": f"sigopt-hyperopt-{plan.name}"}]
    arguments: dict[str, Any] = {
        "ImageId": plan.ami, "InstanceType": plan.instance_type, "MinCount": count, "MaxCount": count,
        "UserData": USER_DATA,
        "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}, {"ResourceType": "volume", "Tags": tags}],
    }
    if plan.subnet:
        arguments["NetworkInterfaces"] = [{"DeviceIndex": 0, "SubnetId": plan.subnet, "Groups": [security_group_id],
                                           "AssociatePublicIpAddress": True}]
    else:
        arguments["SecurityGroupIds"] = [security_group_id]
    if plan.key_name:
        arguments["KeyName"] = plan.key_name
    if plan.spot:
        arguments["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {"SpotInstanceType": "one-time"}}
    reservation = aws_call("launch instances", ec2.run_instances, **arguments)
    return [instance["InstanceId"] for instance in reservation["Instances"]]


def wait_for_state(ec2: Any, ids: list[str], state: str, tick: Callable[[int], None], timeout: float = 600) -> list[dict]:
    """Poll until every instance is in ``state``; ``tick(n)`` reports how many are."""
    deadline = time.monotonic() + timeout
    while True:
        instances = [instance for reservation in aws_call("describe instances", ec2.describe_instances,
                                                          InstanceIds=ids)["Reservations"]
                     for instance in reservation["Instances"]]
        done = [i for i in instances if i["State"]["Name"] == state]
        tick(len(done))
        if len(done) == len(ids):
            return instances
        failed = [i for i in instances if state == "running" and i["State"]["Name"] in ("terminated", "shutting-down")]
        if failed:
            reasons = ", ".join(f"{i['InstanceId']}: {i.get('StateReason', {}).get('Message', 'terminated')}" for i in failed)
            raise ClusterError(f"Instances ended while starting ({reasons}).")
        if time.monotonic() > deadline:
            raise ClusterError(f"Instances not {state} after {timeout:.0f} s: {', '.join(ids)}")
        time.sleep(3)


def address_of(instance: dict) -> str | None:
    return instance.get("PublicIpAddress") or instance.get("PrivateIpAddress")


def terminate(ec2: Any, ids: list[str]) -> None:
    if ids:
        aws_call("terminate instances", ec2.terminate_instances, InstanceIds=ids)


def delete_security_group(ec2: Any, group_id: str, timeout: float = 300) -> None:
    """Delete the group once no instance uses it any more (AWS refuses while one still does)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ec2.delete_security_group(GroupId=group_id)
            return
        except botocore.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "InvalidGroup.NotFound":
                return
            if code != "DependencyViolation" or time.monotonic() > deadline:
                raise ClusterError(f"AWS refused to delete security group {group_id}: {code}: "
                                   f"{error.response.get('Error', {}).get('Message')}") from None
            time.sleep(5)
