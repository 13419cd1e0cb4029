"""Evaluation as Slurm jobs (`orch eval --submit`, the evaluation `orch submit` queues) on the real
single-node cluster of scripts/dev-slurm.sh: fake GPUs, the real darknet, the session's trained
weights (conftest.trained_run) copied into the runs instead of training again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import add_cluster_run
from waiting import wait_for

from orchestrator.cli import main
from orchestrator.evaluation.cluster import load_ledger, open_submissions
from orchestrator.evaluation.store import EvalRecord, load_results
from orchestrator.executors.slurm import SlurmExecutor
from orchestrator.views.status import collect_status
from orchestrator.workspace import Workspace

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sinfo") is None, reason="no Slurm (sinfo) on this machine"),
]

TIMEOUT = 300.0
ARRAY_TASK = re.compile(r"\d+_\d+")


def with_weights(ws: Workspace, run: str, trained: Path, iterations=(100, 200, 300)) -> list[str]:
    """A run holding copies of the session's real checkpoints under its own weights names."""
    add_cluster_run(ws, run, max_batches=300)
    backup = ws.backup_dir(run)
    backup.mkdir(parents=True, exist_ok=True)
    for n in iterations:
        shutil.copy2(trained / f"tiny-shapes_{n}.weights", backup / f"{run}_{n}.weights")
    return [f"backup/{run}/{run}_{n}.weights" for n in iterations]


