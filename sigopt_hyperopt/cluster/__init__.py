"""A fleet of worker machines for a distributed search: launch, bootstrap, watch, tear down.

The modules, one job each:

* :mod:`.state`     -- the cluster record the commands share (a small JSON file, no secrets).
* :mod:`.ssh`       -- SSH options, the per-cluster ssh config, reachability and Python checks.
* :mod:`.ec2`       -- boto3: launch instances and their security group, find them, terminate them.
* :mod:`.package`   -- what is shipped to a host: the wheel of this version and its pinned dependencies.
* :mod:`.bootstrap` -- execnet over SSH: install, start, stop and inspect workers on every host.
* :mod:`.remote`    -- the code execnet runs on a host (standard library only).
* :mod:`.supervise` -- the small process on a host that keeps one worker running until told to stop.
* :mod:`.tunnel`    -- SSH reverse tunnels from the hosts back to the driver's database, reopened when they drop.
* :mod:`.cli`       -- the ``sigopt-hyperopt cluster`` subcommands (the only module here that prints).

Nothing here knows about SigOpt: a host runs ``sigopt-hyperopt worker`` against a MongoDB store.
"""
