"""`orch report`: the folder it writes, the data the page gets, the CSV tables, `--log` files.

Runs come from tests/views/synthetic.py (values follow known formulas) and from real logs in
tests/data/logs. What the page does with the data in a browser is in test_report_browser.py.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import REFDATA
from synthetic import make_runs, quality, record, write_manifest

from orchestrator.base.errors import OrchError
from orchestrator.cli import main
from orchestrator.logs import parse_paths
from orchestrator.views.report import refresh_after_pass, write_log_report, write_report
from orchestrator.views.report.data import FULL, class_map, gather, gather_logs, reduce
from orchestrator.views.report.figures import CHART_IDS
from orchestrator.workspace import init_workspace

LOGS = REFDATA / "logs"


def page_data(page) -> dict:
    """The JSON block the page's script reads."""
    text = page.read_text()
    match = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(match.group(1))


def trace_names(data: dict, chart: str) -> set[str]:
    return {t["name"] for t in data["figures"][chart]["data"] if "group" not in t.get("meta", {})}


def read_csv(path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


@pytest.fixture
def ws(tmp_path):
    return init_workspace(tmp_path / "ws")


@pytest.mark.parametrize("count", [0, 1, 12])
def test_report_folder_is_self_contained(ws, count):
    names = make_runs(ws, count)
    page = write_report(ws)
    folder = page.parent
    assert folder == ws.root / "reports"
    scripts = re.findall(r'<script src="([^"]+)"', page.read_text())
    assert len(scripts) == 1 and (folder / scripts[0]).stat().st_size > 1_000_000  # plotly.js, in the folder
    assert "http://" not in page.read_text().replace("http://www.w3.org", "")
    data = page_data(page)
    assert list(data["figures"]) == list(CHART_IDS)
    assert [row["run"] for row in data["rows"]] == sorted(names)
    logged = {n for i, n in enumerate(names) if i != 1}
    evaluated = {n for i, n in enumerate(names) if i != 2}
    assert trace_names(data, "chart-loss") == logged
    assert trace_names(data, "chart-eval-map") == evaluated
    assert trace_names(data, "chart-thresholds") == evaluated
    assert set(data["per_class"]["values"]["iou"]) == evaluated


def test_plotly_is_written_once(ws):
    make_runs(ws, 1)
    folder = write_report(ws).parent
    (script,) = folder.glob("plotly-*.min.js")
    before = script.stat().st_mtime_ns
    write_report(ws)
    assert script.stat().st_mtime_ns == before and len(list(folder.glob("*.js"))) == 1


def test_runs_table_and_csv(ws):
    names = make_runs(ws, 3)
    page = write_report(ws)
    rows = read_csv(page.parent / "runs.csv")
    assert [k for k in rows[0] if k != "iteration"] == [c["key"] for c in page_data(page)["columns"]]
    by_run = {row["run"]: row for row in rows}
    first = by_run[names[0]]
    assert first["state"] == "finished" and first["progress"] == "2000 / 2000"
    assert first["iou_loss"] == "mse" and first["gpus"] == "1" and first["cfg_lr"] == "0.001"
    assert float(first["map_iou"]) == pytest.approx(np.mean([quality(2000, 2000, 0) - 0.06 * k for k in range(10)]))
    assert float(first["ap50_iou"]) == pytest.approx(0.8) and float(first["ap75_iou"]) == pytest.approx(0.5)
    assert float(first["ap50_giou"]) == pytest.approx(0.77)
    assert first["iteration_iou"] == "2000" and first["weights_iou"].endswith(f"{names[0]}_2000.weights")
    assert by_run[names[1]]["state"] == "no log yet" and by_run[names[1]]["avg_loss"] == ""
    assert by_run[names[2]]["map_iou"] == ""  # not evaluated yet


def test_results_csv_equals_the_store_and_the_log(ws):
    (name,) = make_runs(ws, 1)
    folder = write_report(ws).parent
    rows = read_csv(folder / name / "results.csv")
    assert list(rows[0]) == [
        "iteration",
        "weights",
        "map_iou",
        "ap50_iou",
        "ap75_iou",
        "map_giou",
        "ap50_giou",
        "ap75_giou",
        "avg_loss",
    ]
    records = [json.loads(line) for line in (ws.results_dir(name) / "metrics.jsonl").read_text().splitlines()]
    ok = [r for r in records if r["status"] == "ok"]
    assert [int(r["iteration"]) for r in rows] == [r["iteration"] for r in ok]
    log = parse_paths([ws.logs_dir(name) / "100.log"])
    avg = dict(zip(log.series["iteration"], log.series["avg_loss"]))
    for row, rec in zip(rows, ok):
        for metric in ("iou", "giou"):
            block = rec["metrics"][metric]
            assert float(row[f"map_{metric}"]) == block["mean"]
            assert float(row[f"ap50_{metric}"]) == block["ap"][0]
            assert float(row[f"ap75_{metric}"]) == block["ap"][5]
        assert float(row["avg_loss"]) == pytest.approx(avg[rec["iteration"]], rel=1e-6)
    per_class = read_csv(folder / name / "per_class.csv")
    assert len(per_class) == 20 and list(per_class[0]) == ["class", "map_iou", "map_giou"]


def test_runs_without_manifest_and_unknown_runs(ws):
    make_runs(ws, 1)
    ws.logs_dir("loose-run").mkdir(parents=True)  # logs copied in, no run.yaml
    (ws.logs_dir("loose-run") / "1.log").write_text("1: 5.0, 5.0 avg, 0.001 rate, 1 seconds, 64 images\n")
    data = page_data(write_report(ws, ["voc-mse-00", "loose-run"]))
    loose = data["rows"][1]
    assert loose["run"] == "loose-run" and loose["template"] is None and loose["progress"] == "1"
    with pytest.raises(OrchError):
        write_report(ws, ["nope"])


def test_best_weights_are_those_orch_best_picks(ws):
    """Evaluations on two splits: the report shows the dataset's first split only (as `orch
    best` and `orch status`), and a re-evaluated weights file once, with its newest record."""
    config = ws.root / "orch.yaml"
    config.write_text(
        config.read_text().replace(
            "datasets: {}",
            "datasets:\n  voc:\n    train: t.txt\n    valid: {valid: v.txt, test: x.txt}\n"
            "    names: n.names\n    eval: voc",
        )
    )
    write_manifest(ws, "r", gpus=1, iou_loss="giou")
    records = [
        {**record("r", 200, 0.9, 0), "split": "test"},  # better, but another split
        record("r", 200, 0.2, 0),
        record("r", 400, 0.5, 0),
        record("r", 200, 0.6, 0),  # 200 re-evaluated: the newest counts
    ]
    ws.results_dir("r").mkdir(parents=True)
    (ws.results_dir("r") / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run,) = gather(ws, ["r"])
    assert run.split == "valid"
    assert [(c.iteration, c.values["iou"]["ap50"]) for c in run.checkpoints] == [(200, 0.6), (400, 0.5)]
    assert run.best("iou").iteration == 200


def test_per_class_cell_of_a_class_without_ground_truth_is_empty():
    assert math.isnan(class_map([-1.0] * 10)) and math.isnan(class_map(None))
    assert class_map([0.5, 0.7]) == pytest.approx(0.6)


def test_reduce_keeps_bucket_means_at_their_last_iteration():
    x = np.arange(1, 11)
    y = np.array([1, 3, np.nan, 5, 2, 2, 7, 9, 1, 1], dtype=float)
    curve = reduce(x, y, 5)
    assert curve.x.tolist() == [2, 4, 6, 8, 10] and curve.y.tolist() == [2, 5, 2, 8, 1]
    assert reduce(x, y, 20).x.size == 10


def test_repeated_parameters_get_a_mean_and_band(ws):
    make_runs(ws, 6)  # runs 0, 4 share parameters (mse, 1 GPU), as do 1 and 5, 2 and 6...
    data = page_data(write_report(ws))
    members = {tuple(g["members"]) for g in data["groups"]}
    assert ("voc-mse-00", "voc-mse-04") in members
    means = [t for t in data["figures"]["chart-eval-map"]["data"] if t["meta"].get("kind") == "mean"]
    assert means and all(t["visible"] is False for t in means)


# -- log files ------------------------------------------------------------------------------------
def test_log_report_of_real_logs(tmp_path):
    page = write_log_report(
        [str(LOGS / "alexeyab-yolov3-map-title-escapes.log"), f"crash={LOGS / 'alexeyab-crash-before-training.log'}"],
        tmp_path / "out",
    )
    data = page_data(page)
    assert [row["run"] for row in data["rows"]] == ["alexeyab-yolov3-map-title-escapes", "crash"]
    (darknet_map,) = data["figures"]["chart-darknet-map"]["data"]
    assert darknet_map["name"] == "alexeyab-yolov3-map-title-escapes"
    assert len(decode(darknet_map["y"])) == 4  # the log's four mAP@0.50 blocks
    assert decode(darknet_map["y"]) == pytest.approx([0.807477, 0.836247, 0.847292, 0.866229])
    shapes = data["figures"]["chart-loss"]["layout"]["shapes"]
    assert [(s["name"], s["x0"]) for s in shapes] == [("alexeyab-yolov3-map-title-escapes", 706)]  # 703–705 missing
    assert data["rows"][1]["state"] == "crashed"
    assert data["crashed"] == [
        {"run": "crash", "error": "Darknet error location: ./src/parser.c, parse_yolo(), line #458"}
    ]


def test_log_files_of_one_name_are_joined_across_a_restart(tmp_path):
    lines = (LOGS / "alexeyab-yolov3-map-title-escapes.log").read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if line.lstrip().startswith(b"1500:"))
    resume = next(i for i, line in enumerate(lines) if line.lstrip().startswith(b"1401:"))
    (tmp_path / "a.log").write_bytes(b"".join(lines[: cut + 1]))
    (tmp_path / "b.log").write_bytes(b"".join(lines[resume:]))  # the second job redid 1401..1500
    page = write_log_report([f"run={tmp_path / 'a.log'}", f"run={tmp_path / 'b.log'}"], tmp_path / "out")
    data = page_data(page)
    assert [row["run"] for row in data["rows"]] == ["run"] and data["rows"][0]["progress"] == "2500"
    restarts = [s["x0"] for s in data["figures"]["chart-loss"]["layout"]["shapes"] if s["line"]["dash"] == "solid"]
    assert restarts == [1401]
    avg = next(t for t in data["figures"]["chart-loss"]["data"] if t["meta"]["series"] == "avg_loss")
    assert (avg["x0"], avg["dx"], len(decode(avg["y"]))) == (3, 3, 834)  # 2500 iterations in bins of 3
    (run,) = gather_logs([f"run={tmp_path / 'a.log'}", f"run={tmp_path / 'b.log'}"], FULL)
    missing = {703, 704, 705}  # not in the log
    assert run.training.curves["avg_loss"].x.tolist() == [i for i in range(1, 2501) if i not in missing]


