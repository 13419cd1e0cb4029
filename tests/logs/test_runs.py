"""A run's job logs merged in job order, cached under results/<run>/, and its progress."""

from __future__ import annotations

import os

import numpy as np

from orchestrator.logs import latest_rows, parse_run, run_log_files, run_progress
from orchestrator.workspace import init_workspace


def iteration_lines(iterations) -> bytes:
    return b"".join(b"%d: 2.0, %d.5 avg, 0.001 rate, 1.0 seconds, 64 images\n" % (i, i) for i in iterations)


def test_jobs_merged_in_mtime_order_with_restart_and_progress(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    logs = ws.logs_dir("r1")
    logs.mkdir(parents=True)
    (logs / "200.log").write_bytes(iteration_lines(range(1, 11)))
    (logs / "100.log").write_bytes(iteration_lines(range(8, 16)))  # resumed from iteration 8
    os.utime(logs / "200.log", (1_000, 1_000))
    os.utime(logs / "100.log", (2_000, 2_000))
    assert [p.name for p in run_log_files(ws, "r1")] == ["200.log", "100.log"]
    in_job_order = run_log_files(ws, "r1", ["100", "200"])
    assert [p.name for p in in_job_order] == ["100.log", "200.log"]
    log = parse_run(ws, "r1")
    assert log.iterations == 18
    assert log.restarts == [{"file": "100.log", "line": None, "iteration": 8, "previous": 10}]
    keep = latest_rows(log.series["iteration"])
    assert np.asarray(log.series["iteration"])[keep].tolist() == list(range(1, 16))
    assert run_progress(ws, "r1") == {
        "iteration": 15,
        "avg_loss": 15.5,
        "loss": 2.0,
        "rate": 0.001,
        "format": "pjreddie",
        "restarts": 1,
        "errors": 0,
    }
    assert sorted(p.name for p in (ws.results_dir("r1") / "logcache").iterdir()) == [
        "100.log.json",
        "100.log.json.columns",
        "200.log.json",
        "200.log.json.columns",
    ]  # no points file: these logs have no mAP points


def test_run_without_logs_has_no_progress(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    assert parse_run(ws, "r2") is None and run_progress(ws, "r2") is None
