"""Multimetric searches end to end: the embedded engine on Trials, constraints, failures, resume,
MongoTrials with a real worker process on FerretDB."""

from __future__ import annotations

import logging
import math
from functools import partial

import hyperopt
import numpy as np
import pytest
from hyperopt import Trials, hp

from sigopt_hyperopt import (LinearConstraint, Metric, SearchMismatchError, best_feasible, fmin, pareto_front,
                             sigopt_suggest)
from sigopt_hyperopt.engines.base import Observation
from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
from sigopt_hyperopt.engines.embedded.model import FIT_SUBSET_MAX
from sigopt_hyperopt.engines.embedded.multimetric import _fit_subset
from sigopt_hyperopt.session import _sessions, forget_sessions
from sigopt_hyperopt.space import translate
from sigopt_hyperopt.space_summary import SPACE_KEY, decode_summary

from .objectives import constrained_quadratic, two_metrics, two_metrics_nan_far_out

SPACE = {"x": hp.uniform("x", 0, 1), "y": hp.uniform("y", 0, 1)}
PAIR = [Metric("near_origin"), Metric("score", objective="maximize")]


def run(objective, metrics, max_evals, trials=None, **kwargs):
    trials = trials if trials is not None else Trials()
    best = fmin(objective, kwargs.pop("space", SPACE), max_evals=max_evals, trials=trials, metrics=metrics,
                rstate=np.random.default_rng(kwargs.pop("seed", 0)), show_progressbar=False, **kwargs)
    return best, trials


def test_a_two_metric_search_finds_a_front_and_returns_its_best_on_the_first_metric():
    best, trials = run(two_metrics, PAIR, 16)
    front = pareto_front(trials)
    assert 3 <= len(front) <= len(trials)
    values = [(r.metrics["near_origin"], r.metrics["score"]) for r in front]
    assert values == sorted(values)  # best first on the first metric, so the second gets better along it
    assert all(b1 < b2 for (_, b1), (_, b2) in zip(values, values[1:]))
    assert best == front[0].params == best_feasible(trials).params
    assert all(set(doc["result"]) >= {"loss", "metrics"} for doc in trials.trials)
    first = trials.trials[0]["result"]
    assert first["loss"] == first["metrics"]["near_origin"]  # filled: the first optimized metric
    engine = _sessions[trials].engine
    assert all(o.metric_values is not None and set(o.metric_values) == {"near_origin", "score"}
               for o in engine.observations)
    assert decode_summary(trials.attachments[SPACE_KEY]).metrics == [m.as_dict() for m in PAIR]


def test_the_embedded_multimetric_engine_is_deterministic_pending_aware_and_leaves_numpy_alone():
    space = translate(SPACE)
    rng = np.random.default_rng(3)
    observations = []
    for key in range(8):
        x, y = rng.random(2)
        values = two_metrics({"x": x, "y": y})["metrics"]
        observations.append(Observation(key=key, assignments={"x": x, "y": y}, value=None, metric_values=values))
    pending = [{"x": 0.5, "y": 0.5}]

    def suggestions():
        engine = EmbeddedEngine.for_space(space, observation_budget=20, metrics=PAIR)
        engine.sync(observations)
        return [s.assignments for s in engine.suggest(3, pending, seed=11)]

    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    first = suggestions()
    assert (np.random.get_state()[1] == before).all()
    assert first == suggestions() and len(first) == 3
    assert len({tuple(sorted(a.items())) for a in first + pending}) == 4


def test_a_long_searchs_fit_is_bounded_spaced_and_the_same_after_a_restart():
    """Beyond 40 observations each metric's fit uses at most FIT_SUBSET_MAX of them and is redone only
    where the fitted count grows (a fit on all of them grows with their cube: 39 s at 550)."""
    space = translate(SPACE)
    rng = np.random.default_rng(4)
    observations = []
    for key in range(211):
        x, y = rng.random(2)
        observations.append(Observation(key=key, assignments={"x": x, "y": y}, value=None,
                                        metric_values=two_metrics({"x": x, "y": y})["metrics"]))

    def engine_at(count):
        engine = EmbeddedEngine.for_space(space, observation_budget=400, metrics=PAIR)
        engine.sync(observations[:count])
        return engine

    engine = engine_at(200)
    first = [s.assignments for s in engine.suggest(2, [], seed=1)]
    model = engine._multimetric
    assert 1 <= model.fits_computed <= 2  # the refit point's fit (and, at most, nothing else)
    assert len(_fit_subset(engine._observations)) == FIT_SUBSET_MAX
    fits = model.fits_computed
    for count in (201, 207, 211):  # the same refit point (170 of the oldest): no new fit
        engine.sync(observations[:count])
        engine.suggest(1, [], seed=2)
    assert model.fits_computed == fits
    assert [s.assignments for s in engine_at(200).suggest(2, [], seed=1)] == first  # a restart: the same points


