"""End to end: a shortened `orch demo` trains two runs with the real darknet, evaluates every
checkpoint while they train, and writes the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchestrator.base.errors import OrchError
from orchestrator.cli import main
from orchestrator.demo import RUNS, run_demo
from orchestrator.evaluation import load_results


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    lines: list[str] = []
    result = run_demo(
        tmp_path_factory.mktemp("demo") / "demo",
        iterations=200,
        n_train=64,
        n_valid=16,
        out=lines.append,
        poll_seconds=1,
    )
    return result, lines


@pytest.mark.slow
def test_every_checkpoint_evaluated_once_with_both_metrics(demo):
    result, _ = demo
    for run in RUNS:
        weights = sorted(p.name for p in result.workspace.backup_dir(run).glob("*.weights"))
        assert weights == [f"{run}_100.weights", f"{run}_200.weights", f"{run}_final.weights"]
        records = load_results(result.workspace, run)
        # once each model: _final is the network of _200 (the last checkpoint), evaluated as that
        assert sorted(Path(r.weights).name for r in records) == weights[:2]
        assert {Path(name).name for r in records for name in r.also} == {f"{run}_final.weights"}
        assert all(r.status == "ok" and set(r.metrics) == {"iou", "giou"} for r in records)
        by_iteration = sorted(records, key=lambda r: (r.iteration, r.weights))
        first, last = by_iteration[0].metrics, by_iteration[-1].metrics
        for metric in ("iou", "giou"):
            assert last[metric].ap[0] > first[metric].ap[0], f"{run}: AP50 did not rise"


@pytest.mark.slow
def test_report_references_every_figure(demo):
    result, lines = demo
    html = (result.report / "index.html").read_text()
    assert "runs.csv" in html and all(run in html for run in RUNS)
    for run in RUNS:  # a header and one row per evaluated checkpoint: 100 and 200 (= _final)
        assert len((result.report / run / "results.csv").read_text().splitlines()) == 3
    assert lines[-2].startswith("\nreport: ") and "best AP50" in lines[-1]


@pytest.mark.slow
def test_progress_was_visible_and_status_shows_both_finished(demo, capsys):
    result, lines = demo
    assert any(re.search(r"shapes-lr1e-3 (RUNNING|running) \d+/200", line) for line in lines)
    assert any(line.startswith("  evaluated shapes-lr5e-4 iteration 100") for line in lines)
    assert main(["-C", str(result.workspace.root), "status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["run"]: row["state"] for row in rows} == {run: "COMPLETED" for run in RUNS}
    assert all(row["iteration"] == 200 and row["evaluated"] == 3 and row["pending"] == 0 for row in rows)


@pytest.mark.slow
def test_demo_refuses_to_replace_a_folder_it_did_not_make(tmp_path: Path, demo):
    (tmp_path / "precious.txt").write_text("keep")
    with pytest.raises(OrchError, match="not an orch demo workspace"):
        run_demo(tmp_path)
    with pytest.raises(OrchError, match="already there"):
        run_demo(demo[0].workspace.root)
    assert (tmp_path / "precious.txt").read_text() == "keep"
