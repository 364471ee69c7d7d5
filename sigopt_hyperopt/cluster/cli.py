"""``sigopt-hyperopt cluster up|bootstrap|tunnel|status|down``: the life of a worker fleet.

The command-line layer of :mod:`sigopt_hyperopt.cluster` and the only module of it that prints.
Every subcommand takes ``--dry-run`` (print the plan, act on nothing); anything a person waits on
shows a progress bar.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..errors import ClusterError, SigOptHyperoptError
from ..mongo.address import MASK
from . import state as cluster_state
from .state import ClusterState, Host

DEFAULT_INSTANCE_TYPE = "c7i.large"
DEFAULT_EC2_USER = "ubuntu"


def _say(text: str = "") -> None:
    tqdm.write(text, file=sys.stdout)


# -- up ----------------------------------------------------------------------------------------------


def _up(args: argparse.Namespace) -> int:
    from . import ec2, ssh

    state = cluster_state.load_or_new(cluster_state.check_name(args.name))
    key_path = ssh.check_key(args.key) if args.key else state.key_path
    client = ec2.client(args.region or state.region)
    cidr = ec2.check_ssh_cidr(args.ssh_cidr or ("0.0.0.0/0" if args.allow_ssh_from_anywhere else ec2.caller_cidr()),
                              args.allow_ssh_from_anywhere)
    existing = ec2.find_instances(client, args.name)
    missing = max(0, args.count - len(existing))
    ami = args.ami or (ec2.default_ami(client) if missing else None)
    group = ec2.find_security_group(client, args.name)
    plan = ec2.LaunchPlan(args.name, args.count, args.instance_type, ami, args.key_name, args.subnet, args.spot, cidr)
    region = client.meta.region_name
    _say(f"cluster {args.name} in {region}: {len(existing)} instance(s) already there, {missing} to launch")
    group_text = group["GroupId"] if group else ec2.group_name(args.name) + " (new)"
    _say(f"  security group {group_text}: SSH (22/tcp) from {cidr} only")
    if missing:
        _say(f"  launch {missing} x {args.instance_type}{' (spot)' if args.spot else ''} from {ami}"
             f"{', key pair ' + args.key_name if args.key_name else ''}{', subnet ' + args.subnet if args.subnet else ''}")
    if args.dry_run:
        _say("dry run: nothing was changed")
        return 0
    group_id = ec2.ensure_security_group(client, args.name, cidr, args.subnet)
    launched = ec2.launch(client, plan, group_id, missing) if missing else []
    ids = [i["InstanceId"] for i in existing if i["State"]["Name"] != "stopped"] + launched
    with tqdm(total=len(ids), desc="instances running", unit="instance") as bar:
        instances = ec2.wait_for_state(client, ids, "running", lambda n: bar.update(n - bar.n))
    known = {h.instance_id: h for h in state.hosts if h.instance_id}
    state.hosts = [known.get(i["InstanceId"]) or Host(address=ec2.address_of(i) or "", user=args.user,
                                                       instance_id=i["InstanceId"]) for i in instances]
    for host, instance in zip(state.hosts, instances):
        host.address = ec2.address_of(instance) or host.address
    state.region, state.security_group_id, state.key_path = region, group_id, key_path
    state.save()
    ssh.write_config(state)
    if args.wait_ssh:
        with tqdm(total=len(state.hosts), desc="SSH answering", unit="host") as bar:
            ssh.wait_for_ssh([(h.address, h.port) for h in state.hosts], args.ssh_timeout, lambda _address: bar.update())
    for host in state.hosts:
        _say(f"  {host.instance_id}  {host.label}")
    _say(f"cluster {args.name}: {len(state.hosts)} instance(s) running ({len(launched)} launched now). "
         f"Next: sigopt-hyperopt cluster bootstrap {args.name} --db HOST:PORT/DB")
    return 0


# -- bootstrap -----------------------------------------------------------------------------------------


def _database_plan(args: argparse.Namespace, state: ClusterState) -> tuple[str | None, str | None]:
    """(tunnelled database, direct URL) with any password; the record gets them without it."""
    if args.db and args.mongo:
        raise ClusterError("Give --db (the driver's database, reached through SSH tunnels) or --mongo (a database "
                           "the hosts reach themselves), not both.")
    database, direct = (args.db, None) if args.db else (None, args.mongo) if args.mongo else (state.database,
                                                                                             state.direct_mongo)
    if not database and not direct:
        raise ClusterError("Where is the database? Pass --db HOST:PORT/DB (the driver's, reached through SSH tunnels) "
                           "or --mongo URL (one the hosts reach themselves).")
    option = "--db" if database else "--mongo"
    resolved = _with_password(database or direct, args, option)
    if _password_of(resolved) == MASK:
        raise ClusterError("The cluster record keeps no database password: pass --db/--mongo again with it, or "
                           "give it with --mongo-password-file.")
    state.database, state.direct_mongo = _redacted(database), _redacted(direct)
    return (resolved, None) if database else (None, resolved)


def _with_password(url: str | None, args: argparse.Namespace, option: str) -> str | None:
    """``url`` with the password of ``--mongo-password-file`` or $SIGOPT_HYPEROPT_MONGO_PASSWORD, if any.

    A URL from the cluster record holds ``***`` where the password was: a password given now takes its place.
    """
    from dataclasses import replace

    from ..mongo import parse_mongo_url
    from ..mongo.credentials import PASSWORD_ENV, mongo_url

    if not url:
        return url
    password_file = getattr(args, "mongo_password_file", None)
    typed = url in (args.db, args.mongo)
    address = parse_mongo_url(url)
    if address.password == MASK and not typed:
        if not (password_file or os.environ.get(PASSWORD_ENV)):
            return url  # the callers say the record keeps no password
        url = replace(address, password=None).url
    return mongo_url(url, password_file=password_file, option=option, on_command_line=typed)


def _password_of(url: str | None) -> str | None:
    from ..mongo import parse_mongo_url

    return parse_mongo_url(url).password if url else None


def _mongo_for_host(state: ClusterState, database_url: str | None, direct_url: str | None):
    """The URL each host's workers use, password included (it reaches them in their environment)."""
    from dataclasses import replace

    from ..mongo import parse_mongo_url

    def mongo(host: Host) -> str:
        if direct_url:
            return direct_url
        database = parse_mongo_url(database_url or "")
        query = f"authSource={database.auth_source}" if database.auth_source else ""
        return replace(database, hosts=(("127.0.0.1", state.tunnel_port_of(host)),), query=query).url

    return mongo


