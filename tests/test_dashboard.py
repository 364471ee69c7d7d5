"""``sigopt-hyperopt dashboard`` on a real FerretDB holding a running search with real worker processes.

The dashboard runs as a user runs it (the command, in its own process); the tests read the JSON its
page reads. The browser tests are in test_dashboard_browser.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pymongo
from hyperopt import fmin

from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.mongo import MongoTrials

from .conftest import free_port, start_ferretdb, stop_process
from .dashboard_search import SPACE, loss, slow_loss
from .objectives import one_second_quadratic
from .test_auth import PASSWORD, USER, auth_server  # noqa: F401  (the fixture)
from .test_mongo import start_workers
from .test_worker import SPACE as X_SPACE
from .test_worker import owner_pid, stop_all, wait_for_running_job

ROOT = Path(__file__).resolve().parent.parent


def start_dashboard(*args: str, clock_skew: float = 0.0) -> tuple[subprocess.Popen, str]:
    """The command in its own process on a free port; returns it and the URL it printed.

    ``clock_skew``: seconds this "machine's" wall clock is off (tests/skewed_clock).
    """
    env = {k: v for k, v in os.environ.items() if k != "SIGOPT_API_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    if clock_skew:
        env["PYTHONPATH"] = f"{ROOT / 'tests' / 'skewed_clock'}{os.pathsep}{ROOT}"
        env["SKEWED_CLOCK_SECONDS"] = str(clock_skew)
    process = subprocess.Popen([sys.executable, "-m", "sigopt_hyperopt.cli", "dashboard", "--port=0", *args],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    while re.search(r"clock differs|on the command line", line.splitlines()[-1] if line else ""):
        line += process.stdout.readline()  # warnings before the address: a skewed clock, a password in argv
    match = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
    if match is None:
        process.kill()
        raise AssertionError(f"the dashboard did not start: {line}{process.stdout.read()}")
    process.first_line = line  # type: ignore[attr-defined]
    return process, match.group(1)


def stop_dashboard(process: subprocess.Popen) -> str:
    """Ctrl-C, as a user stops it; returns everything it printed."""
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    return process.first_line + output


def get_json(url: str, **params: object) -> dict:
    query = "&".join(f"{k}={urllib.parse.quote(json.dumps(v) if k == 'exp_key' else str(v))}" for k, v in params.items())
    with urllib.request.urlopen(f"{url}api/changes?{query}", timeout=30) as response:
        return json.loads(response.read())


def wait_until(condition, timeout: float = 120.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def search_in_background(trials, objective, space, max_evals: int, queue: int) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def drive() -> None:
        try:
            fmin(objective, space, algo=sigopt_suggest, max_evals=max_evals, trials=trials, max_queue_len=queue,
                 rstate=np.random.default_rng(0), show_progressbar=False, return_argmin=False)
        except BaseException as error:  # surfaced by the test
            outcome["error"] = error

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    return thread, outcome


def snapshot(mongo_db: str) -> dict:
    """Every document and index of the database, to show the dashboard changed nothing."""
    address, database = mongo_db.split("/")
    with pymongo.MongoClient(f"mongodb://{address}") as client:
        db = client[database]
        return {name: (sorted(map(repr, db[name].find())), sorted(map(repr, db[name].list_indexes())))
                for name in sorted(db.list_collection_names())}


def test_the_dashboard_follows_a_running_search_and_writes_nothing(mongo_db):
    workers = start_workers(mongo_db, 2, "--heartbeat-interval=0.3")
    dashboard, url = start_dashboard(f"--mongo={mongo_db}", "--refresh=0.3", "--max-evals=10")
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="watched")
        thread, outcome = search_in_background(trials, slow_loss, SPACE, 10, 2)
        first = wait_until(lambda: (lambda d: d if d["progress"]["done"] >= 1 else None)(get_json(url)))
        assert first["exp_key"] == "watched" and first["experiments"] == ["watched"]
        assert first["progress"]["max_evals"] == 10 and first["health"]["ok"]
        axes = {a["label"]: a for a in first["axes"]}
        assert first["space_known"]  # loaded from the domain the driver stored for its workers
        assert axes["lr"]["log"] and axes["lr"]["kind"] == "numeric" and not axes["lr"]["conditional"]
        assert axes["activation"]["categories"] == ["relu", "tanh", "gelu"]
        assert axes["layers"]["categories"] == ["{n: 1}", "{n: 2, width: hp.quniform}"]  # dict options readable
        assert axes["width"]["conditional"] and not axes["layers"]["conditional"]

        # Incremental: asking from the last answer's cursor gives only what changed since.
        later = wait_until(lambda: (lambda d: d if d["progress"]["done"] > first["progress"]["done"] else None)(
            get_json(url, since=first["seq"])))
        assert later["trials"] and all(row["seq"] > first["seq"] for row in later["trials"])
        assert len(later["trials"]) < later["progress"]["total"] or first["progress"]["total"] == 0

        thread.join(timeout=180)
        assert not thread.is_alive() and "error" not in outcome, outcome
        final = wait_until(lambda: (lambda d: d if d["progress"]["done"] == 10 else None)(get_json(url)))
        docs = trials.all_trial_docs()
        assert final["progress"] == {**final["progress"], "done": 10, "running": 0, "queued": 0, "failed": 0, "total": 10}
        assert final["progress"]["per_minute"] > 0
        losses = {d["tid"]: d["result"]["loss"] for d in docs}
        assert final["best"]["loss"] == min(losses.values())
        assert losses[final["best"]["tid"]] == final["best"]["loss"]
        rows = {row["tid"]: row for row in final["trials"]}
        assert {tid: row["loss"] for tid, row in rows.items()} == losses
        for doc in docs:  # parameters by label; choices by their option; inactive ones absent
            row, vals = rows[doc["tid"]], doc["misc"]["vals"]
            assert row["params"]["activation"] == ["relu", "tanh", "gelu"][vals["activation"][0]]
            assert ("width" in row["params"]) == bool(vals["width"])
            assert row["owner"] == doc["owner"]

        pids = {worker.pid for worker in workers}
        table = {w["pid"]: w for w in final["workers"]}
        assert set(table) == pids
        assert sum(w["done"] for w in table.values()) == 10
        assert all(w["status"] in ("idle", "busy") and w["last_heartbeat"] for w in table.values())

        stop_all(workers)
        before = snapshot(mongo_db)
        seq = get_json(url)["seq"]
        wait_until(lambda: get_json(url)["seq"] >= seq + 3)  # the dashboard polled the store again
        assert snapshot(mongo_db) == before
    finally:
        stop_all(workers)
        output = stop_dashboard(dashboard)
    assert "Traceback" not in output, output


def test_a_requeued_trial_is_charged_to_the_worker_that_died(mongo_db):
    workers = start_workers(mongo_db, 3, "--heartbeat-interval=0.3", "--stale-after=2")
    dashboard, url = start_dashboard(f"--mongo={mongo_db}", "--refresh=0.2")
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="requeue")
        thread, outcome = search_in_background(trials, one_second_quadratic, X_SPACE, 6, 3)
        victim = wait_for_running_job(trials)
        time.sleep(0.6)  # long enough for the dashboard to have seen it running
        os.kill(owner_pid(victim), signal.SIGKILL)
        thread.join(timeout=120)
        assert not thread.is_alive() and "error" not in outcome, outcome
        final = wait_until(lambda: (lambda d: d if d["progress"]["done"] == 6 else None)(get_json(url)))
        table = {w["pid"]: w for w in final["workers"]}
        dead = table[owner_pid(victim)]
        assert dead["requeues"] == 1 and dead["lost"] == [victim["tid"]] and dead["status"] == "gone"
        assert sum(w["requeues"] for w in table.values()) == 1
        row = next(r for r in final["trials"] if r["tid"] == victim["tid"])
        assert row["requeues"] == 1 and row["lost_by"] == [victim["owner"]] and row["owner"] != victim["owner"]
    finally:
        stop_all(workers)
        stop_dashboard(dashboard)


def registry_entry(mongo_db: str, pid: int) -> dict:
    address, database = mongo_db.split("/")
    with pymongo.MongoClient(f"mongodb://{address}") as client:
        return next(doc for doc in client[database]["workers"].find() if int(doc["_id"].split(":")[1]) == pid)


def server_now(mongo_db: str):
    from sigopt_hyperopt.mongo.clock import ServerClock

    address, database = mongo_db.split("/")
    with pymongo.MongoClient(f"mongodb://{address}") as client:
        return ServerClock(client[database]).now()


def run_search(mongo_db: str, exp_key: str, max_evals: int) -> MongoTrials:
    """A search of ``max_evals`` one-second trials, run to its end on the workers there are."""
    trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key=exp_key)
    thread, outcome = search_in_background(trials, one_second_quadratic, X_SPACE, max_evals, 1)
    thread.join(timeout=180)
    assert not thread.is_alive() and "error" not in outcome, outcome
    return trials


def test_a_killed_worker_is_gone_since_its_last_beat_and_stays_out_of_later_searches(mongo_db):
    """Liveness from the registry's own times; other searches' workers and long-dead idle ones kept out."""
    from sigopt_hyperopt.dashboard.rows import epoch

    first_worker = start_workers(mongo_db, 1, "--heartbeat-interval=0.3", "--reserve-timeout=300")
    elsewhere = start_workers(mongo_db, 1, "--exp-key=another-search", "--reserve-timeout=300")
    later_worker: list = []
    dashboard = None
    try:
        first = run_search(mongo_db, "first", 3)
        os.kill(first_worker[0].pid, signal.SIGKILL)
        first_worker[0].wait(timeout=20)
        killed_at = epoch(server_now(mongo_db))
        expires = registry_entry(mongo_db, first_worker[0].pid)["expires"]
        wait_until(lambda: server_now(mongo_db) > expires, timeout=60)  # its registration has run out

        later_worker = start_workers(mongo_db, 1, "--heartbeat-interval=0.3", "--reserve-timeout=300")
        run_search(mongo_db, "second", 2)

        dashboard, url = start_dashboard(f"--mongo={mongo_db}", "--refresh=0.3")  # long after the kill
        killed, later = first_worker[0].pid, later_worker[0].pid
        answer = get_json(url, exp_key="first")
        table = {w["pid"]: w for w in answer["workers"]}
        assert set(table) == {killed, later}, table  # not elsewhere[0], the worker of another search
        dead = table[killed]
        # Last heard of: its registry entry's beat or its last result, as the store holds them, before the
        # kill (not when the dashboard first read the entry, long after).
        heard = max([epoch(registry_entry(mongo_db, killed)["beat"]),
                     *(epoch(doc["refresh_time"]) for doc in first.all_trial_docs())])
        assert dead["status"] == "gone" and dead["done"] == 3
        assert dead["last_heartbeat"] == heard and heard <= killed_at
        assert table[later]["status"] in ("idle", "busy") and table[later]["done"] == 0
        assert answer["workers_folded"] == []

        answer = get_json(url, exp_key="second")
        assert [w["pid"] for w in answer["workers"]] == [later] and answer["workers"][0]["done"] == 2
        assert [w["pid"] for w in answer["workers_folded"]] == [killed]  # gone before this search began
        assert answer["workers_folded"][0]["last_heartbeat"] == heard
    finally:
        stop_all(first_worker + elsewhere + later_worker)
        if dashboard is not None:
            stop_dashboard(dashboard)


def test_each_search_counts_against_its_own_max_evals_and_the_page_opens_on_the_running_one(mongo_db):
    """max_evals as each driver stored it (--max-evals only for a search that stored none); the running
    search first, not the first by name; ?search= names another."""
    from .test_mongo import queue_placeholder_jobs

    workers = start_workers(mongo_db, 1, "--heartbeat-interval=0.3", "--reserve-timeout=300")
    dashboard = None
    try:
        run_search(mongo_db, "a-finished", 3)
        queue_placeholder_jobs(MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="c-unrecorded"), 2)  # no summary
        running = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="b-running")
        thread, outcome = search_in_background(running, slow_loss, SPACE, 5, 1)
        wait_for_running_job(running, timeout=120)

        dashboard, url = start_dashboard(f"--mongo={mongo_db}", "--refresh=0.3", "--max-evals=7")
        opened = get_json(url)
        assert opened["exp_key"] == "b-running" and opened["experiments"][0] == "a-finished"
        assert (opened["progress"]["max_evals"], opened["progress"]["max_evals_from"]) == (5, "search")
        mine = get_json(url, exp_key="a-finished")["progress"]
        assert (mine["max_evals"], mine["max_evals_from"], mine["done"]) == (3, "search", 3)
        fallback = get_json(url, search="c-unrecorded")  # as the page's address names it
        assert fallback["exp_key"] == "c-unrecorded"
        assert (fallback["progress"]["max_evals"], fallback["progress"]["max_evals_from"]) == (7, "--max-evals")
        assert get_json(url, search="d-to-come")["exp_key"] == "d-to-come"  # shown once it starts
        thread.join(timeout=180)
        assert not thread.is_alive() and "error" not in outcome, outcome
    finally:
        stop_all(workers)
        if dashboard is not None:
            stop_dashboard(dashboard)


def test_every_kind_of_choice_option_gets_a_readable_label():
    """Not the index SigOpt names it by: a dict by its keys and values, a list, None, a function, numbers."""
    from hyperopt import hp

    from sigopt_hyperopt.space_summary import describe

    space = {
        "layers": hp.choice("layers", [{"n": 1}, {"n": 2, "width": hp.quniform("width", 16, 256, 16)}]),
        "mixed": hp.choice("mixed", [None, ("relu", 3), len, 2.5, "a" * 80]),
        "same": hp.choice("same", [{"k": 1}, {"k": 1}]),
        "activation": hp.choice("activation", ["relu", "tanh"]),
        "grid": hp.choice("grid", [1, 10, 100]),
    }
    categories = {p["label"]: p["categories"] for p in describe(space)}
    assert categories["layers"] == ["{n: 1}", "{n: 2, width: hp.quniform}"]
    assert categories["mixed"][:4] == ["None", "['relu', 3]", "len", "2.5"]
    assert categories["mixed"][4] == "a" * 39 + "…"
    assert categories["same"] == ["{k: 1} #0", "{k: 1} #1"]
    assert categories["activation"] == ["relu", "tanh"] and categories["grid"] == ["1", "10", "100"]


def test_a_database_outage_is_shown_and_the_dashboard_recovers(tmp_path):
    port = free_port()
    server = start_ferretdb(tmp_path, port)
    address = f"127.0.0.1:{port}/outage"
    dashboard = None
    try:
        trials = MongoTrials(f"mongo://{address}/jobs", exp_key="outage")
        from .test_mongo import queue_placeholder_jobs

        queue_placeholder_jobs(trials, 2)
        dashboard, url = start_dashboard(f"--mongo={address}", "--refresh=0.2")
        assert wait_until(lambda: get_json(url)["progress"]["queued"] == 2)
        stop_process(server)
        down = wait_until(lambda: (lambda d: d if not d["health"]["ok"] else None)(get_json(url)), timeout=60)
        assert down["health"]["message"] and down["health"]["down_since"]
        assert down["progress"]["queued"] == 2  # what was read before is still shown
        server = start_ferretdb(tmp_path, port)
        queue_placeholder_jobs(MongoTrials(f"mongo://{address}/jobs", exp_key="outage"), 1)
        back = wait_until(lambda: (lambda d: d if d["health"]["ok"] and d["progress"]["queued"] == 3 else None)(
            get_json(url)), timeout=60)
        assert back["health"]["last_ok"] > down["health"]["down_since"]
    finally:
        if dashboard is not None:
            stop_dashboard(dashboard)
        stop_process(server)


def test_a_password_in_the_address_is_never_shown(auth_server):  # noqa: F811
    address = f"{USER}:{PASSWORD}@{auth_server}/dash_auth?authSource=admin"
    trials = MongoTrials(f"mongo://{address.replace('?', '/jobs?')}", exp_key="secret")
    from .test_mongo import queue_placeholder_jobs

    queue_placeholder_jobs(trials, 1)
    dashboard, url = start_dashboard(f"--mongo={address}", "--refresh=0.2")
    try:
        data = get_json(url)
        with urllib.request.urlopen(url, timeout=30) as page:
            html = page.read().decode()
        assert data["progress"]["queued"] == 1 and data["source"].startswith(f"mongo://{USER}:***@")
        assert PASSWORD not in json.dumps(data) and PASSWORD not in html
    finally:
        output = stop_dashboard(dashboard)
    assert PASSWORD not in output and f"{USER}:***@" in output


def test_a_wrong_address_fails_at_once_with_what_to_do(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sigopt_hyperopt.cli", "dashboard", "--port=0",
                           f"--mongo=127.0.0.1:{free_port()}/nothing"], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert done.returncode == 2 and "No MongoDB server answered" in done.stderr, done.stderr
    both = subprocess.run([sys.executable, "-m", "sigopt_hyperopt.cli", "report", str(tmp_path / "t.pkl"),
                           "--mongo=127.0.0.1:1/x", "--html", str(tmp_path / "r.html")], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert both.returncode == 2 and "either a pickled Trials file or --mongo" in both.stderr


def test_a_dashboard_whose_clock_runs_fast_still_sees_the_live_workers(mongo_db):
    """Liveness is judged by the database server's clock, as the workers write it."""
    # Waiting for work longer than the default 15 s: the driver's first suggestion can take that long on a
    # loaded machine.
    workers = start_workers(mongo_db, 2, "--heartbeat-interval=0.3", "--reserve-timeout=120")
    dashboard, url = start_dashboard(f"--mongo={mongo_db}", "--refresh=0.3", clock_skew=300)
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="skewed")
        thread, outcome = search_in_background(trials, slow_loss, SPACE, 4, 2)
        # The workers wait for more work (reserve timeout 120 s) after this: alive whatever they are doing.
        answer = wait_until(lambda: (lambda d: d if d["progress"]["done"] >= 1 else None)(get_json(url)))
        table = {w["pid"]: w for w in answer["workers"]}
        assert set(table) == {worker.pid for worker in workers}
        assert all(w["status"] in ("idle", "busy") for w in table.values()), table  # was: "gone"
        assert abs(answer["now"] - time.time()) < 60  # the page's "now" is the store's, not the skewed one
        assert "differs from the database server's by -300" in dashboard.first_line  # and the user is told
        thread.join(timeout=180)
        assert not thread.is_alive() and "error" not in outcome, outcome
    finally:
        stop_all(workers)
        stop_dashboard(dashboard)


