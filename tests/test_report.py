"""`orch report` renders for 0, 1 and 12 runs from logs and metrics.jsonl records."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import yaml

from orchestrator.base.errors import OrchError
from orchestrator.views.report import RunData, gather, index_html, metrics_csv, moving_average, write_report
from orchestrator.workspace import init_workspace

CLASSES = [
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
]
THRESHOLDS = [round(0.5 + 0.05 * i, 2) for i in range(10)]


def write_manifest(ws, name: str, gpus: int, iou_loss: str) -> None:
    manifest = {
        "name": name,
        "template": "yolov3-voc",
        "dataset": "voc",
        "flavor": "g-darknet",
        "gpus": gpus,
        "params": {"iou_loss": iou_loss, "iou_normalizer": 0.5, "cls_normalizer": 1.0, "max_batches": 2000},
        "scaling": {
            "rule": "seed",
            "gpus": gpus,
            "base_learning_rate": 0.001,
            "base_burn_in": 1000,
            "cfg_learning_rate": 0.001 / gpus,
            "cfg_burn_in": 1000 * gpus,
        },
        "files": {},
        "created": "2026-01-01T00:00:00",
        "classes": 20,
        "max_batches": 2000,
        "submissions": [{"job_id": 100, "phase": "1"}],
    }
    ws.run_dir(name).mkdir(parents=True, exist_ok=True)
    (ws.run_dir(name) / "run.yaml").write_text(yaml.safe_dump(manifest))


def write_log(ws, name: str, iterations: int, seed: int) -> None:
    rng = random.Random(seed)
    lines, avg = [], None
    for i in range(1, iterations + 1):
        for layer in (82, 94, 106):
            iou = min(0.95, 0.2 + i / 3000 + rng.uniform(-0.1, 0.1))
            lines.append(
                f"v3 (giou loss, Normalizer: (iou: 0.5, cls: 1.0) Region {layer} Avg "
                f"(IOU: {iou:.6f}, GIOU: {iou - 0.05:.6f}), Class: 0.5, Obj: 0.5, "
                f"No Obj: 0.01, .5R: 0.5, .75R: 0.1, count: 4"
            )
        loss = 1000 * math.exp(-i / (60 + seed * 10)) + 1 + rng.uniform(0, 1.5)
        avg = loss if avg is None else 0.9 * avg + 0.1 * loss
        rate = 0.001 * min(1.0, (i / 1000) ** 4) * (0.1 if i > 1600 else 1)
        lines.append(f"{i}: {loss:.6f}, {avg:.6f} avg, {rate:.6f} rate, 1.0 seconds, {64 * i} images")
    ws.logs_dir(name).mkdir(parents=True, exist_ok=True)
    (ws.logs_dir(name) / "100.log").write_text("\n".join(lines) + "\n")


def record(name: str, iteration: int, quality: float, seed: int) -> dict:
    rng = random.Random(seed * 1000 + iteration)
    metrics = {}
    for metric, offset in (("iou", 0.0), ("giou", -0.03)):
        ap = [max(0.0, quality + offset - 0.06 * k) for k in range(10)]
        metrics[metric] = {
            "ap": ap,
            "mean": sum(ap) / 10,
            "per_class": {c: [max(0.0, a + rng.uniform(-0.2, 0.1)) for a in ap] for c in CLASSES},
        }
    return {
        "run": name,
        "split": "valid",
        "weights": f"backup/{name}/{name}_{iteration}.weights",
        "size": 1,
        "mtime": 1.7e9,
        "iteration": iteration,
        "style": "voc",
        "ap_method": "11point",
        "status": "ok",
        "thresholds": THRESHOLDS,
        "metrics": metrics,
        "darknet_seconds": 1.0,
        "metric_seconds": 0.1,
        "flavor": "g-darknet",
        "orch_version": "0.1.0",
        "timestamp": "2026-01-01T00:00:00",
        "attempt": 1,
        "error": None,
        "log_tail": None,
    }


def write_metrics(ws, name: str, seed: int) -> None:
    records = [record(name, it, 0.5 + 0.3 * it / 2000 - 0.02 * seed, seed) for it in range(200, 2001, 200)]
    records.append({**record(name, 2100, 0, seed), "status": "failed", "metrics": None, "error": "darknet crashed"})
    ws.results_dir(name).mkdir(parents=True, exist_ok=True)
    (ws.results_dir(name) / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def make_runs(ws, count: int) -> list[str]:
    names = [f"voc-{'giou' if i % 2 else 'mse'}-{i:02d}" for i in range(count)]
    for i, name in enumerate(names):
        write_manifest(ws, name, gpus=1 + i % 4, iou_loss="giou" if i % 2 else "mse")
        if i != 1:  # run 1 has no log yet
            write_log(ws, name, iterations=2000, seed=i)
        if i != 2:  # run 2 has no evaluation yet
            write_metrics(ws, name, seed=i)
    return names


@pytest.mark.parametrize("count", [0, 1, 12])
def test_report_renders(tmp_path, count):
    ws = init_workspace(tmp_path / "ws")
    names = make_runs(ws, count)
    out = write_report(ws)
    for figure in ("loss.png", "map.png", "thresholds.png", "per_class.png", "region.png", "lr.png"):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
    page = (out / "index.html").read_text()
    assert all(f"<td>{name}</td>" in page for name in names)
    if count:
        assert "Threshold: 0.50 | mAP (IoU): 0.800 | mAP (GIoU): 0.770" in page
        assert (
            (out / f"{names[0]}.series.csv").read_text().startswith("iteration,loss,avg_loss,rate,seconds,images\n1,")
        )


def test_state_best_weights_and_runs_without_manifest(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    make_runs(ws, 3)
    ws.logs_dir("loose-run").mkdir(parents=True)  # logs copied in, no run.yaml
    (ws.logs_dir("loose-run") / "1.log").write_text("1: 5.0, 5.0 avg, 0.001 rate, 1 seconds, 64 images\n")
    page = (write_report(ws, ["voc-mse-00", "voc-giou-01", "loose-run"]) / "index.html").read_text()
    assert "<td>finished</td>" in page and "<td>no log yet</td>" in page
    assert "<td>loose-run</td><td></td>" in page and "<td>training</td>" in page
    assert "<td>2000: 0.530 / 0.800 / 0.500</td>" in page  # best IoU weights of run 0


def test_run_names_are_escaped():
    page = index_html([RunData("a<b&c", color=(0, 0, 0, 1))], window=1, since=0)
    assert "<td>a&lt;b&amp;c</td>" in page and "a<b" not in page


def test_unknown_run_is_refused(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    with pytest.raises(OrchError):
        write_report(ws, ["nope"])


def test_metrics_csv_long_format(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    make_runs(ws, 1)
    rows = metrics_csv(gather(ws, None)).splitlines()
    assert rows[0] == "run,split,iteration,weights,style,ap_method,status,metric,threshold,ap"
    assert len(rows) == 1 + 10 * 2 * 11 + 1  # 10 records x 2 metrics x (10 + mean), 1 failed
    assert rows[-1].endswith(",failed,,,")


def test_moving_average_skips_nan():
    values = np.array([1.0, np.nan, 3.0, 5.0])
    assert moving_average(values, 2).tolist() == [1.0, 1.0, 3.0, 4.0]


def test_best_weights_are_those_orch_best_picks(tmp_path):
    """Evaluations on two splits: the report shows the dataset's first split only (as `orch
    best` and `orch status`), and a re-evaluated weights file once, with its newest record."""
    ws = init_workspace(tmp_path / "ws")
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
        record("r", 200, 0.6, 0),
    ]  # 200 re-evaluated: newest counts
    ws.results_dir("r").mkdir(parents=True)
    (ws.results_dir("r") / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run,) = gather(ws, ["r"])
    assert run.split == "valid"
    assert [(r["iteration"], r["metrics"]["iou"]["ap"][0]) for r in run.evaluated] == [(200, 0.6), (400, 0.5)]
    assert run.best("iou")["iteration"] == 200 and run.best("iou")["split"] == "valid"


def test_per_class_cell_of_a_class_without_ground_truth_is_empty():
    from orchestrator.views.report import class_map

    assert math.isnan(class_map([-1.0] * 10)) and math.isnan(class_map(None))
    assert class_map([0.5, 0.7]) == pytest.approx(0.6)
