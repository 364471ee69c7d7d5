"""Multimetric searches on a SigOpt server: the real ``sigopt`` client against tests/sigopt_http_server.py,
whose experiments and observations sigoptlite's validator checks as SigOpt's would."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hyperopt import Trials, hp

from sigopt_hyperopt import Metric, MetricsError, SearchMismatchError, fmin, pareto_front, sigopt_suggest
from sigopt_hyperopt.session import forget_sessions
from sigopt_hyperopt.store import TrialsLedger

from .objectives import two_metrics
from .remote_driver import FAST_RETRIES
from .test_remote import TOKEN, server  # noqa: F401  (the fixture)

SPACE = {"x": hp.uniform("x", 0, 1), "y": hp.uniform("y", 0, 1)}
METRICS = [Metric("near_origin", threshold=1.5), Metric("score", objective="maximize"),
           Metric("width", strategy="constraint", threshold=0.9)]


def with_width(params):
    result = two_metrics(params)
    result["metrics"]["width"] = params["x"]
    if params["y"] > 0.95:
        del result["metrics"]["score"]  # a trial that forgot a metric
    return result


def run(trials, max_evals, metrics=METRICS, **options):
    return fmin(with_width, SPACE, algo=partial(sigopt_suggest, retry=FAST_RETRIES, **options), max_evals=max_evals,
                trials=trials, metrics=metrics, rstate=np.random.default_rng(0), show_progressbar=False)


def experiment_of(server, trials):
    return server.experiments[TrialsLedger(trials).load().experiment_id]


def test_a_multimetric_experiment_gets_the_declaration_and_one_value_per_metric(server):
    trials = Trials()
    best = run(trials, 8)
    experiment = experiment_of(server, trials)
    assert experiment.body["metrics"] == [m.as_dict() for m in METRICS]
    assert experiment.body["observation_budget"] == 8
    assert len(experiment.observations) == 8
    for observation in experiment.observations:
        tid = observation["metadata"]["hyperopt_tid"]
        doc = next(d for d in trials.trials if d["tid"] == tid)
        given = doc["result"]["metrics"]
        if len(given) == 3:
            assert not observation["failed"]
            assert {v["name"]: v["value"] for v in observation["values"]} == given
        else:
            assert observation["failed"] and not observation["values"]
    front = pareto_front(trials)
    assert front and best == front[0].params


def test_a_changed_declaration_is_refused_on_resume_and_on_attach(server):
    trials = Trials()
    run(trials, 4)
    forget_sessions()
    changed = [Metric("near_origin", threshold=1.0), *METRICS[1:]]
    with pytest.raises(SearchMismatchError, match="threshold 1"):
        run(trials, 6, changed)
    experiment_id = TrialsLedger(trials).load().experiment_id
    with pytest.raises(SearchMismatchError, match=r"metric 'near_origin': threshold 1\.0 declared, 1\.5 in the "
                                                  r"experiment"):
        run(Trials(), 6, changed, experiment_id=experiment_id)
    with pytest.raises(SearchMismatchError, match="metric 'loss' is declared but not in the experiment"):
        fmin(lambda p: p["x"], SPACE, algo=partial(sigopt_suggest, retry=FAST_RETRIES, experiment_id=experiment_id),
             max_evals=6, trials=Trials(), show_progressbar=False)
    assert len(experiment_of(server, trials).observations) == 4
    run(trials, 6)  # the same declaration continues
    assert len(experiment_of(server, trials).observations) == 6


def test_the_server_refuses_what_sigopt_refuses(server):
    with pytest.raises(Exception, match="observation_budget is required"):
        server._create_experiment({"name": "x", "parameters": [{"name": "x", "type": "double",
                                                                "bounds": {"min": 0, "max": 1}}],
                                   "metrics": [m.as_dict() for m in METRICS[:2]]})
    with pytest.raises(MetricsError, match="at most two"):
        run(Trials(), 4, [Metric("a"), Metric("b"), Metric("c")])


def test_linear_constraints_reach_the_experiment_and_hold(server):
    from sigopt_hyperopt import LinearConstraint

    trials = Trials()
    constraint = LinearConstraint({"x": 1, "y": 1}, threshold=0.8)
    fmin(lambda p: (p["x"] - 1) ** 2, SPACE, algo=partial(sigopt_suggest, retry=FAST_RETRIES), max_evals=9,
         trials=trials, linear_constraints=[constraint], show_progressbar=False)
    experiment = experiment_of(server, trials)
    assert experiment.body["linear_constraints"] == [constraint.as_dict()]
    assert experiment.body["metrics"] == [{"name": "loss", "objective": "minimize"}]
    assert all(o["assignments"]["x"] + o["assignments"]["y"] <= 0.8 + 1e-9 for o in experiment.observations)


def test_attaching_with_other_linear_constraints_is_refused_with_each_difference(server):
    from sigopt_hyperopt import LinearConstraint

    declared = LinearConstraint({"x": 1, "y": 1}, threshold=0.8)
    trials = Trials()
    fmin(lambda p: (p["x"] - 1) ** 2, SPACE, algo=partial(sigopt_suggest, retry=FAST_RETRIES), max_evals=6,
         trials=trials, linear_constraints=[declared], show_progressbar=False)
    experiment_id = TrialsLedger(trials).load().experiment_id

    def attach(constraints):
        forget_sessions()
        return fmin(lambda p: (p["x"] - 1) ** 2, SPACE,
                    algo=partial(sigopt_suggest, retry=FAST_RETRIES, experiment_id=experiment_id), max_evals=2,
                    trials=Trials(), linear_constraints=constraints, show_progressbar=False)

    with pytest.raises(SearchMismatchError) as refused:
        attach([LinearConstraint({"x": 1, "y": 1}, threshold=0.9)])
    assert "linear constraint 1*x + 1*y <= 0.9 is declared but not in the experiment" in str(refused.value)
    assert "linear constraint 1*x + 1*y <= 0.8 is in the experiment but not declared" in str(refused.value)
    with pytest.raises(SearchMismatchError, match=r"1\*x \+ 1\*y <= 0\.8 is in the experiment but not declared"):
        attach(None)
    attach([LinearConstraint({"y": 1.0, "x": 1.0}, threshold=0.8)])  # the same constraint, terms in another order
    assert len(server.experiments[experiment_id].observations) == 8


def test_report_finished_reports_the_last_multimetric_trials_of_hyperopts_fmin(server):
    import hyperopt

    trials = Trials()
    options = dict(retry=FAST_RETRIES, metrics=METRICS, observation_budget=5)

    def with_loss(params):
        return {**with_width(params), "loss": params["x"]}

    hyperopt.fmin(with_loss, SPACE, algo=partial(sigopt_suggest, **options), max_evals=5, trials=trials,
                  rstate=np.random.default_rng(0), show_progressbar=False)
    experiment = experiment_of(server, trials)
    assert len(experiment.observations) < 5  # hyperopt's fmin never called the algorithm after the last trial
    from sigopt_hyperopt import report_finished

    report_finished(trials, SPACE, **options)
    assert len(experiment.observations) == 5
    assert all(o["failed"] or len(o["values"]) == 3 for o in experiment.observations)