def _redacted(url: str | None) -> str | None:
    from ..mongo.address import redact

    return redact(url) if url else url


def _bootstrap(args: argparse.Namespace) -> int:
    from . import bootstrap, package, ssh

    state = cluster_state.load_or_new(cluster_state.check_name(args.name))
    if args.hosts:
        state.hosts = [Host.parse(text, args.user or getpass.getuser()) for text in args.hosts.split(",") if text.strip()]
    if not state.hosts:
        raise ClusterError(f"Cluster {args.name} has no hosts: launch them with `up`, or pass --hosts user@h1,user@h2.")
    state.key_path = ssh.check_key(args.key) if args.key else ssh.check_key(state.key_path)
    state.ssh_options.update(_key_values(args.ssh_option))
    state.python = args.python or state.python
    state.tunnel_port = args.tunnel_port or state.tunnel_port
    state.workers_per_host = args.workers_per_host or state.workers_per_host
    database_url, direct_url = _database_plan(args, state)
    requirements = Path(args.requirements).read_text() if args.requirements else None
    ship = bootstrap.read_ship(args.ship or [])
    worker_args = ["--reserve-timeout=0", f"--poll-interval={args.poll_interval}"]
    if args.exp_key:
        worker_args.append(f"--exp-key={args.exp_key}")
    worker_args += args.worker_arg or []
    plan = bootstrap.WorkerPlan(mongo_for_host=_mongo_for_host(state, database_url, direct_url),
                                per_host=state.workers_per_host, worker_args=worker_args, requirements=requirements,
                                ship=ship)
    ssh.check_ssh_client()

    source = f"--wheel {args.wheel}" if args.wheel else package.wheel_source()  # a ClusterError now, not after the plan
    _say(f"cluster {args.name}: bootstrap {len(state.hosts)} host(s) with sigopt-hyperopt "
         f"{package.__version__} ({source}), Python {ssh.required_python()} as `{state.python}`")
    for host in state.hosts:
        via = (f"tunnel to {state.database} at 127.0.0.1:{state.tunnel_port_of(host)}" if not direct_url
               else f"directly {_redacted(direct_url)}")
        _say(f"  {host.label}: ~/{state.remote_dir}/venv; "
             f"{state.workers_per_host or 'CPU-count'} worker(s), database {via}")
    if requirements:
        _say(f"  plus requirements from {args.requirements}")
    if ship:
        _say(f"  plus shipped into site-packages: {', '.join(sorted(ship))}")
    if args.dry_run:
        _say("dry run: nothing was changed")
        return 0

    state.save()
    ssh.write_config(state)
    with tempfile.TemporaryDirectory(prefix="sigopt-hyperopt-wheel-") as build_dir:
        payload = package.payload(Path(args.wheel) if args.wheel else None, Path(build_dir))
    _say(f"shipping {payload.wheel_name} and {len(payload.pins)} pinned dependencies")
    with tqdm(total=len(state.hosts), desc="bootstrapping", unit="host") as bar:
        def step(host: Host, text: str) -> None:
            bar.set_postfix_str(f"{host.label}: {text}")

        def done(outcome: Any) -> None:
            bar.update()
            if outcome.ok:
                d = outcome.details
                _say(f"  ok      {outcome.host.label}: Python {d['python']}, installed with {d['installer']} in "
                     f"{d['install_seconds']:.0f} s, {d['workers']} worker(s) started"
                     + (f" (replaced {d['replaced']})" if d["replaced"] else ""))
            else:
                _say(f"  FAILED  {outcome.error}")

        outcomes = bootstrap.for_each_host(state.hosts, lambda h: bootstrap.bootstrap_host(state, h, payload, plan, step),
                                           done)
    state.save()
    failed = [o for o in outcomes if not o.ok]
    _say(f"cluster {args.name}: {len(outcomes) - len(failed)} of {len(outcomes)} host(s) running workers")
    if len(failed) == len(outcomes):
        _say("No host runs workers, so there is nothing to tunnel to yet: fix what each FAILED line says, then run "
             "the same bootstrap command again.")
    elif not direct_url:
        _say(f"The workers reach the database through SSH tunnels: keep `sigopt-hyperopt cluster tunnel {args.name}` "
             "running while the search runs.")
    return 1 if failed else 0


