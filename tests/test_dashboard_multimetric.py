"""The dashboard and ``report --html`` on a multimetric search: the Pareto plot's data, the frontier and
the constraint-status column; a single-loss search beside it looks as it always did.

The searches are written as a driver and its workers leave them in a real FerretDB: trial documents
with ``result["metrics"]`` and the space summary holding the metric declaration.  The dashboard runs as
a user runs it (the command, in its own process); the page is opened in Debian's headless Chromium.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

from hyperopt import hp
from hyperopt.base import JOB_STATE_DONE, JOB_STATE_NEW
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from sigopt_hyperopt.dashboard.pareto import constraint_status, frontier
from sigopt_hyperopt.metrics import Metric
from sigopt_hyperopt.mongo import MongoTrials
from sigopt_hyperopt.space_summary import SPACE_KEY, describe, encode

from .test_dashboard import get_json, start_dashboard, stop_dashboard, wait_until
from .test_dashboard_browser import SCREENSHOTS, browser, text, texts  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parent.parent
SPACE = {"x": hp.uniform("x", 0, 1), "y": hp.uniform("y", 0, 3)}
DECLARATION = [Metric("f1"), Metric("f2"), Metric("g", strategy="constraint", threshold=4.0)]

# tid: (state, status, metrics). Feasible: g <= 4. Expected frontier: 0, 1, 6 (3 is better than all of
# them but infeasible; 2 is dominated by 1; 4 gave no f2; 5 failed; 7 is queued).
TRIALS = {
    0: (JOB_STATE_DONE, "ok", {"f1": 1.0, "f2": 5.0, "g": 1.0}),
    1: (JOB_STATE_DONE, "ok", {"f1": 2.0, "f2": 2.0, "g": 4.0}),
    2: (JOB_STATE_DONE, "ok", {"f1": 3.0, "f2": 3.0, "g": 1.0}),
    3: (JOB_STATE_DONE, "ok", {"f1": 0.5, "f2": 0.5, "g": 9.0}),
    4: (JOB_STATE_DONE, "ok", {"f1": 0.1, "g": 1.0}),
    5: (JOB_STATE_DONE, "fail", {}),
    6: (JOB_STATE_DONE, "ok", {"f1": 4.0, "f2": 1.0, "g": 0.0}),
    7: (JOB_STATE_NEW, "new", None),
}
FRONTIER = [0, 1, 6]


def store_search(mongo_db: str, exp_key: str, outcomes: dict, declaration: list[Metric] | None) -> MongoTrials:
    """Trial documents as workers finish them, and the summary as the driver stores it (the outcomes in
    order: trial ids are the database's, so a search stored second starts where the first ended)."""
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key=exp_key)
    tids = trials.new_trial_ids(len(outcomes))
    by_tid = dict(zip(tids, outcomes.values()))
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    results, miscs = [], []
    for tid in tids:
        state, status, metrics = by_tid[tid]
        result = {"status": status}
        if status == "ok":
            result["loss"] = metrics.get("f1", 0.0) if metrics is not None else float(tid)
        if metrics is not None and status == "ok":
            result["metrics"] = metrics
        results.append(result)
        miscs.append({"tid": tid, "cmd": None, "workdir": None, "idxs": {"x": [tid], "y": [tid]},
                      "vals": {"x": [tid / 10], "y": [tid / 5]}})
    docs = trials.new_trial_docs(tids, [None] * len(tids), results, miscs)
    for doc in docs:
        doc["state"] = by_tid[doc["tid"]][0]
        if doc["state"] == JOB_STATE_DONE:
            doc["book_time"] = doc["refresh_time"] = now
    trials.insert_trial_docs(docs)
    metrics = [m.as_dict() for m in declaration] if declaration else None
    trials.attachments[SPACE_KEY] = encode(describe(SPACE), len(outcomes), metrics)
    return trials


def plain_outcomes() -> dict:
    return {tid: (JOB_STATE_DONE, "ok", None) for tid in range(4)}


