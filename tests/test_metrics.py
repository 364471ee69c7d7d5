"""Metric declarations: every mistake refused with its own message, before any evaluation; the results
functions (pareto_front, best_feasible) on hand-made trials; the stored declaration."""

from __future__ import annotations

import math
from functools import partial

import hyperopt
import pytest
from hyperopt import Trials, hp
from hyperopt.fmin import generate_trials_to_calculate

from sigopt_hyperopt import (LinearConstraint, Metric, MetricsError, best_feasible, fmin, pareto_front,
                             sigopt_suggest)
from sigopt_hyperopt.metrics import check_metrics, feasible, loss_for_hyperopt
from sigopt_hyperopt.space_summary import SPACE_KEY, decode_summary

SPACE = {"x": hp.uniform("x", 0, 1), "y": hp.uniform("y", 0, 1)}


# -- one Metric ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"name": ""}, "non-empty string name"),
    ({"name": "loss"}, "hyperopt's own result key"),
    ({"name": "acc", "objective": "max"}, "use 'minimize' or 'maximize'"),
    ({"name": "acc", "strategy": "store"}, "use 'optimize' or 'constraint'"),
    ({"name": "mem", "strategy": "constraint"}, "constraint without a threshold"),
    ({"name": "acc", "threshold": math.nan}, "give a finite number"),
    ({"name": "acc", "threshold": math.inf}, "give a finite number"),
    ({"name": "acc", "threshold": "3"}, "give a finite number"),
])
def test_a_bad_metric_is_refused_saying_what_to_do(kwargs, words):
    with pytest.raises(MetricsError, match=words.replace("(", r"\(")):
        Metric(**kwargs)


def test_metric_defaults_and_plain_form():
    metric = Metric("latency_ms", threshold=20)
    assert (metric.objective, metric.strategy, metric.threshold) == ("minimize", "optimize", 20.0)
    assert metric.as_dict() == {"name": "latency_ms", "objective": "minimize", "strategy": "optimize",
                                "threshold": 20.0}


# -- the declaration ------------------------------------------------------------------------------

@pytest.mark.parametrize("metrics, words", [
    ([], "declares no metric"),
    (Metric("a"), "takes a list of Metric"),
    (["a"], "give Metric objects"),
    ([Metric("a"), Metric("a", objective="maximize")], r"unique; \['a'\]"),
    ([Metric("a"), Metric("b"), Metric("c")], "at most two metrics"),
    ([Metric("a", threshold=1.0)], "only optimized metric and has a threshold"),
])
def test_a_bad_declaration_is_refused_saying_what_to_do(metrics, words):
    with pytest.raises(MetricsError, match=words):
        check_metrics(metrics, observation_budget=10)


def test_a_declaration_needs_an_observation_budget():
    with pytest.raises(MetricsError, match="needs an observation budget.*pass observation_budget= to sigopt_suggest"):
        check_metrics([Metric("a")])


def test_all_constraint_and_thresholded_pairs_are_allowed():
    assert len(check_metrics([Metric("m", strategy="constraint", threshold=1)], observation_budget=5)) == 1
    assert len(check_metrics([Metric("a", threshold=1), Metric("b", objective="maximize", threshold=0),
                              Metric("c", strategy="constraint", threshold=2)], observation_budget=5)) == 3


@pytest.mark.parametrize("kwargs, words", [
    ({"terms": {}, "threshold": 1}, "non-empty dict"),
    ({"terms": {"x": math.nan}, "threshold": 1}, "weight of 'x'"),
    ({"terms": {"x": 1}, "threshold": math.inf}, "threshold=inf"),
    ({"terms": {"x": 1}, "threshold": 1, "type": "equal"}, "'less_than' or 'greater_than'"),
])
def test_a_bad_linear_constraint_is_refused(kwargs, words):
    with pytest.raises(MetricsError, match=words):
        LinearConstraint(**kwargs)


def never(params):
    raise AssertionError("no evaluation may run when the declaration is refused")


@pytest.mark.parametrize("constraint, words", [
    (LinearConstraint({"z": 1}, 1), "not a label of the space"),
    (LinearConstraint({"c": 1}, 1), "categorical parameter"),
    (LinearConstraint({"q": 1}, 1), "grid parameter"),
    (LinearConstraint({"w": 1}, 1), "conditional"),
])
def test_linear_constraints_only_on_numeric_parameters_every_trial_has(constraint, words):
    space = {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", ["a", "b"]), "q": hp.choice("q", [1, 2, 3]),
             "branch": hp.choice("branch", [{"w": hp.uniform("w", 0, 1)}, {"v": hp.uniform("v", 0, 1)}])}
    with pytest.raises(MetricsError, match=words):
        fmin(never, space, max_evals=5, trials=Trials(), linear_constraints=[constraint], show_progressbar=False)


