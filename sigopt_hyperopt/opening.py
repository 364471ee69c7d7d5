"""Opening a search's engine: create or reattach the experiment the trials store records.

The record (see :mod:`sigopt_hyperopt.store`) says which experiment and which space a store was made
for.  Opening checks the space against it, and an experiment given by id against the space, before
anything is written: a refused attach leaves the store as it was.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from dataclasses import replace
from typing import Any, Callable

from .engines.base import Engine
from .errors import ConfigurationError, SearchMismatchError
from .metrics import declaration
from .options import DEFAULT_NAME, SearchOptions
from .engines.remote.retry import RetryPolicy
from .space import TranslatedSpace, translate
from .store import SearchRecord, TrialsLedger, new_search_id

logger = logging.getLogger(__name__)


def open_engine(
    space: TranslatedSpace,
    ledger: TrialsLedger,
    options: SearchOptions,
    *,
    default_bandwidth: Callable[[], int] = lambda: 1,
) -> Engine:
    """Create or reattach the search's engine, checking the store's record against the space.

    ``default_bandwidth()`` gives ``parallel_bandwidth`` for a remote experiment when neither the
    options nor the experiment set one.
    """
    record = ledger.load()
    declared = declaration(options.metrics) or None
    constraints = [c.as_dict() for c in options.linear_constraints] or None
    if record is not None:
        record = _checked_record(record, space, ledger)
        _check_declaration(record, declared, constraints)
    search_id = record.search_id if record is not None and record.search_id else new_search_id()
    fingerprint = space.fingerprint()
    connection = _resolve_connection(options.connection, record, options.retry)
    name = options.name or DEFAULT_NAME
    if connection == "embedded":
        from .engines.embedded.engine import EmbeddedEngine  # fetches libsigopt on first use (see engines/embedded/packages.py)

        engine: Engine = EmbeddedEngine.for_space(space, name=name, observation_budget=options.observation_budget,
                                                  metrics=options.metrics,
                                                  linear_constraints=options.linear_constraints)
        if record is None:
            ledger.save(SearchRecord("embedded", engine.experiment_id, fingerprint, search_id=search_id,
                                     metrics=declared, linear_constraints=constraints))
        # A search recorded on a SigOpt server and continued here keeps that record: back on the
        # server later, it continues the same experiment instead of starting a second one.
        return engine

    from .engines.remote.experiment_match import check_experiment_matches
    from .engines.remote.engine import RemoteEngine  # the HTTP client is only needed on this path

    api_url = _without_credentials(getattr(getattr(connection.impl, "driver", None), "api_url", None))
    on_server = record is not None and record.engine == "remote"
    if options.experiment_id and on_server and record.experiment_id != options.experiment_id:
        raise SearchMismatchError(
            f"These trials belong to SigOpt experiment {record.experiment_id}, not {options.experiment_id}."
        )
    wanted = options.experiment_id or (record.experiment_id if on_server else None)
    if wanted is not None:
        remote, experiment = RemoteEngine.attach(connection, wanted, ledger, search_id, policy=options.retry)
        check_experiment_matches(space, experiment, options.metrics, options.linear_constraints)
        remote.reconcile()
        bandwidth = options.parallel_bandwidth or remote.parallel_bandwidth or default_bandwidth()
        if bandwidth != remote.parallel_bandwidth:
            remote.update_parallel_bandwidth(bandwidth)
    else:
        remote = RemoteEngine.create(
            space,
            connection,
            ledger,
            search_id,
            name=name,
            project=options.project,
            observation_budget=options.observation_budget,
            parallel_bandwidth=options.parallel_bandwidth or default_bandwidth(),
            policy=options.retry,
            metrics=options.metrics,
            linear_constraints=options.linear_constraints,
        )
    ledger.save(SearchRecord("remote", remote.experiment_id, fingerprint, api_url, search_id, metrics=declared,
                             linear_constraints=constraints))
    return remote


def space_for_store(domain: Any, ledger: TrialsLedger) -> TranslatedSpace:
    """The translation a search continues with: today's, or the one its store was made with.

    Versions before numeric choices became ordered grids stored those choices as categoricals; their
    trials hold categorical assignments and their experiments categorical parameters.  Such a search
    goes on with that older translation (same experiment, same observations), rather than being
    refused or read with the wrong types; a new search gets the ordered grids.
    """
    space = translate(domain)
    record = ledger.load()
    if record is None or record.space_fingerprint in (space.fingerprint(), space.legacy_fingerprint()):
        return space
    earlier = translate(domain, ordered_choices=False)
    if earlier.fingerprint() != space.fingerprint() and record.space_fingerprint in (
        earlier.fingerprint(), earlier.legacy_fingerprint()
    ):
        logger.info("experiment %s was created when numeric choices were categories; it continues that way",
                    record.experiment_id)
        return earlier
    return space  # open_engine refuses it, saying the space changed


def _check_declaration(record: SearchRecord, declared: list[dict] | None, constraints: list[dict] | None) -> None:
    """Refuse to continue a search with other metrics (or linear constraints) than it was made with: its
    observations hold values of the declared metrics (or the loss), and SigOpt's experiment is defined by them."""
    before = record.metrics or None
    if before == declared:
        if (record.linear_constraints or None) != constraints:
            raise SearchMismatchError(
                f"These trials were made with linear constraints {record.linear_constraints or 'none'}, not "
                f"{constraints or 'none'}: a search's constraints cannot change (a SigOpt experiment keeps the ones "
                "it was created with). Give the same linear_constraints= to continue it, or start a new search "
                "(a new Trials object, a new exp_key)."
            )
        return
    def show(metrics: list[dict] | None) -> str:
        if not metrics:
            return "the single loss (no metrics=)"
        return ", ".join(f"{m['name']} ({m['strategy']}, {m['objective']}"
                         + (f", threshold {m['threshold']:g}" if m.get("threshold") is not None else "") + ")"
                         for m in metrics)
    raise SearchMismatchError(
        f"These trials were made for a search with metrics {show(before)}, not {show(declared)}: a search's "
        "metric declaration (names, objectives, strategies, thresholds) cannot change. Declare the same metrics "
        "to continue it, or start a new search (a new Trials object, a new exp_key) for the new declaration."
    )