def test_constraint_status_says_which_threshold_failed():
    metrics = (Metric("acc", objective="maximize"), Metric("mem", strategy="constraint", threshold=2.0),
               Metric("speed", objective="maximize", strategy="constraint", threshold=10.0))
    done = {"state": "done"}
    assert constraint_status(metrics, {**done, "metrics": {"acc": 0.9, "mem": 2.0, "speed": 10.0}}) == (True, "feasible")
    assert constraint_status(metrics, {**done, "metrics": {"acc": 0.9, "mem": 3.0, "speed": 9.5}}) == (
        False, "mem 3 > 2; speed 9.5 < 10")
    assert constraint_status(metrics, {**done, "metrics": {"acc": 0.9}}) == (False, "no value for mem, speed")
    assert constraint_status(metrics, {"state": "running"}) == (None, None)


def test_the_frontier_respects_each_metrics_direction_and_feasibility():
    limit = Metric("mem", strategy="constraint", threshold=1.0)
    metrics = (Metric("acc", objective="maximize"), Metric("size"), limit)

    def row(tid, acc, size, mem=0.0, state="done"):
        return {"tid": tid, "state": state, "metrics": {"acc": acc, "size": size, "mem": mem}}

    rows = [row(0, 0.9, 10.0), row(1, 0.8, 5.0),
            row(2, 0.8, 7.0),              # dominated by 1
            row(3, 0.99, 1.0, mem=2.0),    # better than all, infeasible
            row(4, 0.95, 20.0), row(5, 0.95, 20.0),  # a repeat: both kept
            row(6, 1.0, 0.0, state="running")]
    assert frontier(metrics, rows) == [4, 5, 0, 1]  # best accuracy first
    assert frontier((metrics[0], limit), rows) == [4, 5]
    assert frontier((limit,), rows) == [0, 1, 2, 4, 5]


def test_the_endpoint_and_the_report_carry_the_frontier_and_each_trials_constraint_status(mongo_db, tmp_path):
    store_search(mongo_db, "pareto", TRIALS, DECLARATION)
    store_search(mongo_db, "plain", plain_outcomes(), None)
    dashboard, url = start_dashboard(f"--mongo={mongo_db}", "--refresh=0.3")
    try:
        data = wait_until(lambda: (lambda d: d if len(d["trials"]) == 8 and d["metrics"] else None)(
            get_json(url, exp_key="pareto")))
        plain = get_json(url, exp_key="plain")
    finally:
        stop_dashboard(dashboard)
    assert [m["name"] for m in data["metrics"]] == ["f1", "f2", "g"]
    assert data["metrics"][2] == {"name": "g", "objective": "minimize", "strategy": "constraint", "threshold": 4.0}
    assert data["frontier"] == FRONTIER
    rows = {row["tid"]: row for row in data["trials"]}
    assert rows[0]["metrics"] == {"f1": 1.0, "f2": 5.0, "g": 1.0}
    assert [rows[t]["constraints"] for t in range(8)] == [
        "feasible", "feasible", "feasible", "g 9 > 4", "no value for f2", None, "feasible", None]
    assert [rows[t]["feasible"] for t in range(8)] == [True, True, True, False, False, None, True, None]

    assert data["best"]["tid"] == 0  # the best feasible: 3 and 4 have lower losses, but are not feasible
    assert plain["metrics"] is None and plain["frontier"] == []
    assert all("metrics" not in row and "constraints" not in row for row in plain["trials"])

    report = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "sigopt_hyperopt.cli", "report", f"--mongo={mongo_db}", "--html",
                           str(report)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    searches = json.loads(re.search(r"window\.DASHBOARD_DATA = (.*?);</script>", report.read_text()).group(1))
    exported = {s["exp_key"]: s for s in searches}
    assert exported["pareto"]["frontier"] == FRONTIER and exported["pareto"]["metrics"] == data["metrics"]
    assert exported["plain"]["metrics"] is None


PARETO_TRACES = """
const plot = document.getElementById('plot-pareto');
return plot.data.map((t) => [t.name, t.mode, (t.text || []).map((s) => s.split(':')[0])]);
"""


