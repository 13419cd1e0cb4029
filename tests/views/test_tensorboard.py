"""`orch export tensorboard`, read back with TensorBoard's own event reader."""

from __future__ import annotations

import json
import time

import pytest
from conftest import REFDATA
from synthetic import log_text, make_runs, quality, record

from orchestrator.cli import main
from orchestrator.views.tensorboard import export_logs, export_runs
from orchestrator.workspace import init_workspace


def read_back(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a run folder (all its event files) as (step, value), by tag."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_export_of_a_workspace_run(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    (name,) = make_runs(ws, 1)
    assert export_runs(ws, None, tmp_path / "tb")[0][0] == name
    scalars = read_back(tmp_path / "tb" / name)
    assert {"train/loss", "train/avg_loss", "train/lr", "darknet/map50"} - set(scalars) == {"darknet/map50"}
    assert {"train/region/iou", "train/region/giou", "train/region/obj", "train/region/count"} <= set(scalars)
    assert [s for s, _ in scalars["train/loss"]] == list(range(1, 2001))
    assert scalars["train/lr"][-1][1] == pytest.approx(0.0001)
    aps = {it: [max(0.0, quality(it, 2000, 0) - 0.06 * k) for k in range(10)] for it in range(200, 2001, 200)}
    mean = [(it, sum(ap) / 10) for it, ap in aps.items()]
    assert [s for s, _ in scalars["eval/iou/map"]] == [it for it, _ in mean]
    assert [v for _, v in scalars["eval/iou/map"]] == pytest.approx([v for _, v in mean], rel=1e-6)
    assert scalars["eval/giou/ap50"][-1] == (2000, pytest.approx(0.77))
    assert set(scalars) >= {f"eval/{m}/{k}" for m in ("iou", "giou") for k in ("map", "ap50", "ap75")}


def test_export_again_adds_only_new_points(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    (name,) = make_runs(ws, 1)
    out = tmp_path / "tb"
    first = export_runs(ws, None, out)[0][1]
    assert first > 2000 and export_runs(ws, None, out) == [(name, 0)]
    with open(ws.logs_dir(name) / "100.log", "a") as log:  # training went on: 2001..2010
        log.write("".join(line + "\n" for line in log_text(2010, 0).splitlines()[-4 * 10 :]))
    with open(ws.results_dir(name) / "metrics.jsonl", "a") as store:
        store.write(json.dumps(record(name, 2010, 0.9, 0)) + "\n")
    assert export_runs(ws, None, out)[0][1] > 0
    scalars = read_back(out / name)
    steps = [s for s, _ in scalars["train/loss"]]
    assert steps == list(range(1, 2011))  # each step once
    assert [s for s, _ in scalars["eval/iou/map"]][-1] == 2010 and len(scalars["eval/iou/map"]) == 11


def test_export_of_a_log_file_through_the_cli(tmp_path, capsys):
    log = REFDATA / "logs" / "alexeyab-yolov3-map-title-escapes.log"
    assert main(["export", "tensorboard", "--log", f"yolo={log}", "--out", str(tmp_path / "tb")]) == 0
    assert "tensorboard --logdir" in capsys.readouterr().out
    scalars = read_back(tmp_path / "tb" / "yolo")
    assert [v for _, v in scalars["darknet/map50"]] == pytest.approx([0.807477, 0.836247, 0.847292, 0.866229])
    assert len(scalars["train/avg_loss"]) == 2497  # iterations 703-705 are missing from the log
    assert export_logs([f"yolo={log}"], tmp_path / "tb") == [("yolo", 0)]


def test_two_exports_in_the_same_second_keep_both_event_files(tmp_path, monkeypatch):
    """tensorboardX names an event file after the second: the second export must not reopen
    (and empty) the first one's file."""
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    ws = init_workspace(tmp_path / "ws")
    (name,) = make_runs(ws, 1)
    out = tmp_path / "tb"
    export_runs(ws, None, out)
    with open(ws.results_dir(name) / "metrics.jsonl", "a") as store:
        store.write(json.dumps(record(name, 2010, 0.9, 0)) + "\n")
    assert export_runs(ws, None, out)[0][1] > 0
    assert len(list((out / name).glob("events.out.tfevents.*"))) == 2
    assert [s for s, _ in read_back(out / name)["train/loss"]] == list(range(1, 2001))
