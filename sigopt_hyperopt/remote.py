"""SigOpt over HTTP: the hosted API or a self-hosted sigopt-server, through the ``sigopt`` client.

The experiment id lives in the trials store (see :mod:`sigopt_hyperopt.store`).  Exactly-once
reporting rests on two records: the ledger of reported trial ids in the store, and the trial id that
every observation carries in its metadata, which is read back when a search is reattached so an
observation whose ledger mark was lost in a crash is not sent again.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence, TypeVar

from sigopt.exception import ApiException, ConnectionException

from .engine import METRIC_NAME, Engine, Observation, Suggestion, experiment_spec
from .errors import AuthenticationError, EngineError
from .space import Assignments, TranslatedSpace
from .store import TrialsLedger

logger = logging.getLogger(__name__)

T = TypeVar("T")

TRIAL_ID_METADATA_KEY = "hyperopt_tid"


def api_call(what: str, call: Callable[[], T]) -> T:
    """Run one client call, turning its exceptions into the package's own, with what to do next."""
    try:
        return call()
    except ApiException as error:
        status = error.status_code
        if status in (401, 403):
            raise AuthenticationError(
                f"SigOpt refused the API token while trying to {what} (HTTP {status}). "
                "Check SIGOPT_API_TOKEN (and SIGOPT_API_URL for a self-hosted server)."
            ) from None
        if status == 404:
            raise EngineError(f"SigOpt could not find what was needed to {what} (HTTP 404): {error.message}") from None
        raise EngineError(f"SigOpt answered HTTP {status} while trying to {what}: {error.message}") from None
    except ConnectionException as error:
        raise EngineError(
            f"Could not reach SigOpt to {what}; check the network and SIGOPT_API_URL. ({error.message.splitlines()[-1]})"
        ) from None


class RemoteEngine(Engine):
    """An experiment on a SigOpt server; suggestions and observations go over HTTP."""

    kind = "remote"

    def __init__(self, connection: Any, experiment_id: str, ledger: TrialsLedger) -> None:
        self._connection = connection
        self._experiment_id = str(experiment_id)
        self._ledger = ledger

    @classmethod
    def create(
        cls,
        space: TranslatedSpace,
        connection: Any,
        ledger: TrialsLedger,
        *,
        name: str,
        project: str | None = None,
        observation_budget: int | None = None,
        parallel_bandwidth: int | None = None,
    ) -> "RemoteEngine":
        spec = experiment_spec(
            space, name=name, observation_budget=observation_budget, parallel_bandwidth=parallel_bandwidth
        )
        if project is not None:
            spec["project"] = project
        experiment = api_call("create the experiment", lambda: connection.experiments().create(**spec))
        logger.info("created SigOpt experiment %s (%s)", experiment.id, name)
        return cls(connection, experiment.id, ledger)

    @classmethod
    def attach(cls, connection: Any, experiment_id: str, ledger: TrialsLedger) -> "RemoteEngine":
        """Reattach to an experiment and reconcile the ledger with the observations it already has."""
        engine = cls(connection, experiment_id, ledger)
        recorded = engine._recorded_trial_ids()
        missing = recorded - ledger.reported()
        for key in sorted(missing):
            ledger.mark_reported(key)
        if missing:
            logger.info("experiment %s already had %d observations the store did not know", experiment_id, len(missing))
        return engine

    def fetch_experiment(self) -> Any:
        return api_call(
            f"fetch experiment {self._experiment_id}",
            lambda: self._connection.experiments(self._experiment_id).fetch(),
        )

    @property
    def experiment_id(self) -> str:
        return self._experiment_id

    def sync(self, observations: Sequence[Observation]) -> None:
        reported = self._ledger.reported()
        for observation in observations:
            if observation.key in reported:
                continue
            self._create_observation(observation)
            self._ledger.mark_reported(observation.key)

    def suggest(self, count: int, pending: Sequence[Assignments], seed: int) -> list[Suggestion]:
        # The server knows its own open suggestions; points it did not suggest cannot be told to it.
        suggestions = self._connection.experiments(self._experiment_id).suggestions()
        created = [api_call("create a suggestion", suggestions.create) for _ in range(count)]
        return [Suggestion(assignments=dict(s.assignments), id=str(s.id)) for s in created]

    def release(self, suggestion_ids: Sequence[str]) -> None:
        experiment = self._connection.experiments(self._experiment_id)
        for suggestion_id in suggestion_ids:
            try:
                experiment.suggestions(suggestion_id).delete()
            except ApiException as error:
                if error.status_code != 404:
                    raise EngineError(f"could not delete suggestion {suggestion_id}: {error.message}") from None

    def _create_observation(self, observation: Observation) -> None:
        body: dict[str, Any] = {"metadata": {TRIAL_ID_METADATA_KEY: observation.key, **observation.metadata}}
        if observation.suggestion_id is not None:
            body["suggestion"] = observation.suggestion_id
        else:
            body["assignments"] = observation.assignments
        if observation.failed:
            body["failed"] = True
        else:
            value: dict[str, Any] = {"name": METRIC_NAME, "value": observation.value}
            if observation.value_stddev:
                value["value_stddev"] = observation.value_stddev
            body["values"] = [value]
        observations = self._connection.experiments(self._experiment_id).observations()
        api_call(f"report trial {observation.key}", lambda: observations.create(**body))

    def _recorded_trial_ids(self) -> set[int]:
        pages = api_call(
            f"list the observations of experiment {self._experiment_id}",
            lambda: self._connection.experiments(self._experiment_id).observations().fetch(),
        )
        keys = set()
        for observation in pages.iterate_pages():
            metadata = observation.metadata or {}
            if TRIAL_ID_METADATA_KEY in metadata:
                keys.add(int(metadata[TRIAL_ID_METADATA_KEY]))
        return keys
