"""Identities on the remote path: an evaluation is (experiment, search, trial id, attempt).

Against the test SigOpt server with the real ``sigopt`` client (see test_remote.py).  Each of these
lost or contradicted data before identities were explicit.
"""

from __future__ import annotations

import warnings
from functools import partial

import pytest
from hyperopt import Trials, fmin, hp

from sigopt_hyperopt import SearchMismatchError, report_finished, sigopt_suggest
from sigopt_hyperopt.engines.remote.engine import SEARCH_METADATA_KEY, TRIAL_ID_METADATA_KEY
from sigopt_hyperopt.session import _sessions
from sigopt_hyperopt.store import MARK_PREFIX, SEARCH_KEY, TrialsLedger

from .remote_driver import FAST_RETRIES
from .test_remote import SPACE, TOKEN, assert_reported_exactly_once, run, server, the_experiment  # noqa: F401

pytestmark = pytest.mark.usefixtures("server")


def searches_on(experiment):
    """{search id: sorted trial ids} of the experiment's observations."""
    found: dict[str, list[int]] = {}
    for observation in experiment.observations:
        metadata = observation["metadata"]
        found.setdefault(metadata[SEARCH_METADATA_KEY], []).append(metadata[TRIAL_ID_METADATA_KEY])
    return {search: sorted(tids) for search, tids in found.items()}


def test_a_second_store_attached_to_an_experiment_reports_all_of_its_own_trials(server):
    first = Trials()
    run(first, 5)
    report_finished(first, SPACE, retry=FAST_RETRIES)
    experiment = the_experiment(server)

    second = Trials()
    options = {"experiment_id": experiment.id, "retry": FAST_RETRIES}
    run(second, 5, algo=partial(sigopt_suggest, **options))
    report_finished(second, SPACE, **options)

    assert len(experiment.observations) == 10  # was 5: the second store's trials 0-4 were "already reported"
    by_search = searches_on(experiment)
    assert sorted(by_search.values()) == [list(range(5))] * 2
    assert set(by_search) == {TrialsLedger(first).load().search_id, TrialsLedger(second).load().search_id}


def test_a_remote_search_continued_embedded_then_remote_again_stays_on_one_experiment(server):
    trials = Trials()
    run(trials, 4)
    _sessions.pop(trials)
    run(trials, 7, algo=partial(sigopt_suggest, connection="embedded"))
    _sessions.pop(trials)
    run(trials, 10)
    assert len(server.experiments) == 1  # was 2: the embedded run replaced the record
    report_finished(trials, SPACE, retry=FAST_RETRIES)
    assert_reported_exactly_once(the_experiment(server), range(10))


def test_a_refused_attach_leaves_the_store_untouched(server):
    elsewhere = Trials()
    run(elsewhere, 5, fn=lambda p: p["y"], space={"y": hp.uniform("y", 0, 1)})
    foreign = the_experiment(server)

    trials = Trials()
    with pytest.raises(SearchMismatchError):
        run(trials, 3, algo=partial(sigopt_suggest, experiment_id=foreign.id, retry=FAST_RETRIES))
    assert [name for name in trials.attachments if name.startswith(MARK_PREFIX) or name == SEARCH_KEY] == []

    run(trials, 5)  # its own experiment now: its trials 0-3 must not count as reported
    mine = [e for e in server.experiments.values() if e.id != foreign.id]
    assert len(mine) == 1 and len(mine[0].observations) == 4


