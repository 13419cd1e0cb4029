"""The Slurm executor and the submission logic against a scripted fake of the Slurm commands:
error texts, all-or-nothing chains, nothing recorded on failure, ONE squeue for all runs.
Happy paths (chains, the double-submission refusal) run on the real cluster: test_slurm_cluster.py."""

from __future__ import annotations

import pytest

from orchestrator.base.errors import OrchError
from orchestrator.cli import main
from orchestrator.executors import new_run, slurm, submit_run
from orchestrator.executors.base import Job, JobState
from orchestrator.executors.slurm import SlurmExecutor
from orchestrator.runs import JobRecord, RunSpec, load_manifest, save_manifest
from orchestrator.views.status import STATUS_KEYS, collect_status


def add_run(ws, name: str, gpus: int = 1) -> None:
    new_run(ws, name, RunSpec(template="tiny-shapes", dataset="shapes", gpus=gpus, max_batches=50, steps=[40, 45]))


def test_refused_sbatch_is_one_line_with_its_stderr_and_nothing_recorded(shapes_ws, fake, capsys):
    add_run(shapes_ws, "r")
    before = (shapes_ws.run_dir("r") / "run.yaml").read_text()
    fake.handlers["sbatch"] = lambda argv: (
        1,
        "",
        "sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed\n",
    )
    assert main(["-C", str(shapes_ws.root), "submit", "r", "--executor", "slurm"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid partition specified: nope" in err
    assert (shapes_ws.run_dir("r") / "run.yaml").read_text() == before


def test_a_chained_job_waits_for_success_and_dies_with_a_failed_predecessor(tmp_path):
    # the real chain (warm-up then train) runs on the cluster in test_slurm_cluster.py
    job = Job("multi", "train", tmp_path / "multi.sbatch", 2)
    assert slurm.sbatch_argv(job, "7") == [
        "sbatch",
        "--parsable",
        "--dependency=afterok:7",
        "--kill-on-invalid-dep=yes",
        str(job.script),
    ]
    assert slurm.sbatch_argv(job, None) == ["sbatch", "--parsable", str(job.script)]


def test_second_phase_refused_cancels_the_first(shapes_ws, fake):
    add_run(shapes_ws, "multi", gpus=2)
    answers = iter([(0, "7\n", ""), (1, "", "sbatch: error: Invalid generic resource (gres) specification\n")])
    fake.handlers["sbatch"] = lambda argv: next(answers)
    fake.handlers["scancel"] = lambda argv: (0, "", "")
    with pytest.raises(OrchError, match="Invalid generic resource"):
        submit_run(shapes_ws, "multi", SlurmExecutor(shapes_ws), warmup=10)
    assert ["scancel", "7"] in fake.calls
    assert load_manifest(shapes_ws, "multi").submissions == []


def test_status_asks_squeue_once_for_every_run_then_scontrol_for_the_rest(shapes_ws, fake):
    for index, name in enumerate(("a", "b", "c")):
        add_run(shapes_ws, name)
        manifest = load_manifest(shapes_ws, name)
        manifest.submissions = [JobRecord("slurm", "train", str(10 + index), chain=1)]
        save_manifest(shapes_ws, manifest)
    fake.handlers.update(
        squeue=lambda argv: (0, "10|RUNNING\n11|PENDING\n", ""),
        sacct=lambda argv: (1, "", "Slurm accounting storage is disabled\n"),
        scontrol=lambda argv: (0, f"JobId={argv[-1]} JobName=c JobState=TIMEOUT Reason=TimeLimit\n", ""),
    )
    rows = collect_status(shapes_ws, [])
    assert fake.count("squeue") == 1 and "10,11,12" in fake.calls[0]
    assert fake.count("scontrol") == 1 and fake.calls[-1][-1] == "12"
    assert [(r["run"], r["state"]) for r in rows] == [("a", "RUNNING"), ("b", "PENDING"), ("c", "FAILED (TIMEOUT)")]
    assert all(tuple(row) == STATUS_KEYS for row in rows)


def test_sacct_answers_when_accounting_exists(shapes_ws, fake):
    fake.handlers.update(
        squeue=lambda argv: (1, "", "slurm_load_jobs error: Invalid job id specified\n"),
        sacct=lambda argv: (0, "12|CANCELLED by 0\n", ""),
    )
    records = [JobRecord("slurm", "train", "12"), JobRecord("slurm", "train", "13")]
    states = SlurmExecutor(shapes_ws).states(records)
    assert [(s.state, s.raw) for s in states] == [("cancelled", "CANCELLED"), ("unknown", "ENDED")]
    assert fake.count("scontrol") == 0


def test_a_job_slurm_forgot_is_judged_by_the_cached_state_or_the_status_its_script_left(shapes_ws, fake):
    fake.handlers.update(
        squeue=lambda argv: (1, "", "slurm_load_jobs error: Invalid job id specified\n"),
        sacct=lambda argv: (1, "", "Slurm accounting storage is disabled\n"),
        scontrol=lambda argv: (1, "", "slurm_load_jobs error: Invalid job id specified\n"),
    )
    jobs = shapes_ws.jobs_dir()
    jobs.mkdir(parents=True)
    (jobs / "20.rc").write_text("0\n")
    (jobs / "21.rc").write_text("started\n")  # killed outright: no exit status written
    (jobs / "22.rc").write_text("143\n")
    (jobs / "23.state").write_text("TIMEOUT\n")  # seen by an earlier orch
    records = [JobRecord("slurm", "train", job) for job in ("20", "21", "22", "23")]
    raw = [s.raw for s in SlurmExecutor(shapes_ws).states(records)]
    assert raw == ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"]
    assert fake.count("scontrol") == 3  # 23 came from the cache
    assert (jobs / "20.state").read_text() == "COMPLETED\n"  # and is cached from now on
    fake.calls.clear()
    assert [s.raw for s in SlurmExecutor(shapes_ws).states(records)] == raw
    assert fake.count("scontrol") == 0 and fake.count("squeue") == 1


def test_status_without_slurm_installed(shapes_ws, fake, capsys):
    add_run(shapes_ws, "r")
    manifest = load_manifest(shapes_ws, "r")
    manifest.submissions = [JobRecord("slurm", "train", "5", chain=1)]
    save_manifest(shapes_ws, manifest)
    add_run(shapes_ws, "fresh")
    assert main(["-C", str(shapes_ws.root), "status"]) == 0
    out = capsys.readouterr().out
    assert "UNKNOWN" in out and "not submitted" in out


def test_dry_run_prints_both_scripts_and_submits_nothing(shapes_ws, fake, capsys):
    add_run(shapes_ws, "multi", gpus=2)
    assert (
        main(["-C", str(shapes_ws.root), "submit", "multi", "--executor", "slurm", "--warmup", "10", "--dry-run"]) == 0
    )
    out = capsys.readouterr().out
    assert "warmup-multi.cfg" in out and "-gpus 0,1" in out and "afterok:<job id of warmup>" in out
    assert fake.count("sbatch") == 0
    assert not (shapes_ws.root / "batch" / "multi.warmup.sbatch").exists()
    assert load_manifest(shapes_ws, "multi").submissions == []


def test_status_counts_evaluations_and_best_map_from_the_store(shapes_ws, fake):
    from conftest import eval_record, flat_metrics

    from orchestrator.evaluation.store import EvalRecord, append_record

    add_run(shapes_ws, "r")
    backup = shapes_ws.backup_dir("r")
    backup.mkdir(parents=True)
    for name in ("r_100.weights", "r_200.weights", "r_300.weights", "r.backup"):
        (backup / name).write_bytes(b"w" * 16)

    def record(name: str, status: str, iou: float = 0.0) -> EvalRecord:
        stat = (backup / name).stat()
        return eval_record(
            int(name[2:5]),
            run="r",
            status=status,
            weights=f"backup/r/{name}",
            size=stat.st_size,
            mtime=stat.st_mtime,
            metrics=flat_metrics(iou, iou / 2) if status == "ok" else {},
        )

    append_record(shapes_ws, "r", record("r_100.weights", "ok", 0.25))
    append_record(shapes_ws, "r", record("r_200.weights", "ok", 0.5))
    for _ in range(shapes_ws.config.eval.max_attempts):
        append_record(shapes_ws, "r", record("r_300.weights", "failed"))
    (row,) = collect_status(shapes_ws, ["r"])
    assert (row["evaluated"], row["pending"], row["failed"]) == (2, 0, 1)
    assert row["best"] == {"iou": 0.5, "giou": 0.25}
    assert row["state"] == "not submitted" and row["newest_weights"].endswith(".weights")


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("PENDING", "pending"),
        ("REQUEUED", "pending"),
        ("RUNNING", "running"),
        ("COMPLETING", "running"),
        ("COMPLETED", "completed"),
        ("CANCELLED", "cancelled"),
        ("TIMEOUT", "failed"),
        ("OUT_OF_MEMORY", "failed"),
        ("NODE_FAIL", "failed"),
        ("UNKNOWN", "unknown"),
    ],
)
def test_slurm_states_map_onto_orchs_small_set(raw, state):
    assert slurm.job_state(raw) == JobState(state, raw)
    assert slurm.job_state(raw).active == (state in ("pending", "running"))


def test_a_job_that_ended_without_a_trace_reads_the_same_in_status_and_in_the_report(shapes_ws, fake):
    """Slurm forgot the job and its script left no status: it never wrote its log, so both
    views call it CANCELLED (the report used to show Slurm's ENDED)."""
    from orchestrator.views.report.data import gather

    fake.handlers.update(
        squeue=lambda argv: (0, "", ""),
        sacct=lambda argv: (1, "", "Slurm accounting storage is disabled\n"),
        scontrol=lambda argv: (1, "", "slurm_load_jobs error: Invalid job id specified\n"),
    )
    add_run(shapes_ws, "gone")
    manifest = load_manifest(shapes_ws, "gone")
    manifest.submissions = [JobRecord("slurm", "train", "30", chain=1)]
    save_manifest(shapes_ws, manifest)
    (row,) = collect_status(shapes_ws, ["gone"])
    (report,) = gather(shapes_ws, ["gone"])
    assert (row["state"], report.job_state) == ("CANCELLED", "CANCELLED")