def test_a_constrained_single_metric_search_returns_a_feasible_best():
    metrics = [Metric("error"), Metric("width", strategy="constraint", threshold=0.5)]
    best, trials = run(constrained_quadratic, metrics, 16)
    record = best_feasible(trials)
    assert best == record.params
    assert record.metrics["width"] <= 0.5
    feasible = [d for d in trials.trials if d["result"]["metrics"]["width"] <= 0.5]
    assert record.metrics["error"] == min(d["result"]["metrics"]["error"] for d in feasible)
    assert record.metrics["error"] < (0.5 - 0.8) ** 2 + 0.05  # near the feasible optimum x = 0.5, y = 0


def test_an_all_constraint_search_runs():
    metrics = [Metric("width", strategy="constraint", threshold=0.5)]
    best, trials = run(constrained_quadratic, metrics, 10)
    assert best_feasible(trials).metrics["width"] <= 0.5
    assert all(d["result"]["loss"] == 0.0 for d in trials.trials)


def test_a_missing_or_non_finite_metric_fails_that_trial_with_one_warning(caplog):
    def sometimes_short(params):
        result = two_metrics(params)
        if params["x"] < 0.3:
            del result["metrics"]["score"]
        elif params["x"] > 0.9:
            result["metrics"]["score"] = math.nan
        return result

    with caplog.at_level(logging.WARNING, logger="sigopt_hyperopt.session"):
        _, trials = run(sometimes_short, PAIR, 12)
    short = [d["tid"] for d in trials.trials if d["misc"]["vals"]["x"][0] < 0.3 or d["misc"]["vals"]["x"][0] > 0.9]
    assert short, "the search never tried the short region; choose another seed"
    engine = _sessions[trials].engine
    failed = sorted(o.key for o in engine.observations if o.failed)
    assert failed == sorted(short)
    warnings = [r.getMessage() for r in caplog.records if "declared metric" in r.getMessage()]
    assert len(warnings) == len(short)  # once per trial, though every later call reads it again
    assert all("'score'" in w for w in warnings)
    assert all(r.tid not in short for r in pareto_front(trials))


def test_hyperopts_own_fmin_runs_a_multimetric_search_with_the_objectives_loss():
    def with_loss(params):
        result = two_metrics(params)
        return {**result, "loss": -result["metrics"]["score"]}

    trials = Trials()
    hyperopt.fmin(with_loss, SPACE, algo=partial(sigopt_suggest, metrics=PAIR, observation_budget=8), max_evals=8,
                  trials=trials, rstate=np.random.default_rng(1), show_progressbar=False)
    assert len(pareto_front(trials)) >= 1
    assert all(d["result"]["loss"] == -d["result"]["metrics"]["score"] for d in trials.trials)


def test_the_declaration_may_come_in_algos_partial():
    trials = Trials()
    best = fmin(two_metrics, SPACE, algo=partial(sigopt_suggest, metrics=PAIR), max_evals=6, trials=trials,
                rstate=np.random.default_rng(0), show_progressbar=False)
    assert best == best_feasible(trials).params  # max_evals was the budget, loss was filled
    assert all(d["result"]["loss"] == d["result"]["metrics"]["near_origin"] for d in trials.trials)


