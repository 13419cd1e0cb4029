"""Weights discovery rules: names, final, .backup, min id, settling, order, g-darknet."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import make_workspace

from orchestrator.evaluation.discovery import discover_weights, still_unchanged
from orchestrator.evaluation.passes import pending_targets
from orchestrator.evaluation.store import StoreIndex
from orchestrator.executors import new_run
from orchestrator.runs import RunSpec


@pytest.fixture
def run(tmp_path):
    ws = make_workspace(tmp_path / "ws", n_train=4, n_valid=4)
    manifest = new_run(
        ws, "r1", RunSpec(template="tiny-shapes", dataset="shapes", max_batches=300, steps=[200, 250])
    ).manifest
    ws.backup_dir("r1").mkdir(parents=True)
    return ws, manifest


def touch(path: Path, age: float = 1000.0, size: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - age
    os.utime(path, (then, then))


def names(found) -> list[str]:
    return [Path(w.path).name for w in found]


def test_newest_iteration_first_then_backfill_and_final_is_max_batches(run):
    ws, manifest = run
    for name in ("r1_100.weights", "r1_300.weights", "r1_200.weights"):
        touch(ws.backup_dir("r1") / name)
    touch(ws.backup_dir("r1") / "r1_final.weights", size=12)  # not the same model as r1_300
    found = discover_weights(ws, manifest)
    assert names(found) == ["r1_final.weights", "r1_300.weights", "r1_200.weights", "r1_100.weights"]
    assert [w.iteration for w in found] == [300, 300, 200, 100]
    assert found[0].final and found[0].label == "final" and found[1].label == "300"
    assert found[0].path == "backup/r1/r1_final.weights"


def test_backup_other_bases_and_other_names_are_ignored(run):
    ws, manifest = run
    for name in ("r1.backup", "other_100.weights", "r1_100.weights.tmp", "r1_x.weights", "r1_100.weights"):
        touch(ws.backup_dir("r1") / name)
    assert names(discover_weights(ws, manifest)) == ["r1_100.weights"]


def test_ids_below_min_weight_id_are_ignored(run):
    ws, manifest = run
    for n in (100, 200, 300):
        touch(ws.backup_dir("r1") / f"r1_{n}.weights")
    assert names(discover_weights(ws, manifest, min_weight_id=200)) == ["r1_300.weights", "r1_200.weights"]


def test_a_file_modified_within_settle_seconds_waits_for_the_next_pass(run):
    ws, manifest = run
    touch(ws.backup_dir("r1") / "r1_100.weights", age=1000)
    touch(ws.backup_dir("r1") / "r1_200.weights", age=5)
    assert names(discover_weights(ws, manifest, settle_seconds=60)) == ["r1_100.weights"]


def test_a_file_that_grew_since_discovery_is_not_unchanged(run):
    ws, manifest = run
    path = ws.backup_dir("r1") / "r1_100.weights"
    touch(path)
    [weights] = discover_weights(ws, manifest)
    assert still_unchanged(ws, weights)
    with open(path, "ab") as handle:
        handle.write(b"more")
    assert not still_unchanged(ws, weights)


def test_gdarknet_prefix_folder_is_searched(run):
    ws, manifest = run
    touch(ws.backup_dir("r1") / "r1" / "r1_100.weights")
    assert [w.path for w in discover_weights(ws, manifest)] == ["backup/r1/r1/r1_100.weights"]


def test_missing_backup_folder_means_nothing_to_do(run):
    ws, manifest = run
    ws.backup_dir("r1").rmdir()
    assert discover_weights(ws, manifest) == []


def test_pending_skips_evaluated_and_exhausted_files(run):
    ws, manifest = run
    for n in (100, 200, 300):
        touch(ws.backup_dir("r1") / f"r1_{n}.weights")
    w300, w200, w100 = discover_weights(ws, manifest)
    index = StoreIndex()
    index.done.add(("valid", *w300.key))
    index.failures[("valid", *w200.key)] = ws.config.eval.max_attempts
    index.failures[("valid", *w100.key)] = 1
    pending = pending_targets(ws, manifest, index)
    assert [(t.weights.iteration, t.attempt) for t in pending] == [(100, 2)]
    retried = pending_targets(ws, manifest, index, retry_failed=True)
    assert [t.weights.iteration for t in retried] == [200, 100]


def test_a_replaced_file_is_evaluated_again(run):
    ws, manifest = run
    path = ws.backup_dir("r1") / "r1_100.weights"
    touch(path, age=1000)
    [old] = discover_weights(ws, manifest)
    index = StoreIndex(done={("valid", *old.key)})
    touch(path, age=500, size=20)
    assert [t.weights.size for t in pending_targets(ws, manifest, index)] == [20]


def test_final_that_is_the_last_checkpoint_is_one_model_named_twice(run):
    ws, manifest = run
    backup = ws.backup_dir("r1")
    for name in ("r1_200.weights", "r1_300.weights", "r1_final.weights"):
        touch(backup / name, size=200_000)
    (found_300, found_200) = discover_weights(ws, manifest)
    assert (found_300.path, found_300.also) == ("backup/r1/r1_300.weights", ("backup/r1/r1_final.weights",))
    assert found_200.also == ()
    with open(backup / "r1_final.weights", "r+b") as handle:  # same size, other last layer
        handle.seek(199_999)
        handle.write(b"y")
    assert names(discover_weights(ws, manifest)) == ["r1_final.weights", "r1_300.weights", "r1_200.weights"]


def test_warmup_checkpoints_are_found_with_their_phase_before_the_run_continues(run):
    ws, manifest = run
    backup = ws.backup_dir("r1")
    touch(backup / "r1_300.weights")
    touch(backup / "warmup-r1_100.weights")
    touch(backup / "warmup-r1_final.weights", size=11)
    (ws.run_dir("r1") / "warmup-r1.cfg").write_text("[net]\nmax_batches=150\n")
    found = discover_weights(ws, manifest)
    assert [(Path(w.path).name, w.phase, w.iteration, w.label) for w in found] == [
        ("r1_300.weights", "train", 300, "300"),
        ("warmup-r1_final.weights", "warmup", 150, "warmup-final"),
        ("warmup-r1_100.weights", "warmup", 100, "warmup-100"),
    ]
