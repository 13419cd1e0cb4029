"""`orch submit/status/cancel/resubmit` on the real single-node cluster of scripts/dev-slurm.sh,
training tiny-shapes with the real Debian darknet (batch 2: ~0.2 s per iteration).

Skipped only when `sinfo` is absent; `make test` starts the cluster first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import add_cluster_run as add_run
from waiting import wait_for

from orchestrator.cli import main
from orchestrator.executors import slurm
from orchestrator.executors.base import Job
from orchestrator.executors.render import sbatch_header
from orchestrator.executors.slurm import SlurmExecutor
from orchestrator.logs import parse_file
from orchestrator.runs import load_manifest
from orchestrator.views.status import collect_status
from orchestrator.workspace import Workspace

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sinfo") is None, reason="no Slurm (sinfo) on this machine"),
]

TIMEOUT = 180.0


def orch(ws: Workspace, *args: str) -> int:
    return main(["-C", str(ws.root), *args])


def iterations(log: Path) -> list[int]:
    return list(parse_file(log).series["iteration"])


def job_log(ws: Workspace, run: str, index: int = -1) -> Path:
    return ws.logs_dir(run) / f"{load_manifest(ws, run).submissions[index].job_id}.log"


def test_submit_pending_running_completed_with_weights(cluster_ws, monkeypatch):
    add_run(cluster_ws, "one", max_batches=20)
    add_run(cluster_ws, "other", max_batches=20)
    assert orch(cluster_ws, "submit", "one") == 0
    seen: list[str] = []

    def completed() -> bool:
        state = collect_status(cluster_ws, ["one"])[0]["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        return state == "COMPLETED"

    wait_for(completed, "the job to complete", TIMEOUT)
    assert seen[0] in ("PENDING", "RUNNING") and "RUNNING" in seen, seen
    assert set(seen) <= {"PENDING", "RUNNING", "COMPLETING", "COMPLETED"}, seen
    assert (cluster_ws.backup_dir("one") / "one_final.weights").is_file()

    calls: list[list[str]] = []
    monkeypatch.setattr(
        slurm,
        "run_command",
        lambda argv: calls.append(argv) or slurm.subprocess.run(argv, capture_output=True, text=True, check=False),
    )
    assert orch(cluster_ws, "submit", "other") == 0
    calls.clear()
    rows = {row["run"]: row for row in collect_status(cluster_ws, [])}
    assert [c[0] for c in calls].count("squeue") == 1
    assert rows["one"]["state"] == "COMPLETED" and rows["one"]["iteration"] == 20
    assert rows["one"]["newest_weights"] == "one_final.weights"
    assert rows["other"]["state"] in ("PENDING", "RUNNING")


def test_two_phase_run_resumes_the_warmup_after_it_ended(cluster_ws):
    add_run(cluster_ws, "multi", max_batches=20, gpus=2)
    assert orch(cluster_ws, "submit", "multi", "--warmup", "10") == 0
    warmup, train = load_manifest(cluster_ws, "multi").submissions
    assert (warmup.phase, train.phase, train.after) == ("warmup", "train", warmup.job_id)
    assert (warmup.script, warmup.warmup, warmup.gpus, train.gpus) == (
        "batch/multi.warmup.sbatch",
        10,
        1,
        2,
    )
    wait_for(
        lambda: collect_status(cluster_ws, ["multi"])[0]["state"] not in ("PENDING", "RUNNING") or None,
        "both phases to end",
        TIMEOUT,
    )
    row = collect_status(cluster_ws, ["multi"])[0]
    assert (row["phase"], row["state"]) == ("train", "COMPLETED")
    first, second = job_log(cluster_ws, "multi", 0), job_log(cluster_ws, "multi", 1)
    assert max(iterations(first)) == 10
    # CPU darknet counts `-gpus 0,1` as two batches per step: 12, 14, ... 20
    assert iterations(second)[0] == 12 and max(iterations(second)) == 20
    assert "starting from: backup/multi/warmup-multi_final.weights" in second.read_text()
    backup = cluster_ws.backup_dir("multi")
    assert (backup / "warmup-multi_final.weights").is_file() and (backup / "multi_final.weights").is_file()


def test_cancel_mid_run_then_resubmit_continues_from_backup(cluster_ws, capsys):
    add_run(cluster_ws, "long", max_batches=400)
    assert orch(cluster_ws, "submit", "long") == 0
    first = job_log(cluster_ws, "long")
    # iteration 102 is printed once the weights of 100 (.backup, then _100.weights) are written
    wait_for(lambda: first.is_file() and max(iterations(first), default=0) >= 102, "iteration 102", TIMEOUT)
    capsys.readouterr()
    assert orch(cluster_ws, "submit", "long") == 2  # a running run is not submitted twice
    assert "run long is already queued or running: slurm job" in capsys.readouterr().err
    assert len(load_manifest(cluster_ws, "long").submissions) == 1
    assert (cluster_ws.backup_dir("long") / "long.backup").is_file()
    assert orch(cluster_ws, "cancel", "long") == 0
    assert collect_status(cluster_ws, ["long"])[0]["state"] == "CANCELLED"
    cancelled_at = max(iterations(first))
    assert 100 <= cancelled_at < 200
    assert orch(cluster_ws, "resubmit", "long") == 0
    log = job_log(cluster_ws, "long")
    wait_for(lambda: log.is_file() and iterations(log), "the resumed job's first iteration", TIMEOUT)
    assert iterations(log)[0] == 101
    assert "starting from: backup/long/long" in log.read_text()


def test_gres_jobs_see_two_cuda_devices(cluster_ws, tmp_path):
    add_run(cluster_ws, "gpus", max_batches=20, gpus=2)
    header = sbatch_header(cluster_ws, load_manifest(cluster_ws, "gpus"), 2, "cuda-check")
    output = tmp_path / "cuda.out"
    script = tmp_path / "cuda.sbatch"
    header = [line for line in header if not line.startswith("#SBATCH --output")]
    script.write_text(
        "\n".join(
            ["#!/bin/bash", *header, f"#SBATCH --output={output}", 'echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"']
        )
        + "\n"
    )
    executor = SlurmExecutor(cluster_ws)
    records = executor.submit([Job("gpus", "check", script, 2)], chain=1)
    wait_for(lambda: not executor.states(records)[0].active, "the check job", TIMEOUT)
    ids = output.read_text().strip().split("=", 1)[1].split(",")
    assert len(ids) == 2 and len(set(ids)) == 2, output.read_text()


def test_broken_partition_is_one_clear_error_and_nothing_recorded(cluster_ws, capsys):
    config = yaml.safe_load((cluster_ws.root / "orch.yaml").read_text())
    config["slurm"]["partition"] = "no-such-partition"
    (cluster_ws.root / "orch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    ws = Workspace(cluster_ws.root)
    add_run(ws, "bad", max_batches=20)
    before = (ws.run_dir("bad") / "run.yaml").read_text()
    assert orch(ws, "submit", "bad") == 2
    err = capsys.readouterr().err
    assert err.startswith("orch: error: sbatch refused run bad (train): ") and err.count("\n") == 1
    assert "invalid partition" in err.lower()
    assert (ws.run_dir("bad") / "run.yaml").read_text() == before
