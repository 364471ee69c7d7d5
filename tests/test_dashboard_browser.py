"""The dashboard page in a real browser: Debian's headless Chromium driven by Selenium (chromedriver).

Live: the page is opened before the search starts and watched while real workers finish trials.
Export: `report --html` writes one file that opens from disk without a network. Both save the
screenshots docs/dashboard.md shows.
"""

from __future__ import annotations

import pickle
import shutil
import time
from pathlib import Path

import numpy as np
import pymongo
import pytest
from hyperopt import Trials, fmin
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from sigopt_hyperopt import sigopt_suggest
from sigopt_hyperopt.mongo import MongoTrials

from .dashboard_search import SPACE, loss, slow_loss
from .test_cli import run_cli
from .test_dashboard import get_json, search_in_background, start_dashboard, stop_dashboard, wait_until
from .test_mongo import queue_placeholder_jobs, start_workers
from .test_worker import stop_all

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "img"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def chromium() -> webdriver.Chrome:
    """Debian's Chromium, headless, through Debian's chromedriver (nothing is downloaded)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("The browser tests need Debian's chromium and chromium-driver: apt-get install chromium "
                    "chromium-driver (.ci/run does).")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2600",
                     "--enable-unsafe-swiftshader", "--lang=en-US"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


@pytest.fixture
def browser():
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def text(driver, element_id: str) -> str:
    """The element's text; the page redraws while it is read, so an element replaced meanwhile is found again."""
    for _ in range(20):
        try:
            return driver.find_element(By.ID, element_id).text
        except StaleElementReferenceException:
            time.sleep(0.05)
    return driver.find_element(By.ID, element_id).text


RECTS = """
const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
return Array.from(document.querySelectorAll(arguments[0])).map(box).filter((r) => r[2] > r[0] && r[3] > r[1]);
"""


def rects(driver, selector: str) -> list[list[float]]:
    """The page rectangles [left, top, right, bottom] of the elements ``selector`` matches (those drawn)."""
    return driver.execute_script(RECTS, selector)


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def inside(inner: list[float], outer: list[float]) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def texts(driver, selector: str) -> list[str]:
    return driver.execute_script("return Array.from(document.querySelectorAll(arguments[0])).map((e) => e.textContent)",
                                 selector)


def registered_pids(mongo_db: str) -> list[int]:
    address, database = mongo_db.split("/")
    with pymongo.MongoClient(f"mongodb://{address}") as client:
        return [int(doc["_id"].split(":")[1]) for doc in client[database]["workers"].find()]


def check_layout(driver) -> None:
    """The defects a reader saw, measured: cut-off axis titles, the toolbar over a bar, choices as indices."""
    wait_until(lambda: rects(driver, "#plot-importance .point path"))
    [toolbar] = rects(driver, "#plot-importance .modebar")
    bars = rects(driver, "#plot-importance .point path")
    assert bars and not any(overlap(toolbar, bar) for bar in bars), (toolbar, bars)
    [parcoords] = rects(driver, "#plot-parcoords .svg-container")
    titles = rects(driver, "#plot-parcoords .axis-title")
    assert len(titles) == 4 and all(inside(title, parcoords) for title in titles), (parcoords, titles)
    for plot in ("#plot-history", "#plot-time", "#param-plots .js-plotly-plot"):
        for bar in rects(driver, f"{plot} .modebar"):
            assert not any(overlap(bar, point) for point in rects(driver, f"{plot} .point")), plot
    for i in range(len(rects(driver, "#param-plots .js-plotly-plot"))):  # no tick label cut at a plot's edge
        [frame] = rects(driver, f"#param-plot-{i} .svg-container")
        labels = rects(driver, f"#param-plot-{i} .xtick text") + rects(driver, f"#param-plot-{i} .ytick text")
        assert labels and all(inside(label, frame) for label in labels), (i, frame, labels)
    options = ["{n: 1}", "{n: 2, width: hp.quniform}"]  # hp.choice over dicts: by label, not 0 and 1
    assert set(options) <= set(texts(driver, "#plot-parcoords .tick text"))
    assert set(options) <= set(texts(driver, "#param-plots .xtick text"))