def set_eval(ws: Workspace, **slurm) -> Workspace:
    config = yaml.safe_load((ws.root / "orch.yaml").read_text())
    config["eval"]["slurm"].update(slurm)
    (ws.root / "orch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Workspace(ws.root)


def orch_process(ws: Workspace, *args: str) -> subprocess.Popen:
    """orch in its own process, from a shell without GPUs (no CUDA_VISIBLE_DEVICES)."""
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "-C", str(ws.root), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def submit_json(ws: Workspace, *runs: str, expect: int = 0) -> dict:
    process = orch_process(ws, "eval", *(runs or ("--all",)), "--submit", "--json")
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == expect, err
    return json.loads(out)


def drained(ws: Workspace) -> None:
    """Wait until no evaluation job of the workspace is queued or running any more."""
    runs = ws.run_names()

    def idle() -> bool:
        jobs = [e.job for run in runs for e in open_submissions(ws, run)]
        return SlurmExecutor(ws).queued(jobs) == {}

    wait_for(idle, "the evaluation jobs to end", TIMEOUT, every=0.5)


def ok_records(ws: Workspace, run: str) -> dict[str, EvalRecord]:
    records = [r for r in load_results(ws, run) if r.ok]
    assert len({r.weights for r in records}) == len(records), "a weights file was evaluated twice"
    return {r.weights: r for r in records}


def test_two_submitters_at_once_evaluate_every_checkpoint_once_in_array_tasks(cluster_ws, trained_run):
    expected = {run: with_weights(cluster_ws, run, trained_run) for run in ("a", "b")}
    both = [orch_process(cluster_ws, "eval", "--all", "--submit", "--json") for _ in range(2)]
    outputs = []
    for process in both:
        out, err = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, err
        outputs.append(json.loads(out))
    submitted = [entry for output in outputs for entry in output["submitted"]]
    assert sorted((e["run"], e["weights"]) for e in submitted) == sorted(
        (run, weights) for run, names in expected.items() for weights in names
    )
    rows = {row["run"]: row for row in collect_status(cluster_ws, [])}
    assert sum(sum(row["eval_jobs"].values()) for row in rows.values()) in range(1, 7)  # ended ones are not counted
    drained(cluster_ws)
    assert submit_json(cluster_ws) == {"submitted": [], "in_flight": 0}

    jobs = {(e["run"], e["weights"]): e["job"] for e in submitted}
    for run, names in expected.items():
        records = ok_records(cluster_ws, run)
        assert sorted(records) == sorted(names)
        for weights, record in records.items():
            assert record.job == {"executor": "slurm", "id": jobs[(run, weights)]}
            assert ARRAY_TASK.fullmatch(record.job["id"])
        assert all(entry.state == "COMPLETED" for entry in load_ledger(cluster_ws, run))
    assert len(set(jobs.values())) == 6
    logs = sorted((cluster_ws.root / "logs" / "eval").glob("*.log"))
    assert len(logs) == 6 and all("on GPU" in log.read_text() for log in logs)


def test_a_task_cancelled_while_pending_is_a_recorded_failure_then_evaluated(cluster_ws, trained_run):
    ws = set_eval(cluster_ws, max_parallel=1)  # tasks after the first wait in the queue
    names = with_weights(ws, "c", trained_run)
    first = submit_json(ws, "c")["submitted"]
    last = first[-1]
    slurm = SlurmExecutor(ws)
    assert slurm.queued([last["job"]]) == {last["job"]: "PENDING"}
    assert subprocess.run(["scancel", last["job"]], check=False).returncode == 0
    drained(ws)

    second = submit_json(ws, "c", expect=3)  # exit 3: the pass learnt of a failed evaluation
    (failure,) = [r for r in load_results(ws, "c") if r.status == "failed"]
    assert (failure.weights, failure.job["id"], failure.job["state"]) == (
        last["weights"],
        last["job"],
        "CANCELLED",
    )
    assert failure.attempt == 1 and "ended without a record" in failure.error
    assert [e["weights"] for e in second["submitted"]] == [last["weights"]]
    assert second["submitted"][0]["job"] != last["job"]
    drained(ws)
    assert submit_json(ws, "c") == {"submitted": [], "in_flight": 0}
    records = ok_records(ws, "c")
    assert sorted(records) == sorted(names)
    assert records[last["weights"]].job["id"] == second["submitted"][0]["job"]
    assert records[last["weights"]].attempt == 2


def test_orch_submit_alone_ends_with_the_final_weights_and_the_warmup_evaluated(cluster_ws, capsys):
    add_cluster_run(cluster_ws, "multi", max_batches=20, gpus=2)
    assert main(["-C", str(cluster_ws.root), "submit", "multi", "--warmup", "10", "--json"]) == 0
    warmup, train, evaluation = json.loads(capsys.readouterr().out)
    assert (warmup["phase"], train["phase"], evaluation["phase"]) == ("warmup", "train", "eval")
    (row,) = collect_status(cluster_ws, ["multi"])
    assert row["eval_jobs"] == {"pending": 1, "running": 0}

    def final_record() -> EvalRecord | None:
        done = [r for r in load_results(cluster_ws, "multi") if r.job["id"] == evaluation["job_id"]]
        return done[0] if done else None

    record = wait_for(final_record, "the evaluation queued by orch submit", TIMEOUT, every=1.0)
    assert (record.status, record.weights, record.phase) == ("ok", "backup/multi/multi_final.weights", "train")
    assert record.iteration == 20

    drained(cluster_ws)
    submitted = submit_json(cluster_ws, "multi")["submitted"]
    assert [e["weights"] for e in submitted] == ["backup/multi/warmup-multi_final.weights"]
    drained(cluster_ws)
    submit_json(cluster_ws, "multi")
    warm = ok_records(cluster_ws, "multi")["backup/multi/warmup-multi_final.weights"]
    assert (warm.phase, warm.iteration) == ("warmup", 10)
    (row,) = collect_status(cluster_ws, ["multi"])
    assert (row["state"], row["evaluated"], row["eval_jobs"]) == ("COMPLETED", 2, {"pending": 0, "running": 0})


def test_cancel_takes_the_evaluation_jobs_along_unless_kept(cluster_ws, capsys):
    for run in ("kept", "gone"):
        add_cluster_run(cluster_ws, run, max_batches=400)
        assert main(["-C", str(cluster_ws.root), "submit", run]) == 0
    capsys.readouterr()
    assert main(["-C", str(cluster_ws.root), "cancel", "kept", "--keep-eval"]) == 0
    assert "(eval)" not in capsys.readouterr().out
    (kept,) = load_ledger(cluster_ws, "kept")
    assert SlurmExecutor(cluster_ws).states([kept.record()])[0].active  # still queued after its training
    assert main(["-C", str(cluster_ws.root), "cancel", "gone", "--json"]) == 0
    cancelled = json.loads(capsys.readouterr().out)
    assert [job["phase"] for job in cancelled] == ["train", "eval"]
    (evaluation,) = load_ledger(cluster_ws, "gone")
    slurm = SlurmExecutor(cluster_ws)
    state = wait_for(lambda: next((s for s in slurm.states([evaluation.record()]) if not s.active), None), "", 30)
    assert state.raw == "CANCELLED"
