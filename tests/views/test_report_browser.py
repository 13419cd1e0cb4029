"""The report page in a real browser (Debian's chromium, headless, driven by selenium): it loads
without console errors or network requests, every chart is drawn under its id with one trace
per run named by the run, and the runs table drives the charts."""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlparse

import pytest
from browser import chromium, open_page
from conftest import REFDATA
from synthetic import make_runs

from orchestrator.views.report import write_log_report, write_report
from orchestrator.views.report.figures import CHART_IDS
from orchestrator.workspace import init_workspace

#: Schemes a request may use without leaving the machine.
LOCAL_SCHEMES = {"file", "data", "blob", "about"}


@pytest.fixture(scope="module")
def browser():
    if shutil.which("chromium") is None or not shutil.os.path.exists("/usr/bin/chromedriver"):
        pytest.fail("chromium and chromium-driver are not installed: run 'make install' (scripts/install-debian.sh)")
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def loaded(browser, tmp_path_factory):
    """A workspace report of 4 runs (run 1 has no log, run 2 no evaluation), opened once; what
    the browser logged while loading it; the run names. Tests leave the page as they found it."""
    ws = init_workspace(tmp_path_factory.mktemp("report") / "ws")
    names = make_runs(ws, 4)
    page = write_report(ws)
    browser.get_log("performance"), browser.get_log("browser")  # forget what came before
    open_page(browser, page)
    browser.orch_page = page
    return browser, {"requests": requests_made(browser), "errors": console_errors(browser)}, names


def requests_made(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def traces(driver, chart: str) -> list[dict]:
    """Name, visibility, point count and run of each trace of a chart, as plotly holds them."""
    return driver.execute_script(
        "return document.getElementById(arguments[0]).data.map(t => ({name: t.name, visible: t.visible, "
        "points: t.y ? t.y.length : 0, run: (t.meta || {}).run, group: (t.meta || {}).group, x: t.x ? t.x.length : 0}))",
        chart,
    )


def shown_names(driver, chart: str) -> set[str]:
    return {t["name"] for t in traces(driver, chart) if t["visible"] is True and t["group"] is None}


def wait_ready(driver) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))


def test_page_loads_offline_without_errors(loaded):
    _, logged, _ = loaded
    assert logged["errors"] == []
    urls = logged["requests"]
    assert urls and all(urlparse(url).scheme in LOCAL_SCHEMES for url in urls), urls
    assert any(url.endswith(".min.js") for url in urls)  # plotly.js, from the folder


def test_charts_have_stable_ids_and_traces_named_by_runs(loaded):
    browser, _, names = loaded
    for chart in CHART_IDS:
        assert browser.execute_script("return !!document.getElementById(arguments[0]).data", chart), chart
    logged = {n for i, n in enumerate(names) if i != 1}
    evaluated = {n for i, n in enumerate(names) if i != 2}
    assert shown_names(browser, "chart-loss") == logged
    assert shown_names(browser, "chart-lr") == logged
    assert shown_names(browser, "chart-region") == logged
    assert shown_names(browser, "chart-eval-map") == evaluated
    assert shown_names(browser, "chart-thresholds") == evaluated
    heatmaps = traces(browser, "chart-per-class")
    assert len(heatmaps) == 2 and all(t["x"] == len(evaluated) for t in heatmaps)  # one column per run


def test_deselecting_a_run_hides_it_everywhere(loaded):
    browser, _, names = loaded
    browser.find_element("css selector", f'tr[data-run="{names[0]}"] input[type=checkbox]').click()
    wait_ready(browser)
    for chart in ("chart-loss", "chart-lr", "chart-region", "chart-speed", "chart-eval-map", "chart-thresholds"):
        assert names[0] not in shown_names(browser, chart), chart
        assert names[3] in shown_names(browser, chart), chart
    assert all(t["x"] == 2 for t in traces(browser, "chart-per-class"))
    browser.find_element("css selector", "#select-all").click()
    wait_ready(browser)
    assert names[0] in shown_names(browser, "chart-loss")


def test_filter_sort_and_best_per_column(loaded):
    browser, _, names = loaded
    header = browser.find_element("css selector", 'th[data-key="map_iou"]')
    header.click()
    header.click()  # descending
    wait_ready(browser)
    rows = [r.get_attribute("data-run") for r in browser.find_elements("css selector", "#runs-table tbody tr")]
    assert rows[0] == names[0]  # the best mAP: quality falls with the seed
    best = browser.find_elements("css selector", f'tr[data-run="{names[0]}"] td.best[data-key="map_iou"]')
    assert len(best) == 1
    browser.find_element("css selector", "#filter").send_keys("giou")
    wait_ready(browser)
    rows = [r.get_attribute("data-run") for r in browser.find_elements("css selector", "#runs-table tbody tr")]
    assert rows and all("giou" in r for r in rows)
    assert shown_names(browser, "chart-loss") == {n for n in rows if n != names[1]}
    browser.find_element("css selector", "#filter").clear()
    browser.execute_script("document.getElementById('filter').dispatchEvent(new Event('input'))")
    wait_ready(browser)


def test_real_logs_of_three_forks(browser, tmp_path):
    logs = REFDATA / "logs"
    page = write_log_report(
        [
            str(logs / "alexeyab-tiny-yolov3-map-crlf.log"),
            str(logs / "pjreddie-yolov3-voc.log"),
            str(logs / "alexeyab-crash-before-training.log"),
        ],
        tmp_path / "out",
    )
    browser.get_log("browser")
    open_page(browser, page)
    assert console_errors(browser) == []
    (darknet_map,) = [t for t in traces(browser, "chart-darknet-map") if t["visible"] is True]
    assert darknet_map["name"] == "alexeyab-tiny-yolov3-map-crlf" and darknet_map["points"] == 91
    assert shown_names(browser, "chart-loss") == {"alexeyab-tiny-yolov3-map-crlf", "pjreddie-yolov3-voc"}
    crashed = browser.find_element("css selector", "#crashed").text
    assert "Darknet error location: ./src/parser.c, parse_yolo(), line #458" in crashed


def test_heatmap_classes_sorted_by_the_difference_of_two_runs(loaded):
    from selenium.webdriver.support.ui import Select
    from test_report import page_data

    browser, _, names = loaded
    a, b = names[0], names[3]
    open_page(browser, browser.orch_page)  # the log test before this one opened another page
    Select(browser.find_element("id", "run-a")).select_by_value(a)
    Select(browser.find_element("id", "run-b")).select_by_value(b)
    wait_ready(browser)
    assert (
        Select(browser.find_element("id", "class-order")).first_selected_option.get_attribute("value") == "difference"
    )
    shown = browser.execute_script("return document.getElementById('chart-per-class').data[0].y")
    table = page_data(browser.orch_page)["per_class"]
    values = table["values"]["iou"]
    difference = {c: values[a][i] - values[b][i] for i, c in enumerate(table["classes"])}
    assert shown == sorted(difference, key=lambda c: -difference[c])
    Select(browser.find_element("id", "class-order")).select_by_value("name")
    wait_ready(browser)
    assert browser.execute_script("return document.getElementById('chart-per-class').data[0].y") == table["classes"]
