"""An `orch eval` pass that records something rebuilds the report; one that records nothing
leaves it alone (real darknet on the session's trained weights)."""

from __future__ import annotations

import shutil

import pytest
from conftest import make_workspace

from orchestrator.cli import main
from orchestrator.executors import new_run
from orchestrator.runs import RunSpec


@pytest.mark.slow
def test_orch_eval_rebuilds_the_report_after_recording(tmp_path, trained_run):
    ws = make_workspace(tmp_path / "ws", n_train=4, n_valid=8)
    new_run(ws, "r1", RunSpec(template="tiny-shapes", dataset="shapes", max_batches=300, steps=[200, 250]))
    ws.backup_dir("r1").mkdir(parents=True)
    shutil.copy(trained_run / "tiny-shapes_200.weights", ws.backup_dir("r1") / "r1_200.weights")
    page = ws.root / "reports" / "index.html"
    assert main(["-C", str(ws.root), "eval", "--all"]) == 0
    assert page.is_file()
    assert len((page.parent / "r1" / "results.csv").read_text().splitlines()) == 2  # header + iteration 200
    built = page.stat().st_mtime_ns
    assert main(["-C", str(ws.root), "eval", "--all"]) == 0
    assert page.stat().st_mtime_ns == built