def test_the_page_draws_the_pareto_plot_and_the_constraint_column_only_for_a_multimetric_search(
        mongo_db, tmp_path, browser):  # noqa: F811
    store_search(mongo_db, "pareto", TRIALS, DECLARATION)
    store_search(mongo_db, "plain", plain_outcomes(), None)
    report = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "sigopt_hyperopt.cli", "report", f"--mongo={mongo_db}", "--html",
                           str(report)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    browser.get(report.as_uri() + "?search=pareto")
    wait_until(lambda: text(browser, "table-count") == "8 of 8 trials")
    assert browser.find_element(By.ID, "pareto").is_displayed()
    traces = browser.execute_script(PARETO_TRACES)
    by_name = {(name, mode): tids for name, mode, tids in traces}
    assert by_name[("feasible", "markers")] == ["trial 2"]
    assert by_name[("infeasible", "markers")] == ["trial 3"]  # 4 has no f2: not drawn
    assert by_name[("frontier", "markers")] == ["trial 0", "trial 1", "trial 6"]
    assert "3 trials on the frontier of 4 feasible (1 infeasible); feasible: g ≤ 4." == text(browser, "pareto-note")
    assert text(browser, "best-title") == "Best feasible loss" and text(browser, "best-trial").startswith("trial 0,")
    headers = texts(browser, "#trials thead th")
    assert headers[:7] == ["tid", "state", "loss", "f1", "f2", "g", "constraints"]
    cell = browser.find_element(By.CSS_SELECTOR, "#trials tbody tr[data-tid='3'] td:nth-child(7)")
    assert cell.text == "g 9 > 4" and "infeasible" in cell.get_attribute("class")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "dashboard-pareto.png"))

    Select(browser.find_element(By.ID, "exp-key")).select_by_visible_text("plain")
    wait_until(lambda: text(browser, "table-count") == "4 of 4 trials")  # tids 8 to 11
    assert not browser.find_element(By.ID, "pareto").is_displayed()
    assert text(browser, "best-title") == "Best loss"
    headers = texts(browser, "#trials thead th")
    assert headers[:3] == ["tid", "state", "loss"] and sorted(headers[3:5]) == ["x", "y"]
    assert headers[5:] == ["owner", "attempt", "finished", "error"]  # as before: no metric or constraint column


def test_a_real_multimetric_search_in_a_trials_file_shows_its_front(tmp_path):
    """sigopt_hyperopt.fmin with metrics= (the embedded engine), saved as a Trials file, read as
    ``sigopt-hyperopt report trials.pkl`` reads it: the declaration, the metric columns' values, the front."""
    import pickle

    import numpy as np
    from hyperopt import Trials

    from sigopt_hyperopt import fmin
    from sigopt_hyperopt.dashboard.open import open_state
    from sigopt_hyperopt.metrics_results import pareto_front

    def objective(params):
        x, y = params["x"], params["y"]
        return {"status": "ok", "metrics": {"f1": x, "f2": (1 - x) ** 2 + y, "g": y}}

    declared = [Metric("f1"), Metric("f2"), Metric("g", strategy="constraint", threshold=2.0)]
    trials = Trials()
    fmin(objective, SPACE, max_evals=8, trials=trials, metrics=declared, rstate=np.random.default_rng(0),
         show_progressbar=False)
    path = tmp_path / "trials.pkl"
    path.write_bytes(pickle.dumps(trials))
    data = open_state(str(path), None).changes(None, 0)
    assert data["metrics"] == [m.as_dict() for m in declared]
    assert data["frontier"] == [r.tid for r in pareto_front(trials)] and data["frontier"]
    rows = {row["tid"]: row for row in data["trials"]}
    for trial in trials.trials:
        row = rows[trial["tid"]]
        assert row["metrics"] == trial["result"]["metrics"]
        assert row["constraints"] == ("feasible" if trial["result"]["metrics"]["g"] <= 2.0
                                      else f"g {trial['result']['metrics']['g']:.4g} > 2")