def _key_values(items: list[str] | None) -> dict[str, str]:
    options = {}
    for item in items or []:
        key, separator, value = item.partition("=")
        if not separator or not key or any(c.isspace() for c in key):
            raise ClusterError(f"--ssh-option {item!r}: expected KEY=VALUE, e.g. ProxyJump=bastion")
        options[key] = value
    return options


# -- tunnel ------------------------------------------------------------------------------------------------


def _tunnel(args: argparse.Namespace) -> int:
    from . import ssh
    from .tunnel import TunnelKeeper, tunnel_command

    state = cluster_state.load(args.name)
    if not state.database:
        raise ClusterError(f"Cluster {args.name} has no tunnelled database (its workers use --mongo directly); "
                           "bootstrap it with --db HOST:PORT/DB to use tunnels.")
    hosts = [h for h in state.hosts if h.bootstrapped] or state.hosts
    if args.dry_run:
        for host in hosts:
            _say(f"  {host.label}: 127.0.0.1:{state.tunnel_port_of(host)} there -> {state.database} here: "
                 + " ".join(tunnel_command(state, host)))
        _say("dry run: nothing was opened")
        return 0
    ssh.check_key(state.key_path)
    ssh.write_config(state)

    def changed(tunnel: Any) -> None:
        word = "up" if tunnel.up else f"down ({tunnel.last_error or 'ssh ended'})"
        _say(f"tunnel {tunnel.host.label} -> 127.0.0.1:{state.tunnel_port_of(tunnel.host)}: {word}")

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    keeper = TunnelKeeper(state, hosts, on_change=changed)
    try:
        keeper.open_all()
        _say(f"holding {len(hosts)} tunnel(s) to {state.database}; Ctrl-C to close them")
        keeper.keep(stop)
    except KeyboardInterrupt:
        pass
    finally:
        keeper.close_all()
        signal.signal(signal.SIGTERM, previous)
    _say("tunnels closed")
    return 0