def test_a_resume_with_a_changed_declaration_is_refused_and_the_same_one_continues():
    _, trials = run(two_metrics, PAIR, 6)
    forget_sessions()  # a new driver
    changed = [Metric("near_origin", threshold=0.5), Metric("score", objective="maximize", threshold=1.0)]
    with pytest.raises(SearchMismatchError, match=r"threshold 0\.5.*new exp_key"):
        run(two_metrics, changed, 8, trials)
    with pytest.raises(SearchMismatchError, match=r"not the single loss"):
        fmin(lambda p: p["x"], SPACE, max_evals=8, trials=trials, show_progressbar=False)
    assert len(trials) == 6
    run(two_metrics, PAIR, 8, trials)
    assert len(trials) == 8


def test_a_single_loss_search_cannot_be_continued_with_metrics():
    trials = Trials()
    fmin(lambda p: p["x"], SPACE, max_evals=3, trials=trials, show_progressbar=False)
    with pytest.raises(SearchMismatchError, match=r"metrics the single loss \(no metrics=\), not near_origin"):
        run(two_metrics, PAIR, 5, trials)


def test_linear_constraints_hold_for_every_suggested_point():
    constraint = LinearConstraint({"x": 1, "y": 1}, threshold=0.8, type="less_than")
    trials = Trials()
    fmin(lambda p: (p["x"] - 1) ** 2 + (p["y"] - 1) ** 2, SPACE, max_evals=10, trials=trials,
         linear_constraints=[constraint], rstate=np.random.default_rng(2), show_progressbar=False)
    points = [(d["misc"]["vals"]["x"][0], d["misc"]["vals"]["y"][0]) for d in trials.trials]
    assert all(x + y <= 0.8 + 1e-9 for x, y in points), points
    forget_sessions()
    with pytest.raises(SearchMismatchError, match="constraints cannot change"):
        fmin(lambda p: p["x"], SPACE, max_evals=12, trials=trials, show_progressbar=False,
             linear_constraints=[LinearConstraint({"x": 1, "y": 1}, threshold=0.9)])


def test_a_mongo_search_with_a_real_worker_process(mongo_db):
    from sigopt_hyperopt.mongo import MongoTrials

    from .test_mongo import start_workers, stop_workers

    workers = start_workers(mongo_db, 1)
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="two-metrics")
        best, _ = run(two_metrics_nan_far_out, PAIR, 8, trials, max_queue_len=2)
        docs = trials.all_trial_docs()
        assert len(docs) == 8 and all(d["owner"] for d in docs)  # evaluated by the worker process
        assert all(d["result"]["loss"] == d["result"]["metrics"]["near_origin"] for d in docs)  # filled there
        far = sorted(d["tid"] for d in docs if d["misc"]["vals"]["x"][0] > 0.5)
        assert far and all(math.isnan(d["result"]["metrics"]["score"]) for d in docs if d["tid"] in far)
        assert sorted(o.key for o in _sessions[trials].engine.observations if o.failed) == far
        viewer = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="two-metrics")  # another reader, no session
        front = pareto_front(viewer)
        assert front and best == front[0].params
        assert decode_summary(viewer.attachments[SPACE_KEY]).metrics == [m.as_dict() for m in PAIR]
        forget_sessions()
        with pytest.raises(SearchMismatchError, match="cannot change"):
            run(two_metrics_nan_far_out, PAIR[:1], 10, MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="two-metrics"))
        assert decode_summary(viewer.attachments[SPACE_KEY]).metrics == [m.as_dict() for m in PAIR]
        assert len(viewer.all_trial_docs()) == 8
    finally:
        stop_workers(workers)


def test_the_single_loss_search_is_untouched():
    """No metrics, no linear constraints: the experiment is the one minimized 'loss' it always was, and
    the embedded engine keeps its own single-metric ingredients (the multimetric model stays unused)."""
    from sigopt_hyperopt.engines.base import experiment_spec

    space = translate(SPACE)
    spec = experiment_spec(space, name="n", observation_budget=5)
    assert spec["metrics"] == [{"name": "loss", "objective": "minimize"}] and "linear_constraints" not in spec
    assert EmbeddedEngine(spec)._multimetric is None
    trials = Trials()
    fmin(lambda p: p["x"], SPACE, max_evals=2, trials=trials, show_progressbar=False)
    from sigopt_hyperopt.store import SEARCH_KEY
    assert "metrics" not in trials.attachments[SEARCH_KEY].decode()  # the record reads as before
    assert SPACE_KEY not in trials.attachments  # Trials get no summary, as before
