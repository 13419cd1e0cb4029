"""The local executor with tiny scripts (exit codes, chains, cancel, pid reuse), the phase plan,
and the executor choice. The real-darknet local run is at the end (slow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from waiting import wait_for

from orchestrator.base.errors import OrchError
from orchestrator.darknet.cfg import basecfg, parse_cfg
from orchestrator.executors import executor_name, new_run, plan_run, submit_run
from orchestrator.executors.base import CANCELLED, COMPLETED, FAILED, Job, JobState
from orchestrator.executors.local import LocalExecutor, is_our_process
from orchestrator.executors.submission import submit_lock
from orchestrator.runs import JobRecord, RunSpec, load_manifest, save_manifest
from orchestrator.views.status import collect_status

FINISHED_WITHIN = 30.0


def add_run(ws, name: str, gpus: int = 1, **spec) -> None:
    settings = {"max_batches": 50, "steps": [40, 45], **spec}
    new_run(ws, name, RunSpec(template="tiny-shapes", dataset="shapes", gpus=gpus, **settings))


def script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/bash\n{body}\n")
    return path


def settled_states(executor: LocalExecutor, records: list[JobRecord]) -> list[JobState]:
    def ended() -> list[JobState] | None:
        states = executor.states(records)
        return states if not any(s.active for s in states) else None

    return wait_for(ended, "the chain to end", FINISHED_WITHIN)


def test_chain_runs_in_order_and_records_exit_codes(shapes_ws, tmp_path):
    add_run(shapes_ws, "r")
    executor = LocalExecutor(shapes_ws)
    ok = script(tmp_path, "ok.sh", "echo first")
    failing = script(tmp_path, "fail.sh", "echo second; exit 3")
    never = script(tmp_path, "never.sh", "echo third")
    records = executor.submit([Job("r", "a", ok, 1), Job("r", "b", failing, 1), Job("r", "c", never, 1)], chain=1)
    assert [r.job_id for r in records] == ["1", "2", "3"]
    assert len({r.pid for r in records}) == 1
    assert settled_states(executor, records) == [
        JobState(COMPLETED, "exited(0)"),
        JobState(FAILED, "exited(3)"),
        JobState(CANCELLED, "never started"),
    ]
    assert (shapes_ws.root / str(records[1].log)).read_text() == "second\n"


def test_cancel_kills_the_process_group(shapes_ws, tmp_path):
    add_run(shapes_ws, "r")
    executor = LocalExecutor(shapes_ws)
    marker = tmp_path / "child.pid"
    sleeper = script(tmp_path, "sleep.sh", f"sleep 60 & echo $! > {marker}; wait")
    records = executor.submit([Job("r", "train", sleeper, 1), Job("r", "next", sleeper, 1)], chain=1)
    wait_for(
        lambda: executor.states(records)[0].raw == "running" and marker.exists(), "the job to start", FINISHED_WITHIN
    )
    assert executor.states(records)[1].raw == "pending" and all(s.active for s in executor.states(records))
    executor.cancel(records)
    assert executor.states(records) == [JobState(CANCELLED, "exited(143)"), JobState(CANCELLED, "never started")]
    child = int(marker.read_text())
    wait_for(
        lambda: not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2],
        "the grandchild to die with its group",
        FINISHED_WITHIN,
    )


def test_local_job_numbers_of_different_runs_do_not_mix_in_status(shapes_ws, tmp_path):
    for name, body in (("a", "exit 0"), ("b", "exit 5")):
        add_run(shapes_ws, name)
        job = script(tmp_path, f"{name}.sh", body)
        executor = LocalExecutor(shapes_ws)
        records = executor.submit([Job(name, "train", job, 1)], chain=1)
        settled_states(executor, records)
        manifest = load_manifest(shapes_ws, name)
        manifest.submissions = records
        save_manifest(shapes_ws, manifest)
    rows = collect_status(shapes_ws, ["a", "b"])
    assert [(r["job_id"], r["state"]) for r in rows] == [("1", "COMPLETED"), ("1", "FAILED (exited(5))")]


def test_a_reused_pid_is_not_our_job():
    record = JobRecord("local", "train", "1", pid=os.getpid(), pid_start=1)
    assert not is_our_process(record)
    record.pid_start = int(Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19])
    assert is_our_process(record)


def test_job_numbers_continue_after_earlier_submissions(shapes_ws, tmp_path):
    add_run(shapes_ws, "r")
    quick = script(tmp_path, "quick.sh", "true")
    first = submit_run(shapes_ws, "r", LocalExecutor(shapes_ws))  # the real script; cancelled at once
    LocalExecutor(shapes_ws).cancel(first)
    second = LocalExecutor(shapes_ws).submit([Job("r", "x", quick, 1)], chain=2)
    assert second[0].job_id == "2"
    assert second[0].log == "logs/r/local-2.log"


def test_a_run_another_orch_is_submitting_is_refused_and_nothing_started(shapes_ws):
    add_run(shapes_ws, "r")
    with submit_lock(shapes_ws, "r"), pytest.raises(OrchError, match="another orch is submitting run r"):
        submit_run(shapes_ws, "r", LocalExecutor(shapes_ws))
    assert load_manifest(shapes_ws, "r").submissions == [] and not shapes_ws.logs_dir("r").exists()


def test_plan_single_gpu_is_one_job(shapes_ws):
    add_run(shapes_ws, "one")
    plan = plan_run(shapes_ws, load_manifest(shapes_ws, "one"), warmup=10)
    assert [j.phase for j in plan.jobs] == ["train"] and plan.files == {}


def test_plan_multi_gpu_warmup_cfg_and_distinct_weights_names(shapes_ws):
    add_run(shapes_ws, "m.v2", gpus=4)
    manifest = load_manifest(shapes_ws, "m.v2")
    plan = plan_run(shapes_ws, manifest, warmup=20)
    assert [(j.phase, j.gpus) for j in plan.jobs] == [("warmup", 1), ("train", 4)]
    cfg_path, script_path = plan.files
    net = parse_cfg(plan.files[cfg_path]).net
    assert (net.get("learning_rate"), net.get("burn_in"), net.get("max_batches")) == ("0.001", "100", "20")
    assert basecfg(cfg_path) != manifest.files["weights_base"]
    assert "-gpus 0\n" in plan.files[script_path] and "--gres=gpu:1" in plan.files[script_path]


def test_plan_after_warmup_or_with_weights_is_one_job(shapes_ws):
    add_run(shapes_ws, "m", gpus=2)
    manifest = load_manifest(shapes_ws, "m")
    backup = shapes_ws.backup_dir("m")
    backup.mkdir(parents=True)
    (backup / "warmup-m.backup").write_bytes(b"")  # an interrupted warm-up is redone
    assert len(plan_run(shapes_ws, manifest, warmup=10).jobs) == 2
    (backup / "warmup-m_final.weights").write_bytes(b"")
    assert [j.phase for j in plan_run(shapes_ws, manifest, warmup=10).jobs] == ["train"]


def test_plan_refuses_a_warmup_as_long_as_the_run(shapes_ws):
    add_run(shapes_ws, "m", gpus=2)
    with pytest.raises(OrchError, match="below max_batches"):
        plan_run(shapes_ws, load_manifest(shapes_ws, "m"), warmup=50)
    assert len(plan_run(shapes_ws, load_manifest(shapes_ws, "m"), warmup=0).jobs) == 1


def test_auto_executor_is_local_without_sbatch(shapes_ws, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert executor_name(shapes_ws) == "local"
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    assert executor_name(shapes_ws) == "slurm"
    assert executor_name(shapes_ws, "local") == "local"
    assert executor_name(shapes_ws, None, previous="local") == "local"


@pytest.mark.slow
def test_local_executor_trains_a_run_with_darknet(shapes_ws):
    add_run(shapes_ws, "tiny", max_batches=20, steps=[10, 15], batch=2)
    records = submit_run(shapes_ws, "tiny", LocalExecutor(shapes_ws))

    def finished() -> dict | None:
        row = collect_status(shapes_ws, ["tiny"])[0]
        return row if row["state"] not in ("PENDING", "RUNNING") else None

    status = wait_for(finished, "darknet to finish", 120)
    assert status["state"] == "COMPLETED", (shapes_ws.root / str(records[0].log)).read_text()[-2000:]
    assert (status["executor"], status["iteration"], status["newest_weights"]) == ("local", 20, "tiny_final.weights")
    assert (shapes_ws.backup_dir("tiny") / "tiny_final.weights").is_file()