# -- status ------------------------------------------------------------------------------------------------


def _host_and_pid(owner: str) -> str:
    """The cluster knows its workers by ``host:pid`` (see worker_id.py for the whole name)."""
    from ..mongo.worker_id import host_and_pid

    host, pid = host_and_pid(owner)
    return f"{host}:{pid}" if pid is not None else owner


def _store_counts(url: str | None) -> tuple[dict[str, dict[int, int]] | None, str]:
    """Jobs per owner and state from the store, or None and the reason it could not be read.

    ``url`` is the one given on the command line, else the cluster record's, which never keeps a
    password (it is stored redacted): connecting with the redacted ``***`` would only be refused.
    """
    from ..mongo import connect, parse_mongo_url

    if not url:
        return None, "no database recorded"
    try:
        address = parse_mongo_url(url)
        if address.password == MASK:
            return None, "the cluster record keeps no database password: pass --db or --mongo with it"
        client = connect(address)
    except Exception as error:
        return None, str(error)
    try:
        counts: dict[str, dict[int, int]] = {}
        for row in client[address.database][address.collection].aggregate(
                [{"$group": {"_id": {"owner": "$owner", "state": "$state"}, "n": {"$sum": 1}}}]):
            owner = row["_id"].get("owner")
            owner = _host_and_pid(owner if isinstance(owner, str) else str(owner))
            states = counts.setdefault(owner, {})
            states[row["_id"]["state"]] = states.get(row["_id"]["state"], 0) + row["n"]
        return counts, ""
    finally:
        client.close()


def _status(args: argparse.Namespace) -> int:
    from hyperopt.base import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING

    from . import bootstrap, ssh

    state = cluster_state.load(args.name)
    hosts = [h for h in state.hosts if h.bootstrapped]
    _say(f"cluster {args.name}: {len(state.hosts)} host(s), {len(hosts)} bootstrapped; database "
         f"{state.database or _redacted(state.direct_mongo) or '(none)'}")
    if args.dry_run:
        _say("dry run: would ask each bootstrapped host for its workers and the database for their jobs")
        return 0
    ssh.check_key(state.key_path)
    ssh.write_config(state)
    with tqdm(total=len(hosts), desc="asking hosts", unit="host", leave=False) as bar:
        outcomes = bootstrap.for_each_host(hosts, lambda h: bootstrap.host_status(state, h), lambda _o: bar.update())
    url = args.db or args.mongo or state.database or state.direct_mongo
    try:
        counts, reason = _store_counts(_with_password(url, args, "--db" if args.db else "--mongo"))
    except SigOptHyperoptError as error:  # a password file that cannot be read: the hosts are still asked
        counts, reason = None, str(error)
    all_owners: set[str] = set()
    for outcome in outcomes:
        if not outcome.ok:
            _say(f"  {outcome.host.label}: unreachable: {outcome.error}")
            continue
        details = outcome.details
        workers = details["workers"]
        alive = sum(w["alive"] for w in workers)
        owners = {f"{details['hostname']}:{pid}" for w in workers for pid in w["children"]}
        all_owners |= owners
        line = f"  {outcome.host.label}: reachable, {alive}/{len(workers)} worker(s) alive"
        if counts is not None:
            done = sum(counts.get(o, {}).get(JOB_STATE_DONE, 0) for o in owners)
            running = sum(counts.get(o, {}).get(JOB_STATE_RUNNING, 0) for o in owners)
            failed = sum(counts.get(o, {}).get(JOB_STATE_ERROR, 0) for o in owners)
            line += f", jobs finished {done}, running {running}" + (f", failed {failed}" if failed else "")
        _say(line)
        for worker in workers:
            if not worker["alive"]:
                _say(f"    worker {worker['index']} (pid {worker['pid']}) is not running; last log line: "
                     f"{worker['last_log_line'] or '(empty log)'}")
    for host in state.hosts:
        if not host.bootstrapped:
            _say(f"  {host.label}: not bootstrapped (no workers started there)")
    if counts is None:
        _say(f"  jobs: the database could not be read ({reason})")
    else:
        totals = {s: sum(c.get(s, 0) for c in counts.values()) for s in
                  (JOB_STATE_NEW, JOB_STATE_RUNNING, JOB_STATE_DONE, JOB_STATE_ERROR)}
        # Only running jobs tell whose workers are busy now: finished ones were often run by this cluster's
        # workers of an earlier bootstrap (other pids), or before `down` (no host is asked then).
        elsewhere = sum(c.get(JOB_STATE_RUNNING, 0) for o, c in counts.items() if o not in all_owners and o != "None")
        _say(f"  all jobs: new {totals[JOB_STATE_NEW]}, running {totals[JOB_STATE_RUNNING]}, "
             f"finished {totals[JOB_STATE_DONE]}, failed {totals[JOB_STATE_ERROR]}"
             + (f" ({elsewhere} running on workers outside this cluster)" if elsewhere else ""))
    return 1 if any(not o.ok for o in outcomes) else 0


