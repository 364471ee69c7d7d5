"""SigOpt over HTTP: the hosted API or a self-hosted sigopt-server, through the ``sigopt`` client.

Every call goes through :func:`~sigopt_hyperopt.engines.remote.retry.call_with_retries`, and every call that writes
(an observation, a suggestion created or deleted, the bandwidth) is preceded by :meth:`Engine.fence`:
under ``MongoTrials`` a permit of the driver's lease generation, so a driver that lost its search to
another one makes no further call.  The calls that create
something are made safe to repeat by looking at the server before a repeat:

* an observation carries its identity in its metadata (``hyperopt_search``, ``hyperopt_tid``,
  ``hyperopt_attempt``: see :class:`~sigopt_hyperopt.store.ObservationId`); before a create whose
  answer was lost is sent again, the server's observations are read, and an evaluation already there
  is not sent twice;
* before a suggestion create whose answer was lost is sent again, the open suggestions are read; one
  that no trial owns is the lost answer, and is taken instead of asking for another.

The experiment id lives in the trials store (see :mod:`sigopt_hyperopt.store`), with the ledger of
reported evaluations; :meth:`RemoteEngine.reconcile` adds to that ledger the observations of *this*
search the server has (another search's trial 3 is not ours), and :meth:`RemoteEngine.delete_orphans`
deletes open suggestions no trial owns.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Callable, Collection, Sequence, TypeVar

from sigopt.exception import ApiException

from ...errors import EngineError
from ...space import Assignments, TranslatedSpace
from ...store import ObservationId, TrialsLedger
from ..base import METRIC_NAME, Engine, Observation, Suggestion, experiment_spec
from .retry import DEFAULT_POLICY, AlreadyDone, RetryPolicy, call_with_retries

logger = logging.getLogger(__name__)

T = TypeVar("T")

SEARCH_METADATA_KEY = "hyperopt_search"
TRIAL_ID_METADATA_KEY = "hyperopt_tid"
ATTEMPT_METADATA_KEY = "hyperopt_attempt"

FIRST_CONTACT_SECONDS = 20.0
"""Opening a search gives up sooner than a running one: a server that never answered is more likely
misconfigured (URL, network) than restarting, and the user should hear so within seconds."""


class RemoteEngine(Engine):
    """An experiment on a SigOpt server; suggestions and observations go over HTTP."""

    kind = "remote"

    def __init__(
        self,
        connection: Any,
        experiment_id: str,
        ledger: TrialsLedger,
        search_id: str,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        parallel_bandwidth: int | None = None,
    ) -> None:
        self._connection = connection
        self._experiment_id = str(experiment_id)
        self._ledger = ledger
        self.search_id = search_id
        self._policy = policy
        self.parallel_bandwidth = parallel_bandwidth
        """The most open suggestions the experiment allows (None: the server sets no limit)."""

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        space: TranslatedSpace,
        connection: Any,
        ledger: TrialsLedger,
        search_id: str,
        *,
        name: str,
        project: str | None = None,
        observation_budget: int | None = None,
        parallel_bandwidth: int | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        metrics: Sequence[Any] = (),
        linear_constraints: Sequence[Any] = (),
    ) -> "RemoteEngine":
        spec = experiment_spec(
            space, name=name, observation_budget=observation_budget, parallel_bandwidth=parallel_bandwidth,
            metrics=metrics, linear_constraints=linear_constraints,
        )
        if project is not None:
            spec["project"] = project
        # A create whose answer is lost and is sent again leaves one empty experiment behind; the
        # search itself uses only the one whose id it received (and stores at once).
        experiment = call_with_retries(
            "create the experiment", lambda: connection.experiments().create(**spec), _first_contact(policy)
        )
        logger.info("created SigOpt experiment %s (%s), parallel_bandwidth=%s", experiment.id, name,
                    experiment.parallel_bandwidth)
        return cls(connection, experiment.id, ledger, search_id, policy=policy,
                   parallel_bandwidth=experiment.parallel_bandwidth)

    @classmethod
    def attach(
        cls, connection: Any, experiment_id: str, ledger: TrialsLedger, search_id: str, *,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> tuple["RemoteEngine", Any]:
        """Reattach to an experiment; writes nothing (the caller checks it first, then :meth:`reconcile`).

        Returns the engine and the experiment as the server describes it (for the caller's checks).
        """
        engine = cls(connection, experiment_id, ledger, search_id, policy=policy)
        experiment = engine._call(
            f"fetch experiment {experiment_id}",
            lambda: connection.experiments(engine.experiment_id).fetch(),
            _first_contact(policy),
        )
        engine.parallel_bandwidth = experiment.parallel_bandwidth
        return engine, experiment

    def reconcile(self) -> None:
        """Add to the ledger this search's observations that the server has and the store lost.

        Only observations carrying this search's id count: other searches on the same experiment
        (another trials store, another ``exp_key``) have trials with the same ids.
        """
        missing = {m for m in self.recorded_identities() if not self._ledger.is_reported(m)}
        self._ledger.mark_reported_many(missing)
        if missing:
            logger.info("experiment %s already had %d observations of this search the store did not know",
                        self._experiment_id, len(missing))

    def update_parallel_bandwidth(self, parallel_bandwidth: int) -> None:
        """Set the experiment's parallel bandwidth on the server (an idempotent update)."""
        self.fence(f"set parallel_bandwidth={parallel_bandwidth}")
        experiment = self._call(
            f"set parallel_bandwidth={parallel_bandwidth} on experiment {self._experiment_id}",
            lambda: self._experiment().update(parallel_bandwidth=int(parallel_bandwidth)),
        )
        self.parallel_bandwidth = experiment.parallel_bandwidth
        logger.info("experiment %s: parallel_bandwidth is now %s", self._experiment_id, self.parallel_bandwidth)

    @property
    def experiment_id(self) -> str:
        return self._experiment_id

    # -- observations --------------------------------------------------------------------------

    def identity(self, observation: Observation) -> ObservationId:
        return ObservationId(self._experiment_id, self.search_id, observation.key, observation.attempt)

    def sync(self, observations: Sequence[Observation]) -> None:
        for observation in observations:
            mark = self.identity(observation)
            if self._ledger.is_reported(mark):
                continue
            self._create_observation(observation, mark)
            self._ledger.mark_reported(mark)

    def _create_observation(self, observation: Observation, mark: ObservationId) -> None:
        self.fence(f"report {mark}")
        body = observation_body(observation, self.search_id)
        observations = self._experiment().observations()

        def already_recorded() -> None:
            if mark in self.recorded_identities():
                raise AlreadyDone(None)

        what = f"report trial {observation.key}"
        try:
            call_with_retries(what, lambda: observations.create(**body), self._policy, before_retry=already_recorded)
        except EngineError as error:
            # The trial's suggestion is no longer open (deleted on the server, by hand or as an orphan
            # of an older driver): report the point by its assignments instead, unless it is there.
            if getattr(error, "status", None) not in (400, 404) or "suggestion" not in body:
                raise
            try:
                already_recorded()
            except AlreadyDone:
                return
            logger.warning("suggestion %s of trial %s is not open on the server (%s); reporting by assignments",
                           body["suggestion"], observation.key, error)
            body = observation_body(observation, self.search_id, by_assignments=True)
            call_with_retries(what, lambda: observations.create(**body), self._policy, before_retry=already_recorded)

    def recorded_identities(self) -> set[ObservationId]:
        """The identities of this search's observations on the server (every page)."""

        def read() -> set[ObservationId]:
            found = set()
            pages = self._experiment().observations().fetch()
            for item in pages.iterate_pages():
                metadata = item.metadata or {}
                if str(metadata.get(SEARCH_METADATA_KEY)) == self.search_id and TRIAL_ID_METADATA_KEY in metadata:
                    found.add(ObservationId(self._experiment_id, self.search_id, int(metadata[TRIAL_ID_METADATA_KEY]),
                                            int(metadata.get(ATTEMPT_METADATA_KEY, 0))))
            return found

        return self._call(f"list the observations of experiment {self._experiment_id}", read)

    # -- suggestions ---------------------------------------------------------------------------

    def suggest(
        self, count: int, pending: Sequence[Assignments], seed: int, *, owned: Collection[str] = ()
    ) -> list[Suggestion]:
        """``count`` new suggestions; ``owned`` are the suggestion ids trials hold (never orphans).

        The server knows its own open suggestions, so ``pending`` is not sent; points it did not
        suggest cannot be told to it.
        """
        created: list[Suggestion] = []
        for _ in range(count):

            def adopt_lost_answer(known: set[str] = set(owned) | {s.id for s in created if s.id}) -> None:
                orphans = [s for s in self._own_open_suggestions() if str(s.id) not in known]
                if orphans:
                    newest, *others = sorted(orphans, key=lambda s: int(s.id) if str(s.id).isdigit() else 0,
                                             reverse=True)
                    self.release([str(s.id) for s in others])
                    raise AlreadyDone(newest)

            self.fence("create a suggestion")
            made = call_with_retries("create a suggestion", self._create_suggestion, self._policy,
                                     before_retry=adopt_lost_answer)
            created.append(Suggestion(assignments=dict(made.assignments), id=str(made.id)))
        return created

    def open_suggestions(self) -> list[Any]:
        def read() -> list[Any]:
            return list(self._experiment().suggestions().fetch(state="open").iterate_pages())

        return self._call(f"list the open suggestions of experiment {self._experiment_id}", read)

    def _create_suggestion(self) -> Any:
        """A suggestion tagged with this search, so other searches on the experiment leave it alone."""
        return self._experiment().suggestions().create(metadata={SEARCH_METADATA_KEY: self.search_id})

    def _own_open_suggestions(self) -> list[Any]:
        """The open suggestions this search may have made: tagged with its id, or untagged (made
        before suggestions carried the tag).  Another search's open suggestions are its running
        trials' points, not orphans."""
        def search_of(suggestion: Any) -> Any:
            metadata = getattr(suggestion, "metadata", None)
            return metadata.get(SEARCH_METADATA_KEY) if metadata is not None else None

        return [s for s in self.open_suggestions() if search_of(s) in (None, self.search_id)]

    def delete_orphans(self, owned: Collection[str]) -> list[str]:
        """Delete this search's open suggestions no trial owns (left by a driver that died); returns their ids."""
        owned = {str(s) for s in owned}
        orphans = [str(s.id) for s in self._own_open_suggestions() if str(s.id) not in owned]
        if orphans:
            logger.info("experiment %s: deleting %d open suggestion(s) no trial owns", self._experiment_id, len(orphans))
            self.release(orphans)
        return orphans

    def release(self, suggestion_ids: Sequence[str]) -> None:
        experiment = self._experiment()
        for suggestion_id in suggestion_ids:

            self.fence(f"delete suggestion {suggestion_id}")

            def delete(suggestion_id: str = suggestion_id) -> None:
                try:
                    experiment.suggestions(suggestion_id).delete()
                except ApiException as error:
                    if error.status_code != 404:  # gone already: a repeated delete, or deleted by hand
                        raise

            self._call(f"delete suggestion {suggestion_id}", delete)

    # -- plumbing ------------------------------------------------------------------------------

    def _experiment(self) -> Any:
        return self._connection.experiments(self._experiment_id)

    def _call(self, what: str, call: Callable[[], T], policy: RetryPolicy | None = None) -> T:
        return call_with_retries(what, call, policy or self._policy)


def observation_body(observation: Observation, search_id: str, *, by_assignments: bool = False) -> dict[str, Any]:
    """The observation-create body: the suggestion (or the point), the value or failure, the metadata."""
    identity = {SEARCH_METADATA_KEY: search_id, TRIAL_ID_METADATA_KEY: observation.key,
                ATTEMPT_METADATA_KEY: observation.attempt}
    body: dict[str, Any] = {"metadata": {**observation.metadata, **identity}}
    if observation.suggestion_id is not None and not by_assignments:
        body["suggestion"] = observation.suggestion_id
    else:
        body["assignments"] = observation.assignments
    if observation.failed:
        body["failed"] = True
    elif observation.metric_values is not None:  # a multimetric search: one value per declared metric
        body["values"] = [{"name": name, "value": value} for name, value in observation.metric_values.items()]
    else:
        value: dict[str, Any] = {"name": METRIC_NAME, "value": observation.value}
        if observation.value_stddev:
            value["value_stddev"] = observation.value_stddev
        body["values"] = [value]
    return body


def _first_contact(policy: RetryPolicy) -> RetryPolicy:
    return replace(policy, max_total_seconds=min(policy.max_total_seconds, FIRST_CONTACT_SECONDS))