def _checked_record(record: SearchRecord, space: TranslatedSpace, ledger: TrialsLedger) -> SearchRecord:
    """The store's record if it was made for this space; an older record is upgraded in place.

    Records written before fingerprints covered every field of the translation (quanta,
    distributions) carry the older digest: it is accepted once, then replaced, and a record gets its
    search id if it has none.
    """
    fingerprint = space.fingerprint()
    if record.space_fingerprint not in (fingerprint, space.legacy_fingerprint()):
        raise SearchMismatchError(
            "These trials were made for a different search space (SigOpt experiment "
            f"{record.experiment_id}): a hyperparameter, a bound, a quantum q or a distribution changed. "
            "Use a new Trials object (or a new exp_key) for the new space."
        )
    if record.space_fingerprint != fingerprint or record.search_id is None:
        record = ledger.save(replace(record, space_fingerprint=fingerprint))
        logger.info("upgraded the search record of experiment %s (search %s)", record.experiment_id, record.search_id)
    return record


def _resolve_connection(connection: Any, record: SearchRecord | None, policy: RetryPolicy) -> Any:
    token = os.environ.get("SIGOPT_API_TOKEN")
    if connection is None:
        if token:
            connection = "remote"
        elif record is not None and record.engine == "remote":
            raise ConfigurationError(
                f"These trials belong to SigOpt experiment {record.experiment_id} on a SigOpt server; set "
                "SIGOPT_API_TOKEN (and SIGOPT_API_URL for a self-hosted server) to continue it, or pass "
                "connection='embedded' to continue with the embedded optimizer."
            )
        else:
            return "embedded"
    if connection == "embedded":
        return connection
    if connection == "remote":
        open_connection = _sigopt_client()
        if not token:
            raise ConfigurationError(
                "connection='remote' needs SIGOPT_API_TOKEN (and SIGOPT_API_URL for a self-hosted sigopt-server)."
            )
        return open_connection(token, timeout=policy.request_timeout)
    if isinstance(connection, str):
        raise ConfigurationError(f"connection must be None, 'embedded', 'remote' or a sigopt.Connection, not {connection!r}")
    driver = getattr(getattr(connection, "impl", None), "driver", None)
    if driver is None or type(driver).__module__.startswith("sigoptlite"):
        raise ConfigurationError(
            "Pass a sigopt.Connection that talks HTTP. For SigOpt's optimizer in this process use "
            "connection='embedded' (the default without a token): the 'lite' driver serves one point at a time."
        )
    return connection


def _sigopt_client() -> Callable[..., Any]:
    """The HTTP client's opener; the ``sigopt`` package comes with the ``server`` extra."""
    try:
        from .engines.remote.connection import open_connection
    except ImportError as error:
        raise ConfigurationError(
            f"A SigOpt server was asked for (SIGOPT_API_TOKEN is set, or connection='remote'), but the SigOpt "
            f"client is not installed ({error}). Install it with: pip install 'sigopt-hyperopt[server]'. "
            "Or unset SIGOPT_API_TOKEN to use the embedded optimizer."
        ) from None
    return open_connection


def _without_credentials(url: str | None) -> str | None:
    """The store keeps the server's address for reference, never a user:password in it."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