def test_after_the_first_read_only_recent_job_claims_are_read(mongo_db):
    """The claims collection holds one document per attempt of every job ever run: not re-read each poll."""
    from sigopt_hyperopt.dashboard.source import CLAIMS_SLACK, MongoSource
    from sigopt_hyperopt.mongo import CLAIMS_COLLECTION, parse_mongo_url
    from sigopt_hyperopt.mongo.clock import ServerClock

    source = MongoSource(parse_mongo_url(mongo_db))
    claims = source._db[CLAIMS_COLLECTION]
    now = ServerClock(source._db).now()
    old = now - 10 * CLAIMS_SLACK
    claims.insert_many([{"_id": f"old-{i}/0", "job": f"old-{i}", "owner": "h:1:a", "at": old} for i in range(50)])
    assert len(source.read().claims) == 50  # the first read takes them all
    claims.insert_one({"_id": "new/0", "job": "new", "owner": "h:2:b", "at": ServerClock(source._db).now()})
    assert [c["_id"] for c in source.read().claims] == ["new/0"]
    source.close()


class _CreatesMarker:
    """What an attacker who can write the database stores as the search's domain: unpickling it runs code
    (here ``os.mkdir(marker)``, standing for anything the viewer's user may do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_a_malicious_stored_domain_is_never_unpickled_and_the_axes_come_from_the_plain_record(mongo_db, tmp_path):
    import pickle

    from hyperopt import rand

    from .test_mongo import queue_placeholder_jobs

    marker = tmp_path / "code-ran"
    poison = pickle.dumps(_CreatesMarker(marker))
    workers = start_workers(mongo_db, 1)
    try:
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="current")
        fmin(loss, SPACE, algo=rand.suggest, max_evals=3, trials=trials, rstate=np.random.default_rng(0), show_progressbar=False)
    finally:
        stop_all(workers)  # workers unpickle domains by design: none runs while the poison is planted
    trials.attachments["FMinIter_Domain"] = poison  # the current search: the driver also wrote a plain record
    older = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="older")  # as stored by an older version: no record
    queue_placeholder_jobs(older, 2)
    older.attachments["FMinIter_Domain"] = poison

    dashboard, url = start_dashboard(f"--mongo={mongo_db}", "--refresh=0.3")
    try:
        current = wait_until(lambda: (lambda d: d if d["progress"]["done"] == 3 else None)(
            get_json(url, exp_key="current")))
        old = get_json(url, exp_key="older")
    finally:
        output = stop_dashboard(dashboard)
    report = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "sigopt_hyperopt.cli", "report", f"--mongo={mongo_db}", "--html",
                           str(report)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), "the dashboard or the report unpickled the stored domain"
    assert "Traceback" not in output, output

    axes = {a["label"]: a for a in current["axes"]}
    assert current["space_known"] and not any(a["guessed"] for a in axes.values())
    assert axes["lr"]["log"] and axes["activation"]["categories"] == ["relu", "tanh", "gelu"]
    assert axes["width"]["conditional"]
    assert {row["params"]["activation"] for row in current["trials"]} <= {"relu", "tanh", "gelu"}
    assert not old["space_known"] and old["progress"]["queued"] == 2  # shown, without the space
    page = report.read_text()
    assert '"label":"lr","kind":"numeric","log":true' in page and '"space_known":true' in page


def _status_for_host(url: str, host: str) -> int:
    import http.client

    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        connection.putrequest("GET", "/api/changes", skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_only_the_host_names_the_dashboard_serves_are_answered(tmp_path):
    """A page on another site whose name is made to resolve to 127.0.0.1 (DNS rebinding) sends its own name."""
    import pickle

    from hyperopt import Trials

    trials_file = tmp_path / "trials.pkl"
    trials_file.write_bytes(pickle.dumps(Trials()))
    dashboard, url = start_dashboard(str(trials_file))
    try:
        port = urllib.parse.urlsplit(url).port
        assert _status_for_host(url, f"evil.example:{port}") in (400, 421)
        assert _status_for_host(url, "dash.example.org") in (400, 421)
        for served in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
            assert _status_for_host(url, served) == 200, served
    finally:
        stop_dashboard(dashboard)
    dashboard, url = start_dashboard(str(trials_file), "--allow-host=dash.example.org")  # a name the user gives
    try:
        assert _status_for_host(url, f"dash.example.org:{urllib.parse.urlsplit(url).port}") == 200
        assert _status_for_host(url, "evil.example") in (400, 421)
    finally:
        stop_dashboard(dashboard)
