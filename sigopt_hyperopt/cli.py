"""The ``sigopt-hyperopt`` command.  The only module that prints."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import Sequence

from . import __version__
from .errors import ConfigurationError, SigOptHyperoptError


def _quickstart(args: argparse.Namespace) -> int:
    from .quickstart import run_quickstart

    print(
        f"Tuning a scikit-learn classifier on the breast-cancer data set: {args.max_evals} evaluations, "
        "5-fold cross-validated ROC AUC, SigOpt's optimizer embedded (no account needed)."
    )
    result = run_quickstart(max_evals=args.max_evals, seed=args.seed)
    print(f"\nBest cross-validated AUC: {result.best_auc:.4f} after {result.evaluations} evaluations "
          f"({result.seconds:.0f} s).")
    print("Best parameters:")
    for key, value in sorted(result.best_params["model"].items()):
        print(f"  {key} = {value}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from .mongo.worker import GAVE_UP_EXIT_CODE, WorkerOptions, run_worker

    args.mongo = _mongo_url(args, default=DEFAULT_WORKER_MONGO)
    # The command's options are named after WorkerOptions' fields, one for one.
    options = WorkerOptions(**{field.name: getattr(args, field.name) for field in dataclasses.fields(WorkerOptions)})
    worker = run_worker(options)
    print(f"worker finished {worker.done} job(s)")
    if worker.gave_up:
        print(f"worker gave up after {options.max_consecutive_failures} failed jobs in a row; exit status "
              f"{GAVE_UP_EXIT_CODE} (a supervisor starts it again)", file=sys.stderr)
        return GAVE_UP_EXIT_CODE
    return 0


def _install_engine(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .engines.embedded.packages import ENGINE_PACKAGES, engine_dir, install_engine, installed_in_environment

    pins = ", ".join(p.requirement for p in ENGINE_PACKAGES)
    if args.dir is None and installed_in_environment():
        print(f"SigOpt's embedded optimizer ({pins}) is installed in this environment; nothing to fetch.")
        return 0
    directory = install_engine(engine_dir(Path(args.dir) if args.dir else None))
    print(f"SigOpt's embedded optimizer ({pins}) is in {directory}")
    if args.dir:
        print(f"searches use it when SIGOPT_HYPEROPT_ENGINE_DIR={Path(args.dir).resolve()}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from .dashboard.open import nothing_to_show, open_state, require_extra

    require_extra()
    from .dashboard.app import bind, serve

    state = open_state(args.trials_file, _store_url(args), args.exp_key, args.space, args.max_evals)
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"dashboard of {state.source.description} at http://{shown}:{port}/  (Ctrl-C to stop)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: anyone who can reach it sees the search (no login); it answers "
              "requests for this machine's names and IP addresses, add others with --allow-host", flush=True)
    if (empty := nothing_to_show(state)) is not None:  # a search may be about to start: say so, serve anyway
        print(f"warning: {empty}; the page shows trials as they arrive", flush=True)
    serve(state, sock, refresh=args.refresh, allow_hosts=args.allow_host or ())
    return 0


def _report(args: argparse.Namespace) -> int:
    from .dashboard.open import nothing_to_show, open_state, require_extra

    require_extra()
    from .dashboard.export import write_html

    state = open_state(args.trials_file, _store_url(args), args.exp_key, args.space, args.max_evals)
    if (empty := nothing_to_show(state)) is not None:
        raise ConfigurationError(f"Nothing to report: {empty}")
    path = write_html(state, args.html)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, opens without a network)")
    return 0


DEFAULT_WORKER_MONGO = "localhost/hyperopt"
MONGO_FORM = ("(user@host:port/db?authSource=admin, the password from --mongo-password-file or "
              "$SIGOPT_HYPEROPT_MONGO_PASSWORD)")
MONGO_HELP = f"host:port/db; default: $SIGOPT_HYPEROPT_MONGO {MONGO_FORM}"


def add_mongo_password_argument(parser: argparse.ArgumentParser) -> None:
    """``--mongo-password-file``: the database password kept out of the command line (see mongo/credentials.py)."""
    parser.add_argument("--mongo-password-file", default=None, metavar="FILE",
                        help="read the database password from the first line of FILE (mode 600), not from the URL (default: the URL's, else $SIGOPT_HYPEROPT_MONGO_PASSWORD)")


def _mongo_url(args: argparse.Namespace, default: str | None = None) -> str | None:
    from .mongo.credentials import mongo_url

    return mongo_url(args.mongo, password_file=args.mongo_password_file, default=default)


def _store_url(args: argparse.Namespace) -> str | None:
    """The dashboard's or report's database; a Trials file given alone is not mixed with $SIGOPT_HYPEROPT_MONGO."""
    return None if args.trials_file is not None and args.mongo is None else _mongo_url(args)


def _add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trials_file", nargs="?", default=None, help="a pickled hyperopt Trials file")
    parser.add_argument("--mongo", default=None, help=MONGO_HELP)
    add_mongo_password_argument(parser)
    parser.add_argument("--exp-key", default=None, help="only this search (default: every exp_key in the store)")
    parser.add_argument("--space", default=None, metavar="MODULE:ATTR",
                        help="the hyperopt space, when the store's own copy cannot be loaded here (log axes, choice labels)")
    parser.add_argument("--max-evals", type=int, default=None, help="the search's max_evals, to show progress against")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigopt-hyperopt", description="SigOpt's optimizer for hyperopt searches.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    commands = parser.add_subparsers(dest="command", required=True)

    quickstart = commands.add_parser("quickstart", help="run a small real search you can watch")
    quickstart.add_argument("--max-evals", type=int, default=30, help="number of evaluations (default 30)")
    quickstart.add_argument("--seed", type=int, default=0)
    quickstart.set_defaults(handler=_quickstart)

    worker = commands.add_parser("worker", help="evaluate jobs from a MongoDB store (drop-in for hyperopt-mongo-worker)")
    worker.add_argument("--mongo", default=None, help=f"host:port/db; default: $SIGOPT_HYPEROPT_MONGO, else {DEFAULT_WORKER_MONGO} {MONGO_FORM}")
    add_mongo_password_argument(worker)
    worker.add_argument("--exp-key", default=None,
                        help="only take jobs of this experiment key (default: jobs of every search)")
    worker.add_argument("--poll-interval", type=float, default=5.0,
                        help="seconds between looks for a job (default: %(default)g s; 0.1 for short objectives)")
    worker.add_argument("--max-consecutive-failures", type=int, default=4,
                        help="exit (status 3) after this many failed jobs in a row (default: %(default)s)")
    worker.add_argument("--max-jobs", type=int, default=sys.maxsize,
                        help="stop after this many jobs (default: no limit)")
    worker.add_argument("--reserve-timeout", type=float, default=120.0,
                        help="stop when no job comes for this long, in seconds; 0 waits forever (default: %(default)g s)")
    worker.add_argument("--workdir", default=None,
                        help="run every job in this directory (default: a directory per job, removed when left empty)")
    worker.add_argument("--last-job-timeout", type=float, default=None,
                        help="take no new job after this many seconds (default: no limit)")
    worker.add_argument("--heartbeat-interval", type=float, default=5.0,
                        help="seconds between heartbeats of a running job (default: %(default)g s)")
    worker.add_argument("--stale-after", type=float, default=60.0,
                        help="requeue running jobs whose worker has not heartbeaten for this long, in seconds "
                             "(default: %(default)g s)")
    worker.add_argument("--max-requeues", type=int, default=3,
                        help="requeue a job at most this many times, then mark it ERROR (default: %(default)s)")
    worker.add_argument("--grace-period", type=float, default=30.0,
                        help="on SIGTERM, seconds to finish the current job before handing it back (default: %(default)g s)")
    worker.add_argument("--outage-tolerance", type=float, default=120.0,
                        help="seconds to keep retrying an unreachable database before exiting with an error "
                             "(default: %(default)g s)")
    worker.add_argument("--max-jobs-in-db", type=int, default=sys.maxsize,
                        help="stop when the database holds more jobs than this (default: no limit)")
    worker.add_argument("--no-subprocesses", action="store_true",
                        help="accepted for compatibility: jobs always run in the worker process")
    worker.set_defaults(handler=_worker, verbose_default=True)

    engine = commands.add_parser("install-engine",
                                 help="fetch SigOpt's embedded optimizer now (a container image, an offline machine)")
    engine.add_argument("--dir", default=None,
                        help="where (default: SIGOPT_HYPEROPT_ENGINE_DIR, else ~/.cache/sigopt-hyperopt/engine)")
    engine.set_defaults(handler=_install_engine)

    dashboard = commands.add_parser("dashboard", help="a live web page of a search and its workers (read-only)")
    _add_store_arguments(dashboard)
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    dashboard.add_argument("--port", type=int, default=8050, help="port (default 8050; 0 picks a free one)")
    dashboard.add_argument("--refresh", type=float, default=2.0, help="seconds between reads of the store")
    dashboard.add_argument("--allow-host", action="append", metavar="NAME",
                           help="also answer requests for this host name (repeatable; e.g. the name of a proxy "
                                "in front of it); others are refused, against DNS rebinding")
    dashboard.set_defaults(handler=_dashboard)

    report = commands.add_parser("report", help="write a search's dashboard as one self-contained HTML file")
    _add_store_arguments(report)
    report.add_argument("--html", required=True, help="the file to write")
    report.set_defaults(handler=_report)

    from .cluster.cli import add_cluster_command

    add_cluster_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = args.verbose or getattr(args, "verbose_default", False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except SigOptHyperoptError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