def test_cli_report_with_logs_and_names(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["report", "--log", f"mine={LOGS / 'alexeyab-crash-before-training.log'}", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out / "index.html")
    assert main(["report", "--log", str(tmp_path / "missing.log"), "--out", str(out)]) == 2


def test_names_cannot_break_out_of_the_page(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("1: 5.0, 5.0 avg, 0.001 rate, 1 seconds, 64 images\n")
    page = write_log_report([f"</script><b>x={log}"], tmp_path / "out")
    assert "</script><b>" not in page.read_text()
    assert page_data(page)["rows"][0]["run"] == "</script><b>x"


# -- kept current by evaluation passes -------------------------------------------------------------
def test_refresh_after_pass_follows_orch_yaml(ws):
    make_runs(ws, 1)
    assert refresh_after_pass(ws, recorded=0) is None and not (ws.root / "reports" / "index.html").exists()
    assert refresh_after_pass(ws, recorded=2) == ws.root / "reports" / "index.html"
    config = ws.root / "orch.yaml"
    config.write_text(
        config.read_text().replace("report: true", "report: false").replace("report_dir: reports", "report_dir: pages")
    )
    ws = type(ws).find(ws.root)
    assert refresh_after_pass(ws, recorded=2) is None
    assert write_report(ws) == ws.root / "pages" / "index.html"


def decode(value):
    """plotly's base64 array encoding back to a list."""
    import base64

    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).tolist()
    return value


def test_figures_are_valid_plotly_figures(ws):
    """The traces are written as plain dicts (fast); plotly's own validation accepts them."""
    import plotly.graph_objects as go

    make_runs(ws, 6)
    for chart, figure in page_data(write_report(ws))["figures"].items():
        assert go.Figure(figure).data is not None, chart


def test_log_specs_split_at_the_first_equals_sign(tmp_path):
    from orchestrator.views.report.data import split_log_spec

    odd = tmp_path / "a=b.log"
    odd.write_text("")
    assert split_log_spec(f"run={tmp_path}/x=y.log") == ("run", tmp_path / "x=y.log")
    assert split_log_spec(str(odd)) == ("a=b", odd)
    assert split_log_spec("logs/job.log") == ("job", Path("logs/job.log"))


def test_refresh_if_stale_follows_the_stores(ws):
    """Cluster evaluation tasks record without rebuilding; the next submit pass catches up."""
    import os

    from orchestrator.views.report import refresh_if_stale

    (name,) = make_runs(ws, 1)
    page = refresh_if_stale(ws)
    assert page == ws.root / "reports" / "index.html" and refresh_if_stale(ws) is None
    store = ws.results_dir(name) / "metrics.jsonl"
    earlier = store.stat().st_mtime - 60
    os.utime(page, (earlier, earlier))  # a task recorded after the page was built
    assert refresh_if_stale(ws) == page and refresh_if_stale(ws) is None
