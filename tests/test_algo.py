"""sigopt_suggest inside hyperopt's fmin, with the embedded engine (no configuration)."""

from __future__ import annotations

import json
import pickle
import warnings
from functools import partial

import numpy as np
import pytest
from hyperopt import STATUS_FAIL, STATUS_OK, Trials, fmin, hp, space_eval
from hyperopt.base import JOB_STATE_ERROR, Domain
from hyperopt.fmin import generate_trials_to_calculate

from sigopt_hyperopt import SearchMismatchError, UnsupportedSpaceError, sigopt_suggest
from sigopt_hyperopt.reporting import MISC_KEY, all_trial_docs
from sigopt_hyperopt.session import _sessions

from .spaces import EVERY_KIND


@pytest.fixture(autouse=True)
def no_token(monkeypatch):
    """These tests are about the default engine; a token in the environment would change it."""
    monkeypatch.delenv("SIGOPT_API_TOKEN", raising=False)


def engine_of(trials):
    return _sessions[trials].engine


def run(fn, space, max_evals, trials, seed=0, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fmin(fn, space, algo=sigopt_suggest, max_evals=max_evals, trials=trials,
                    rstate=np.random.default_rng(seed), show_progressbar=False, **kwargs)


def test_fmin_works_with_no_configuration_on_every_kind_of_space_and_best_is_the_best_trial():
    def loss(params):
        model = params["model"]
        extra = model["C"] if isinstance(model, dict) else model[1][0] if isinstance(model[1], list) else 0.0
        return float(params["uniform"] ** 2 + params["quniform"] + extra + params["activation"].__len__())

    trials = Trials()
    best = run(loss, EVERY_KIND, 25, trials)
    assert len(trials.trials) == 25
    assert all(t["result"]["status"] == STATUS_OK for t in trials.trials)
    assert all(t["misc"][MISC_KEY]["experiment"] == "embedded" for t in trials.trials)
    best_trial = min(trials.trials, key=lambda t: t["result"]["loss"])
    assert loss(space_eval(EVERY_KIND, best)) == pytest.approx(best_trial["result"]["loss"])
    assert len(engine_of(trials).observations) == 24  # every finished trial before the last suggestion


def test_the_search_improves_on_a_known_function():
    trials = Trials()
    run(lambda p: (p["x"] - 0.3) ** 2 + (p["y"] + 0.2) ** 2, {"x": hp.uniform("x", -1, 1), "y": hp.uniform("y", -1, 1)}, 25, trials)
    assert min(trials.losses()) < 0.01


def test_a_bad_space_fails_before_anything_is_evaluated():
    calls = []
    space = {"lo": hp.uniform("lo", 0, 1), "x": hp.uniform("x", 0, hp.uniform("hi", 1, 2))}
    with pytest.raises(UnsupportedSpaceError, match="'x'"):
        run(lambda p: calls.append(p) or 0.0, space, 5, Trials())
    assert calls == []


def test_failures_and_non_finite_losses_become_failed_observations_and_the_search_goes_on():
    def flaky(params):
        x = params["x"]
        if x < 0.2:
            return {"status": STATUS_FAIL}
        if x < 0.4:
            return float("nan")
        if x < 0.5:
            return float("inf")
        if x > 0.9:
            raise RuntimeError("diverged")
        return x

    trials = Trials()
    run(flaky, {"x": hp.uniform("x", 0, 1)}, 30, trials, catch_eval_exceptions=True)
    docs = sorted(all_trial_docs(trials), key=lambda t: t["tid"])
    assert len(docs) == 30 and any(t["state"] == JOB_STATE_ERROR for t in docs)
    observations = {o.key: o for o in engine_of(trials).observations}
    finished = docs[:-1]  # the last one finished after the last suggestion
    assert sorted(observations) == [t["tid"] for t in finished]
    for trial in finished:
        x = trial["misc"]["vals"]["x"][0]
        ok = 0.5 <= x <= 0.9
        assert observations[trial["tid"]].failed is (not ok), x
        assert observations[trial["tid"]].value == (x if ok else None)
    assert sum(o.failed for o in observations.values()) > 0


def test_points_to_evaluate_are_evaluated_first_and_reported():
    space = {"x": hp.uniform("x", -1, 1), "act": hp.choice("act", ["relu", "tanh"])}
    # fmin uses points_to_evaluate only when it makes the trials itself; this is what it does then.
    trials = generate_trials_to_calculate([{"x": 0.5, "act": 1}, {"x": -0.25, "act": 0}])
    run(lambda p: p["x"] ** 2, space, 8, trials)
    first = trials.trials[:2]
    assert [t["misc"]["vals"]["x"][0] for t in first] == [0.5, -0.25]
    assert MISC_KEY not in first[0]["misc"]
    observations = {o.key: o for o in engine_of(trials).observations}
    assert len(observations) == len(trials.trials) - 1
    assert observations[0].assignments == {"x": 0.5, "act": "tanh"} and observations[0].value == 0.25
    assert observations[1].assignments == {"x": -0.25, "act": "relu"}


def test_same_rstate_gives_the_same_search_and_numpy_global_state_is_untouched():
    space = {"x": hp.uniform("x", -1, 1), "n": hp.quniform("n", 1, 9, 1)}
    runs = []
    for _ in range(2):
        np.random.seed(99)
        before = np.random.get_state()[1].copy()
        trials = Trials()
        run(lambda p: p["x"] ** 2 + p["n"], space, 12, trials, seed=5)
        assert (np.random.get_state()[1] == before).all()
        runs.append([t["misc"]["vals"] for t in trials.trials])
    assert runs[0] == runs[1]


def test_a_saved_search_resumes_and_reports_nothing_twice(tmp_path):
    space = {"x": hp.uniform("x", -2, 2)}
    save = str(tmp_path / "trials.pkl")
    run(lambda p: p["x"] ** 2, space, 8, Trials(), trials_save_file=save)

    with open(save, "rb") as f:
        trials = pickle.load(f)
    assert len(trials.trials) == 8
    run(lambda p: p["x"] ** 2, space, 14, trials, seed=1)
    assert len(trials.trials) == 14
    keys = [o.key for o in engine_of(trials).observations]
    assert sorted(keys) == list(range(13))
    assert sorted(t["tid"] for t in trials.trials) == list(range(14))


def test_resuming_with_a_different_space_is_refused():
    trials = Trials()
    run(lambda p: p["x"], {"x": hp.uniform("x", 0, 1)}, 3, trials)
    with pytest.raises(SearchMismatchError, match="different search space"):
        run(lambda p: p["x"], {"x": hp.uniform("x", 0, 2)}, 5, trials)


def test_loss_variance_is_passed_on_as_a_standard_deviation():
    trials = Trials()
    run(lambda p: {"loss": p["x"], "loss_variance": 0.04, "status": STATUS_OK}, {"x": hp.uniform("x", 0, 1)}, 4, trials)
    assert [o.value_stddev for o in engine_of(trials).observations] == [pytest.approx(0.2)] * 3


def test_options_are_given_with_partial():
    trials = Trials()
    algo = partial(sigopt_suggest, name="partial-search", observation_budget=5, connection="embedded")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fmin(lambda p: p["x"], {"x": hp.uniform("x", 0, 1)}, algo=algo, max_evals=5, trials=trials,
             rstate=np.random.default_rng(0), show_progressbar=False)
    assert len(trials.trials) == 5



def test_resuming_after_changing_a_quantum_is_refused():
    """quniform(0, 100, 10) and quniform(0, 1000, 100) have the same SigOpt form; the stored 3s differ."""
    trials = Trials()
    run(lambda p: p["x"], {"x": hp.quniform("x", 0, 100, 10)}, 3, trials)
    with pytest.raises(SearchMismatchError, match="quantum q"):
        run(lambda p: p["x"], {"x": hp.quniform("x", 0, 1000, 100)}, 5, trials)
    with pytest.raises(SearchMismatchError):
        run(lambda p: p["x"], {"x": hp.randint("x", 0, 11)}, 5, trials)


def test_a_store_written_before_identities_is_continued_and_upgraded():
    from sigopt_hyperopt import translate
    from sigopt_hyperopt.store import SEARCH_KEY, TrialsLedger

    space = {"x": hp.quniform("x", 0, 100, 10)}
    trials = Trials()
    run(lambda p: p["x"], space, 3, trials)
    record = TrialsLedger(trials).load()
    old = {"engine": "embedded", "experiment_id": record.experiment_id,
           "space_fingerprint": translate(space).legacy_fingerprint(), "api_url": None}
    trials.attachments[SEARCH_KEY] = json.dumps(old).encode()  # what the previous release wrote
    _sessions.pop(trials)
    run(lambda p: p["x"], space, 5, trials)
    upgraded = TrialsLedger(trials).load()
    assert upgraded.space_fingerprint == translate(space).fingerprint() and upgraded.search_id
    assert len(trials.trials) == 5


def test_the_pchoice_warning_under_fmin_points_at_the_fmin_call():
    with pytest.warns(UserWarning, match="probabilities") as caught:
        fmin(lambda p: 0.0, {"w": hp.pchoice("w", [(0.1, "x"), (0.9, "y")]), "x": hp.uniform("x", 0, 1)},
             algo=sigopt_suggest, max_evals=1, trials=Trials(), show_progressbar=False)
    assert [w.filename for w in caught if "probabilities" in str(w.message)] == [__file__]


def test_a_point_never_repeats_a_pending_one_in_a_two_point_space():
    # On discrete parameters a random draw can repeat a point being evaluated (a parallel worker would
    # evaluate it twice); the other point is there, so it is the one suggested.
    domain = Domain(lambda params: 0.0, {"c": hp.choice("c", ["a", "b"])})
    for seed in range(20):
        trials = Trials()
        [pending] = sigopt_suggest([0], domain, trials, seed)
        trials.insert_trial_docs([pending])
        trials.refresh()
        [new] = sigopt_suggest([1], domain, trials, seed + 1)
        assert new["misc"]["vals"]["c"] != pending["misc"]["vals"]["c"]
        batch = sigopt_suggest([2, 3, 4], domain, Trials(), seed)
        # Both points, and a repeat: a space with no other point left repeats one rather than return fewer.
        assert len(batch) == 3 and {doc["misc"]["vals"]["c"][0] for doc in batch} == {0, 1}


def test_numeric_choices_reach_the_objective_as_values_while_the_trials_hold_indices():
    options = [64, 16, 128, 32, 8]
    space = {"n": hp.choice("n", options), "x": hp.uniform("x", -1, 1)}

    def loss(params):
        return float((np.log2(params["n"]) - 5) ** 2 + params["x"] ** 2)

    trials = Trials()
    best = run(loss, space, 15, trials)
    for trial in trials.trials:
        index = trial["misc"]["vals"]["n"][0]
        assert isinstance(index, int) and 0 <= index < len(options)
        assert trial["misc"][MISC_KEY]["assignments"]["n"] == float(options[index])
        chosen = {label: values[0] for label, values in trial["misc"]["vals"].items()}
        assert loss(space_eval(space, chosen)) == trial["result"]["loss"]
    assert space_eval(space, best)["n"] == 32


def test_a_search_stored_when_numeric_choices_were_categories_continues_with_categories():
    """A store whose record carries the earlier translation's digest (what earlier versions wrote, see
    test_space's golden digest) keeps its categorical assignments across a restart."""
    from sigopt_hyperopt import translate
    from sigopt_hyperopt.store import SearchRecord, TrialsLedger, new_search_id

    space = {"batch": hp.choice("batch", [16, 32, 64]), "x": hp.uniform("x", 0, 1)}
    trials = Trials()
    earlier = translate(space, ordered_choices=False)
    TrialsLedger(trials).save(SearchRecord("embedded", "embedded", earlier.fingerprint(), search_id=new_search_id()))
    run(lambda p: p["x"] + p["batch"] / 64, space, 4, trials)
    _sessions.pop(trials)  # a restarted driver
    run(lambda p: p["x"] + p["batch"] / 64, space, 8, trials)
    assert [t["misc"][MISC_KEY]["assignments"]["batch"] for t in trials.trials] == [
        str(t["misc"]["vals"]["batch"][0]) for t in trials.trials]
    assert _sessions[trials].space.fingerprint() == earlier.fingerprint()
    assert len(engine_of(trials).observations) == 7
    assert TrialsLedger(trials).load().space_fingerprint == earlier.fingerprint()