# -- down --------------------------------------------------------------------------------------------------


def _confirm(question: str) -> bool:
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _down(args: argparse.Namespace) -> int:
    from . import bootstrap, ssh

    state = cluster_state.load(args.name)
    hosts = [h for h in state.hosts if h.bootstrapped]
    launched = state.security_group_id is not None or any(h.instance_id for h in state.hosts)
    if launched:
        from . import ec2  # only EC2 clusters need boto3 (the `aws` extra)
    client = ec2.client(args.region or state.region) if launched else None
    instances = ec2.find_instances(client, args.name) if client is not None else []
    ids = [i["InstanceId"] for i in instances]
    group = ec2.find_security_group(client, args.name) if client is not None else None
    _say(f"cluster {args.name}:")
    _say(f"  stop the workers on {len(hosts)} host(s)" + (f": {', '.join(h.label for h in hosts)}" if hosts else ""))
    if launched:
        _say(f"  terminate {len(ids)} instance(s) tagged {ec2.TAG_KEY}={args.name}" + (f": {', '.join(ids)}" if ids else ""))
        _say(f"  delete security group {group['GroupId'] if group else '(none left)'}")
    if args.dry_run:
        _say("dry run: nothing was changed")
        return 0
    if ids and not args.yes and not _confirm(f"Terminate {len(ids)} instance(s) of cluster {args.name}?"):
        raise ClusterError("Not confirmed: nothing was terminated. Pass --yes to terminate without asking.")
    failed = []
    if hosts:
        ssh.check_key(state.key_path)
        ssh.write_config(state)
        with tqdm(total=len(hosts), desc="stopping workers", unit="host") as bar:
            outcomes = bootstrap.for_each_host(hosts, lambda h: bootstrap.stop_workers(state, h, args.timeout),
                                               lambda _o: bar.update())
        for outcome in outcomes:
            if outcome.ok:
                outcome.host.bootstrapped = False
                killed = outcome.details["killed"]
                _say(f"  {outcome.host.label}: {outcome.details['stopped']} worker(s) stopped cleanly"
                     + (f", {killed} killed after {args.timeout:.0f} s" if killed else ""))
            else:
                failed.append(outcome)
                _say(f"  {outcome.host.label}: workers NOT stopped: {outcome.error}")
    if client is not None:
        if ids:
            ec2.terminate(client, ids)
            with tqdm(total=len(ids), desc="instances terminated", unit="instance") as bar:
                ec2.wait_for_state(client, ids, "terminated", lambda n: bar.update(n - bar.n))
        if group is not None:
            ec2.delete_security_group(client, group["GroupId"])
        _say(f"  {len(ids)} instance(s) terminated, security group deleted")
        state.delete()
    else:
        state.save()
    return 1 if failed else 0


# -- the parser --------------------------------------------------------------------------------------------