def test_an_attached_experiment_with_other_priors_or_conditions_is_refused():
    import sigopt

    from sigopt_hyperopt import translate
    from sigopt_hyperopt.engines.base import experiment_spec

    space = {"w": hp.normal("w", 0, 1),
             "model": hp.choice("model", [{"c": hp.uniform("c", 0, 1)}, {"n": hp.uniform("n", 0, 1)}])}
    spec = experiment_spec(translate(space), name="made elsewhere")
    for parameter in spec["parameters"]:
        if parameter["name"] == "w":
            parameter["prior"] = {"name": "normal", "mean": 0.5, "scale": 1.0}
        if parameter["name"] == "c":
            parameter["conditions"] = {"model": ["1"]}
        if parameter["name"] == "n":
            parameter["conditions"] = {"model": ["0"]}
    made = sigopt.Connection(client_token=TOKEN).experiments().create(**spec)
    with pytest.raises(SearchMismatchError) as raised, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fmin(lambda p: 0.0, space, algo=partial(sigopt_suggest, experiment_id=made.id, retry=FAST_RETRIES),
             max_evals=2, trials=Trials(), show_progressbar=False)
    lines = str(raised.value).splitlines()
    assert "  - parameter 'w': prior normal(mean=0, scale=1) in the space, normal(mean=0.5, scale=1) in the experiment" in lines
    assert "  - parameter 'c': active when model in ['0'] in the space, model in ['1'] in the experiment" in lines


def test_an_experiment_made_for_another_quantum_is_refused():
    first = Trials()
    run(first, 2, fn=lambda p: p["x"], space={"x": hp.quniform("x", 0, 100, 10)})
    _sessions.clear()
    other = {"x": hp.quniform("x", 0, 1000, 100)}  # the same SigOpt int 0..10
    with pytest.raises(SearchMismatchError, match="quantum q"):
        experiment_id = TrialsLedger(first).load().experiment_id
        run(Trials(), 2, fn=lambda p: p["x"], space=other,
            algo=partial(sigopt_suggest, experiment_id=experiment_id, retry=FAST_RETRIES))


def test_a_store_written_before_identities_reports_nothing_twice(server):
    import json

    from sigopt_hyperopt import translate
    from sigopt_hyperopt.store import LEGACY_REPORTED_KEY

    trials = Trials()
    run(trials, 5)
    report_finished(trials, SPACE, retry=FAST_RETRIES)
    # What the previous release left: a record without search id and with the older digest, and one
    # list of reported trial ids (its observations on the server carry no search id either).
    record = TrialsLedger(trials).load()
    legacy = {"engine": "remote", "experiment_id": record.experiment_id, "api_url": record.api_url,
              "space_fingerprint": translate(SPACE).legacy_fingerprint()}
    trials.attachments[SEARCH_KEY] = json.dumps(legacy).encode()
    for name in [n for n in trials.attachments if n.startswith(MARK_PREFIX)]:
        del trials.attachments[name]
    trials.attachments[LEGACY_REPORTED_KEY] = json.dumps(list(range(5))).encode()
    for observation in the_experiment(server).observations:
        del observation["metadata"][SEARCH_METADATA_KEY]
    _sessions.clear()  # a new driver, of the new release

    run(trials, 8)
    report_finished(trials, SPACE, retry=FAST_RETRIES)
    assert_reported_exactly_once(the_experiment(server), range(8))
    assert TrialsLedger(trials).load().search_id is not None


def test_a_second_search_on_the_experiment_leaves_the_first_ones_open_suggestions_alone(server):
    first = Trials()
    run(first, 3)  # hyperopt's fmin: the third trial's suggestion stays open, as a running trial's does
    experiment = the_experiment(server)
    [held] = [s["id"] for s in experiment.open_suggestions]
    assert experiment.suggestions[held]["metadata"] == {SEARCH_METADATA_KEY: TrialsLedger(first).load().search_id}

    second = Trials()
    options = {"experiment_id": experiment.id, "retry": FAST_RETRIES}
    run(second, 3, algo=partial(sigopt_suggest, **options))  # opening it deletes its own orphans only
    assert experiment.suggestions[held]["state"] == "open"  # was deleted as an "orphan" of the second search

    report_finished(first, SPACE, retry=FAST_RETRIES)
    assert searches_on(experiment)[TrialsLedger(first).load().search_id] == [0, 1, 2]
