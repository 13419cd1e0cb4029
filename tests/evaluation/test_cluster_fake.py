"""`orch eval --submit` against a scripted Slurm: the faults the real cluster cannot be made to show
(squeue failing), the config and the rendered job. The real jobs run in test_cluster_slurm.py."""

from __future__ import annotations

import json

import pytest
import yaml

from orchestrator.base.errors import OrchError
from orchestrator.cli import main
from orchestrator.evaluation.cluster import ledger_path, load_ledger, submit_pass
from orchestrator.evaluation.crontab import render_block
from orchestrator.executors import new_run
from orchestrator.runs import JobRecord, RunSpec, load_manifest, save_manifest
from orchestrator.views.status import collect_status
from orchestrator.workspace import Workspace


def configured(ws: Workspace, **eval_settings) -> Workspace:
    config = yaml.safe_load((ws.root / "orch.yaml").read_text())
    config["slurm"].update(partition="gpu", mem="8G", time="2-00:00:00")
    config["eval"].update(eval_settings)
    (ws.root / "orch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Workspace(ws.root)


def with_checkpoints(ws: Workspace, run: str = "r", iterations=(100, 200)) -> None:
    new_run(ws, run, RunSpec(template="tiny-shapes", dataset="shapes", max_batches=300, steps=[200, 250]))
    backup = ws.backup_dir(run)
    backup.mkdir(parents=True)
    for n in iterations:
        (backup / f"{run}_{n}.weights").write_bytes(bytes([n % 256]) * 64)


def test_eval_slurm_takes_what_it_leaves_out_from_the_training_section(shapes_ws):
    ws = configured(shapes_ws, slurm={"time": "1:00:00", "max_parallel": 2})
    assert (ws.config.eval.slurm.partition, ws.config.eval.slurm.mem) == ("gpu", "8G")
    assert (ws.config.eval.slurm.time, ws.config.eval.max_parallel) == ("1:00:00", 2)
    assert ws.config.slurm.time == "2-00:00:00"
    with pytest.raises(OrchError, match=r"eval\.slurm\.gpus: unknown key"):
        _ = configured(shapes_ws, slurm={"gpus": 2}).config


def test_one_array_job_per_pass_one_gpu_per_task_throttled(shapes_ws, fake):
    ws = configured(shapes_ws, slurm={"max_parallel": 3, "mem": "2G"})
    with_checkpoints(ws)
    report = submit_pass(ws, ["r"])
    (sbatch,) = [call for call in fake.calls if call[0] == "sbatch"]
    assert sbatch[:3] == ["sbatch", "--parsable", "--array=0-1%3"]
    script = (ws.root / sbatch[3]).read_text()
    for line in ("#SBATCH --gres=gpu:1", "#SBATCH --mem=2G", "#SBATCH --partition=gpu", "#SBATCH --time=2-00:00:00"):
        assert line + "\n" in script
    assert " eval-task batch/eval/" in script and "--requeue" not in script
    assert [(e["weights"], e["job"]) for e in report.submitted] == [
        ("backup/r/r_200.weights", "101_0"),
        ("backup/r/r_100.weights", "101_1"),
    ]
    assert [e.job for e in load_ledger(ws, "r")] == ["101_0", "101_1"]


def test_an_unanswered_squeue_submits_nothing(shapes_ws, fake, capsys):
    with_checkpoints(shapes_ws)
    fake.handlers["squeue"] = lambda argv: (0, "101_0|RUNNING\n", "")
    submit_pass(shapes_ws, ["r"])
    fake.handlers["squeue"] = lambda argv: (1, "", "slurm_load_jobs error: Unable to contact slurm controller\n")
    with_checkpoints(shapes_ws, "s")
    with pytest.raises(OrchError, match="squeue did not answer"):
        submit_pass(shapes_ws, ["r", "s"])
    assert fake.count("sbatch") == 1 and load_ledger(shapes_ws, "s") == []
    assert main(["-C", str(shapes_ws.root), "eval", "--all", "--submit"]) == 2


def test_a_file_with_an_open_job_is_not_submitted_again(shapes_ws, fake, capsys):
    with_checkpoints(shapes_ws)
    fake.handlers["squeue"] = lambda argv: (0, "101_0|RUNNING\n101_1|PENDING\n", "")
    assert main(["-C", str(shapes_ws.root), "eval", "r", "--submit", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["submitted"]) == 2
    assert main(["-C", str(shapes_ws.root), "eval", "r", "--submit", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"submitted": [], "in_flight": 2}
    assert fake.count("sbatch") == 1 and fake.count("squeue") == 1  # one per pass that had jobs to ask about


def test_status_asks_one_squeue_for_training_and_evaluation_jobs(shapes_ws, fake):
    with_checkpoints(shapes_ws)
    submit_pass(shapes_ws, ["r"])
    manifest = load_manifest(shapes_ws, "r")
    manifest.submissions = [JobRecord("slurm", "train", "7", chain=1)]
    save_manifest(shapes_ws, manifest)
    fake.handlers["squeue"] = lambda argv: (0, "7|RUNNING\n101_0|RUNNING\n101_1|PENDING\n", "")
    fake.calls.clear()
    (row,) = collect_status(shapes_ws, ["r"])
    assert fake.count("squeue") == 1 and fake.calls[0][fake.calls[0].index("--jobs") + 1] == "7,101"
    assert (row["state"], row["eval_jobs"]) == ("RUNNING", {"pending": 1, "running": 1})


def test_eval_submit_makes_cron_submit_unless_a_gpu_is_named(shapes_ws, monkeypatch):
    """`--gpu` means "evaluate here, on it" for orch eval, watch and crontab alike."""
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    assert "eval --all --gpu 1 " in render_block(shapes_ws, 10, 1)
    assert "eval --all --gpu 0 " in render_block(shapes_ws, 10, None)  # eval.gpu
    submitting = configured(shapes_ws, submit=True)
    block = render_block(submitting, 10, None)
    assert "eval --all --submit " in block and "by Slurm jobs" in block
    assert "eval --all --gpu 1 " in render_block(submitting, 10, 1)


def test_a_run_whose_configuration_is_wrong_is_reported_once_and_submits_nothing(shapes_ws, fake, capsys):
    """Every task of a run whose cfg darknet cannot read would fail alike and spend the weights
    files' attempts: the run is reported instead, and the other runs are submitted."""
    with_checkpoints(shapes_ws, "bad")
    with_checkpoints(shapes_ws, "good")
    cfg = shapes_ws.root / "runs" / "bad" / "bad.cfg"
    cfg.write_text(cfg.read_text().replace("filters=", "filters=abc#", 1))
    assert main(["-C", str(shapes_ws.root), "eval", "--all", "--submit", "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert {e["run"] for e in out["submitted"]} == {"good"} and len(out["submitted"]) == 2
    assert [e["run"] for e in out["errors"]] == ["bad"] and "bad.cfg" in out["errors"][0]["error"]
    assert load_ledger(shapes_ws, "bad") == [] and fake.count("sbatch") == 1


def test_a_damaged_ledger_is_its_runs_error_and_the_others_are_submitted(shapes_ws, fake, capsys):
    with_checkpoints(shapes_ws, "bad")
    with_checkpoints(shapes_ws, "good")
    ledger = ledger_path(shapes_ws, "bad")
    ledger.parent.mkdir(parents=True, exist_ok=True)
    ledger.write_text("[{not json")
    assert main(["-C", str(shapes_ws.root), "eval", "--all", "--submit", "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert {e["run"] for e in out["submitted"]} == {"good"}
    assert [e["run"] for e in out["errors"]] == ["bad"] and "ledger is damaged" in out["errors"][0]["error"]
    assert ledger.read_text() == "[{not json"


def test_a_pass_with_nothing_ended_or_pending_writes_no_ledger(shapes_ws, fake):
    new_run(shapes_ws, "idle", RunSpec(template="tiny-shapes", dataset="shapes"))
    assert main(["-C", str(shapes_ws.root), "eval", "--all", "--submit"]) == 0
    assert not ledger_path(shapes_ws, "idle").exists() and fake.count("sbatch") == 0


def test_watch_in_submit_mode_brings_the_report_up_to_date_after_each_pass(shapes_ws, fake):
    import threading

    from orchestrator.evaluation.passes import PassOptions
    from orchestrator.evaluation.scheduler import watch

    with_checkpoints(shapes_ws, "r")
    stop, calls = threading.Event(), []

    def after_pass():
        calls.append(fake.count("sbatch"))
        stop.set()

    deadline = threading.Timer(10, stop.set)  # without a call, the watch ends after 10 s
    deadline.start()
    try:
        watch(shapes_ws, None, PassOptions(gpu=0, submit=True), 3600, stop, after_pass)
    finally:
        deadline.cancel()
    assert calls == [1]  # called once the pass had submitted its array job