def add_cluster_command(commands: Any) -> None:
    """Add ``cluster`` and its subcommands to the ``sigopt-hyperopt`` parser."""
    from ..cli import add_mongo_password_argument

    cluster = commands.add_parser("cluster", help="launch, bootstrap, watch and tear down worker machines",
                                  description="Worker machines for a distributed search (docs/cluster.md).")
    sub = cluster.add_subparsers(dest="cluster_command", required=True)

    def command(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("name", help="the cluster's name")
        parser.add_argument("--dry-run", action="store_true", help="print the plan and act on nothing")
        parser.set_defaults(handler=handler)
        return parser

    up = command("up", "launch EC2 instances for the cluster (idempotent)", _up)
    up.add_argument("--count", type=int, default=1, help="instances the cluster should have (default 1)")
    up.add_argument("--instance-type", default=DEFAULT_INSTANCE_TYPE, help=f"default {DEFAULT_INSTANCE_TYPE}")
    up.add_argument("--ami", help="image id (default: the newest Ubuntu 24.04 amd64 image from Canonical)")
    up.add_argument("--key-name", help="the EC2 key pair to install on the instances")
    up.add_argument("--key", help="the private key file of that key pair (kept as a path for later commands)")
    up.add_argument("--user", default=DEFAULT_EC2_USER, help=f"login user of the image (default {DEFAULT_EC2_USER})")
    up.add_argument("--subnet", help="subnet id (default: the default VPC's)")
    up.add_argument("--spot", action="store_true", help="request spot instances")
    up.add_argument("--region", help="AWS region (default: boto3's configuration)")
    up.add_argument("--ssh-cidr", help="who may connect over SSH (default: this machine's public address /32)")
    up.add_argument("--allow-ssh-from-anywhere", action="store_true", help="admit SSH from 0.0.0.0/0 (not advised)")
    up.add_argument("--no-wait-ssh", dest="wait_ssh", action="store_false", help="do not wait for SSH to answer")
    up.add_argument("--ssh-timeout", type=float, default=300.0, help="seconds to wait for SSH (default 300)")

    boot = command("bootstrap", "install sigopt-hyperopt on the hosts and start workers", _bootstrap)
    boot.add_argument("--hosts", help="user@host[:port],... (machines not launched by `up`; replaces the host list)")
    boot.add_argument("--user", help="login user for --hosts entries without one (default: your user name)")
    boot.add_argument("--key", help="private key file for SSH (default: ssh's own; kept as a path)")
    boot.add_argument("--ssh-option", action="append", metavar="KEY=VALUE", help="extra ssh_config option (repeatable)")
    boot.add_argument("--python", help="the Python command on the hosts (default python3)")
    boot.add_argument("--workers-per-host", type=int, default=None, help="default: the host's CPU count")
    boot.add_argument("--requirements", help="a requirements file for the objective's own imports")
    boot.add_argument("--ship", action="append", metavar="PATH",
                      help="a module file or package folder to copy into the hosts' site-packages (repeatable)")
    boot.add_argument("--db", help="the driver's database, host:port/db as the driver reaches it (tunnelled)")
    boot.add_argument("--mongo", help="a database URL the hosts reach themselves (no tunnel)")
    add_mongo_password_argument(boot)
    boot.add_argument("--tunnel-port", type=int, default=None,
                      help="loopback port of host 0's tunnel; host i uses this + i "
                           f"(default {cluster_state.DEFAULT_TUNNEL_PORT})")
    boot.add_argument("--exp-key", help="workers only take jobs of this experiment key")
    boot.add_argument("--poll-interval", type=float, default=1.0, help="seconds between a worker's looks for a job")
    boot.add_argument("--worker-arg", action="append", metavar="ARG", help="extra `sigopt-hyperopt worker` argument")
    boot.add_argument("--wheel", help="ship this wheel instead of building one (must be the driver's version)")

    command("tunnel", "hold the SSH tunnels from the hosts to the driver's database (foreground)", _tunnel)
    status = command("status", "per host: reachable, workers alive, jobs finished and running", _status)
    status.add_argument("--db", help="the driver's database, host:port/db, with its password if it has one "
                                     "(the cluster record keeps none)")
    status.add_argument("--mongo", help="the database URL the hosts use, with its password if it has one")
    add_mongo_password_argument(status)

    down = command("down", "stop the workers, terminate the cluster's instances, delete its security group", _down)
    down.add_argument("--yes", action="store_true", help="terminate without asking")
    down.add_argument("--region", help="AWS region (default: the cluster's)")
    down.add_argument("--timeout", type=float, default=90.0,
                      help="seconds for workers to stop cleanly before they are killed (default 90)")