def test_the_page_shows_progress_and_best_loss_change_as_trials_finish(mongo_db, browser):
    workers = start_workers(mongo_db, 2, "--heartbeat-interval=0.3")
    dashboard, url = start_dashboard(f"--mongo={mongo_db}", "--refresh=0.3", "--max-evals=12")
    try:
        browser.get(url)  # before the search starts: nothing is finished yet
        wait_until(lambda: browser.execute_script("return window.dashStats.polls") >= 1)
        # A worker killed before the search starts: gone, it ran nothing of it, so its row is folded.
        doomed = start_workers(mongo_db, 1)
        wait_until(lambda: any(pid == doomed[0].pid for pid in registered_pids(mongo_db)))
        stop_all(doomed)
        trials = MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="browser")
        thread, outcome = search_in_background(trials, slow_loss, SPACE, 12, 2)
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            state = (text(browser, "count-done"), text(browser, "best-loss"))
            if not seen or seen[-1] != state:
                seen.append(state)
            if state[0] == "12":
                break
            time.sleep(0.2)
        thread.join(timeout=60)
        assert "error" not in outcome, outcome
        done_counts = [int(done) for done, _ in seen]
        assert done_counts == sorted(done_counts) and done_counts[-1] == 12 and len(set(done_counts)) >= 3, seen
        bests = [best for _, best in seen]
        assert len(set(bests)) >= 2, seen  # from "–" (nothing finished) to at least one loss
        final = get_json(url)
        assert float(bests[-1]) == pytest.approx(final["best"]["loss"], rel=1e-4)
        assert text(browser, "best-trial").startswith(f"trial {final['best']['tid']},")
        wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#workers tbody tr[data-worker]")) == 2)
        worker_ids = {row.get_attribute("data-worker") for row in browser.find_elements(By.CSS_SELECTOR,
                                                                                        "#workers tbody tr[data-worker]")}
        assert {int(w.split(":")[1]) for w in worker_ids} == {w.pid for w in workers}
        assert text(browser, "workers-folded") == "show 1 more: gone worker that ran nothing in this search"
        browser.find_element(By.ID, "workers-folded").click()
        wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#workers tbody tr[data-status='gone']")) == 1)
        gone = browser.find_element(By.CSS_SELECTOR, "#workers tbody tr[data-status='gone']")
        assert int(gone.get_attribute("data-worker").split(":")[1]) == doomed[0].pid
        assert gone.find_element(By.CSS_SELECTOR, "td.heard").text.endswith(" ago")
        assert text(browser, "table-count") == "12 of 12 trials"
        assert len(browser.find_elements(By.CSS_SELECTOR, "#param-plots .js-plotly-plot")) == 4
        stats = browser.execute_script("return window.dashStats")
        print("page timings (ms):", stats)
        assert stats["polls"] >= len(seen) and stats["lastUpdateMs"] is not None
        assert browser.current_url == f"{url}?search=browser"  # the address names the search it opened on
        check_layout(browser)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "dashboard.png"))

        # Another search: switching to it changes the address; an address opens on the search it names.
        stop_all(workers)  # its jobs (placeholders, no domain) stay queued
        queue_placeholder_jobs(MongoTrials(f"mongo://{mongo_db}/jobs", exp_key="queued-later"), 2)
        wait_until(lambda: len(Select(browser.find_element(By.ID, "exp-key")).options) == 2)
        Select(browser.find_element(By.ID, "exp-key")).select_by_visible_text("queued-later")
        wait_until(lambda: text(browser, "count-queued") == "2" and text(browser, "count-done") == "0")
        assert browser.current_url == f"{url}?search=queued-later"
        browser.get(f"{url}?search=browser")
        wait_until(lambda: text(browser, "count-done") == "12")
        assert Select(browser.find_element(By.ID, "exp-key")).first_selected_option.text == "browser"
    finally:
        stop_all(workers)
        stop_dashboard(dashboard)


def test_the_html_export_opens_without_a_server_and_sorts_and_filters(tmp_path, browser):
    trials = Trials()
    fmin(loss, SPACE, algo=sigopt_suggest, max_evals=12, trials=trials, rstate=np.random.default_rng(1),
         show_progressbar=False)
    (tmp_path / "trials.pkl").write_bytes(pickle.dumps(trials))
    out = tmp_path / "report.html"
    done = run_cli("report", str(tmp_path / "trials.pkl"), "--space=tests.dashboard_search:SPACE", "--max-evals=12",
                   "--html", str(out))
    assert done.returncode == 0 and "wrote" in done.stdout, done.stderr
    html = out.read_text()
    assert "<script src=" not in html and "<link" not in html  # nothing is loaded from anywhere
    assert html.count("<script>") == 3  # plotly.js, the data and the page's script, all inline

    browser.get(out.as_uri())
    wait_until(lambda: text(browser, "count-done") == "12")
    losses = trials.losses()
    assert float(text(browser, "best-loss")) == pytest.approx(min(losses), rel=1e-4)
    assert text(browser, "table-count") == "12 of 12 trials"
    browser.find_element(By.CSS_SELECTOR, "#trials th[data-key='loss']").click()  # ascending loss
    first = browser.find_element(By.CSS_SELECTOR, "#trials tbody tr").get_attribute("data-tid")
    assert int(first) == int(np.argmin(losses))
    tanh = sum(1 for t in trials.trials if t["misc"]["vals"]["activation"][0] == 1)
    browser.find_element(By.ID, "filter").send_keys("tanh")
    assert text(browser, "table-count") == f"{tanh} of 12 trials"
    browser.find_element(By.ID, "filter").clear()
    browser.find_element(By.ID, "filter").send_keys(" ")  # an input event with an empty filter
    assert "lr (log)" in text(browser, "param-plots") and "width (conditional: where active)" in text(browser, "param-plots")
    check_layout(browser)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "dashboard-report.png"))