def test_refusals_come_before_any_evaluation():
    trials = Trials()
    with pytest.raises(MetricsError, match="at most two"):
        fmin(never, SPACE, max_evals=5, trials=trials, metrics=[Metric("a"), Metric("b"), Metric("c")],
             show_progressbar=False)
    with pytest.raises(MetricsError, match="give max_evals"):
        fmin(never, SPACE, max_evals=None, timeout=5, trials=trials, metrics=[Metric("a")], show_progressbar=False)
    with pytest.raises(MetricsError, match="pass observation_budget= to sigopt_suggest"):
        hyperopt.fmin(never, SPACE, algo=partial(sigopt_suggest, metrics=[Metric("a")]), max_evals=5,
                      trials=trials, show_progressbar=False)
    with pytest.raises(MetricsError, match="SigOpt's algorithm only"):
        fmin(never, SPACE, algo=hyperopt.tpe.suggest, max_evals=5, trials=trials, metrics=[Metric("a")],
             show_progressbar=False)
    assert len(trials) == 0


# -- the shared rules -------------------------------------------------------------------------------

def test_feasibility_and_the_loss_hyperopt_sees():
    metrics = (Metric("acc", objective="maximize", threshold=0.5), Metric("lat", threshold=20),
               Metric("mem", strategy="constraint", threshold=2))
    assert feasible(metrics, {"acc": 0.5, "lat": 20, "mem": 2})
    assert not feasible(metrics, {"acc": 0.4, "lat": 1, "mem": 1})
    assert not feasible(metrics, {"acc": 0.9, "lat": 1, "mem": 2.1})
    assert loss_for_hyperopt(metrics, {"acc": 0.9}) == -0.9
    assert loss_for_hyperopt(metrics, {"lat": 3}) == math.inf
    assert loss_for_hyperopt(metrics, {"acc": math.nan}) == math.inf
    assert loss_for_hyperopt((Metric("mem", strategy="constraint", threshold=2),), {"mem": 1}) == 0.0


# -- results on hand-made trials ---------------------------------------------------------------

def made_trials(rows, metrics):
    """Trials holding finished evaluations with these metric dicts (None: a failed trial)."""
    def fn(params):
        index = round(params["x"] * 100)
        row = rows[index] if params["y"] == 0.5 and index < len(rows) else None  # hyperopt adds random points
        return {"status": "fail"} if row is None else {"status": "ok", "loss": 0.0, "metrics": row}

    trials = generate_trials_to_calculate([{"x": i / 100, "y": 0.5} for i in range(len(rows))])
    hyperopt.fmin(fn, SPACE, algo=hyperopt.rand.suggest, max_evals=len(rows), trials=trials, show_progressbar=False)
    from sigopt_hyperopt.metrics import declaration
    from sigopt_hyperopt.space_summary import store_metrics
    store_metrics(trials.attachments, SPACE, declaration(metrics))
    return trials


def test_pareto_front_keeps_the_feasible_non_dominated_trials_best_first():
    metrics = [Metric("f1"), Metric("f2", objective="maximize"), Metric("c", strategy="constraint", threshold=1)]
    rows = [{"f1": 1, "f2": 1, "c": 0},      # dominated by 1
            {"f1": 0.5, "f2": 2, "c": 0},    # front
            {"f1": 0.1, "f2": 0.5, "c": 0},  # front
            {"f1": 0.0, "f2": 9, "c": 5},    # infeasible: would dominate everything
            None,                            # failed
            {"f1": 0.2, "c": 0},             # a metric missing
            {"f1": 3, "f2": 3, "c": 1}]      # front (the threshold itself is feasible)
    trials = made_trials(rows, metrics)
    front = pareto_front(trials)
    assert [r.tid for r in front] == [2, 1, 6]
    assert front[0].metrics == {"f1": 0.1, "f2": 0.5, "c": 0.0}
    assert front[0].params == {"x": 0.02, "y": 0.5}
    assert best_feasible(trials).tid == 2
    summary = decode_summary(trials.attachments[SPACE_KEY])
    assert summary.metrics == [m.as_dict() for m in metrics]


def test_best_feasible_is_none_without_a_feasible_trial_and_needs_a_declaration():
    metrics = [Metric("f1"), Metric("c", strategy="constraint", threshold=1)]
    trials = made_trials([{"f1": 1, "c": 2}, None], metrics)
    assert best_feasible(trials) is None and pareto_front(trials) == []
    bare = Trials()
    with pytest.raises(MetricsError, match="pass metrics="):
        pareto_front(bare)
    assert best_feasible(bare, metrics) is None
