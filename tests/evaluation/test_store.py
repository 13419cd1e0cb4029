"""The results store: complete-line appends, torn-line tolerant reads, the pass index, `best`."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import eval_record

from orchestrator.base.errors import OrchError
from orchestrator.evaluation.best import best_record, default_split
from orchestrator.evaluation.store import (
    EvalRecord,
    StoreIndex,
    append_record,
    load_results,
    record_identity,
    store_path,
)
from orchestrator.metrics.results import ClassAP, MetricResult
from orchestrator.workspace import Workspace, init_workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return init_workspace(tmp_path / "ws")


def record(iteration: int, status: str = "ok", mean: float = 0.5, split: str = "valid", classes: int = 3) -> EvalRecord:
    """A record whose class names contain the cut marker of record_identity."""
    metrics = {}
    if status == "ok":
        ap = tuple(mean + 0.01 * (9 - i) for i in range(10))
        per_class = tuple(ClassAP(c, f'class "{c}", "metrics": {{', (mean,) * 10) for c in range(classes))
        metrics = {"iou": MetricResult(ap, mean, per_class), "giou": MetricResult(ap, mean / 2, per_class)}
    return eval_record(
        iteration, status=status, split=split, size=100, mtime=1700000000.123456 + iteration, metrics=metrics
    )


def test_records_round_trip_in_file_order(ws):
    for n in (300, 100, 200):
        append_record(ws, "r1", record(n))
    assert [r.iteration for r in load_results(ws, "r1")] == [300, 100, 200]
    assert load_results(ws, "r1")[0] == record(300)
    line = store_path(ws, "r1").read_bytes().split(b"\n")[0]
    assert list(json.loads(line)) == [f.name for f in dataclasses.fields(EvalRecord)]  # the key order is the format


def without_per_class(record: EvalRecord) -> EvalRecord:
    metrics = {name: dataclasses.replace(block, per_class=()) for name, block in record.metrics.items()}
    return dataclasses.replace(record, metrics=metrics)


def test_summaries_are_the_records_without_per_class_aps(ws):
    """What status and `best` read: every field but the per-class APs, for new records, failed
    ones, a record of an older version (per-class as a mapping, fields missing) and one holding
    NaN (json.dumps writes it, msgspec refuses it: read the slow way)."""
    records = [
        record(100),
        record(200, status="failed"),
        dataclasses.replace(record(300), darknet_seconds=float("nan")),
    ]
    for one in records:
        append_record(ws, "r1", one)
    older = json.loads(json.dumps(record(400).to_json()))
    del older["phase"], older["attempt"], older["also"]
    older["metrics"]["iou"]["per_class"] = {"fire": [0.5] * 10}
    with open(store_path(ws, "r1"), "a") as handle:
        handle.write(json.dumps(older) + "\n")
    summaries, full = load_results(ws, "r1", per_class=False), load_results(ws, "r1")
    assert repr(summaries[:3]) == repr([without_per_class(r) for r in records])  # repr: NaN equals NaN
    assert summaries[3] == without_per_class(full[3]) and full[3].phase == "train" and full[3].attempt == 1


def test_a_failed_record_has_no_metrics_key(ws):
    append_record(ws, "r1", record(100, status="failed"))
    assert "metrics" not in json.loads(store_path(ws, "r1").read_text())
    assert load_results(ws, "r1") == [record(100, status="failed")]


def test_no_store_means_no_records(ws):
    assert load_results(ws, "r1") == []
    assert StoreIndex.load(ws, "r1").done == set()


def test_a_torn_last_line_is_skipped_with_a_warning_and_the_next_append_starts_a_new_line(ws, capsys):
    append_record(ws, "r1", record(100))
    with open(store_path(ws, "r1"), "a") as handle:
        handle.write(json.dumps(record(200).to_json())[:57])  # a writer killed mid-line
    assert [r.iteration for r in load_results(ws, "r1")] == [100]
    assert "torn last line" in capsys.readouterr().err
    append_record(ws, "r1", record(300))
    assert [r.iteration for r in load_results(ws, "r1")] == [100, 300]


def test_identity_without_parsing_metrics_matches_the_full_record(ws):
    line = json.dumps(record(100).to_json()).encode()  # class names containing the cut marker stay inside strings
    full = json.loads(line)
    identity = record_identity(line)
    assert "metrics" not in identity
    assert {k: full[k] for k in identity} == identity
    failed = json.dumps(record(200, status="failed").to_json()).encode()
    assert record_identity(failed)["status"] == "failed"


def test_index_counts_successes_and_failures_per_file_and_split(ws):
    append_record(ws, "r1", record(100))
    append_record(ws, "r1", record(200, status="failed"))
    append_record(ws, "r1", record(200, status="failed"))
    append_record(ws, "r1", record(100, split="minival"))
    index = StoreIndex.load(ws, "r1")
    key100 = ("valid", "backup/r1/r1_100.weights", 100, 1700000000.123456 + 100)
    key200 = ("valid", "backup/r1/r1_200.weights", 100, 1700000000.123456 + 200)
    assert index.is_done(key100) and index.is_done(("minival", *key100[1:]))
    assert not index.is_done(key200) and index.failed_attempts(key200) == 2


def test_best_takes_the_highest_measure_of_the_newest_record_per_file(ws):
    records = [
        record(100, mean=0.3),
        record(200, mean=0.6),
        record(300, mean=0.5),
        record(400, status="failed"),
        record(200, mean=0.1),
    ]  # 200 re-evaluated lower
    assert best_record(records, "iou", "mean", "valid").iteration == 300
    assert best_record(records, "iou", "ap75", "valid").iteration == 300
    with pytest.raises(OrchError):
        best_record(records, "iou", "mean", "minival")


def test_default_split_is_the_datasets_first_with_records():
    records = [record(100, split="val2017"), record(100, split="minival")]
    assert default_split(records, ["minival", "val2017"]) == "minival"
    assert default_split(records, ["test"]) == "val2017"


def test_best_before_any_successful_evaluation_is_a_one_line_error(shapes_ws, capsys):
    from orchestrator.cli import main
    from orchestrator.executors import new_run
    from orchestrator.runs import RunSpec

    new_run(shapes_ws, "r1", RunSpec(template="tiny-shapes", dataset="shapes"))
    assert main(["-C", str(shapes_ws.root), "best", "r1"]) == 2
    assert capsys.readouterr().err == (
        "orch: error: run r1 has no successful evaluation yet (run 'orch eval r1') (r1)\n"
    )
