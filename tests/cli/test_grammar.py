"""One grammar across commands: durations, `orch best` for shells, --json where a command reports."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import eval_record, flat_metrics

from orchestrator.base.errors import OrchError
from orchestrator.cli import main
from orchestrator.config import duration_text, parse_duration
from orchestrator.evaluation.crontab import schedule
from orchestrator.evaluation.store import append_record
from orchestrator.executors import new_run
from orchestrator.runs import RunSpec
from orchestrator.workspace import init_workspace


def test_a_bare_number_is_minutes_everywhere():
    assert parse_duration("10", "x") == parse_duration("10m", "x") == 600
    assert parse_duration("90s", "x") == 90 and parse_duration("1h", "x") == 3600
    assert [duration_text(s) for s in (90, 600, 7200, 86400, 1.5)] == ["90s", "10m", "2h", "1d", "1.5s"]
    with pytest.raises(OrchError):
        parse_duration("10 minutes", "x")


@pytest.mark.parametrize(
    ("minutes", "fields"),
    [(1, "*/1 * * * *"), (10, "*/10 * * * *"), (60, "0 * * * *"), (120, "0 */2 * * *"), (1440, "0 0 * * *")],
)
def test_cron_schedules_with_even_gaps(minutes, fields):
    assert schedule(minutes) == fields


@pytest.mark.parametrize("minutes", [7, 45, 90, 300, 2880])
def test_cron_refuses_intervals_that_restart_unevenly(minutes):
    with pytest.raises(OrchError, match="uneven gaps"):
        schedule(minutes)


def test_watch_and_crontab_read_every_the_same_way(tmp_path, capsys):
    ws = init_workspace(tmp_path / "ws")
    for every, expected in (("10", "*/10 * * * *"), ("10m", "*/10 * * * *"), ("1h", "0 * * * *")):
        assert main(["-C", str(ws.root), "crontab", "--every", every, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["schedule"] == expected
    assert main(["-C", str(ws.root), "crontab", "--every", "90s"]) == 2
    assert "whole minutes" in capsys.readouterr().err
    assert main(["-C", str(ws.root), "crontab", "--every", "7"]) == 2
    assert "uneven gaps" in capsys.readouterr().err


def best_workspace(shapes_ws):
    """A run with two evaluated weights files on disk (iteration 200 scores best)."""
    new_run(shapes_ws, "r1", RunSpec(template="tiny-shapes", dataset="shapes"))
    backup = shapes_ws.backup_dir("r1")
    backup.mkdir(parents=True, exist_ok=True)
    for iteration, mean in ((100, 0.2), (200, 0.4)):
        weights = backup / f"r1_{iteration}.weights"
        weights.write_bytes(b"w")
        append_record(
            shapes_ws,
            "r1",
            eval_record(iteration, weights=shapes_ws.relative(weights), metrics=flat_metrics(mean, mean)),
        )
    return backup / "r1_200.weights"


def test_best_prints_only_the_absolute_path(shapes_ws, capsys):
    best = best_workspace(shapes_ws)
    assert main(["-C", str(shapes_ws.root), "best", "r1"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{best.absolute()}\n" and err == ""
    assert main(["-C", str(shapes_ws.root), "best", "r1", "-v"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{best.absolute()}\n" and "0.4000" in err


def test_best_exits_2_when_the_weights_file_is_gone(shapes_ws, capsys):
    best_workspace(shapes_ws).unlink()
    assert main(["-C", str(shapes_ws.root), "best", "r1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "no longer exists" in err


def test_submit_of_a_finished_run_asks_for_force(shapes_ws, capsys, monkeypatch):
    from orchestrator.executors import slurm

    sbatch_calls = []

    def fake_sbatch(argv):  # the injected stand-in: only sbatch is ever called here
        sbatch_calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, f"{100 + len(sbatch_calls)}\n", "")

    monkeypatch.setattr(slurm, "run_command", fake_sbatch)
    new_run(shapes_ws, "r1", RunSpec(template="tiny-shapes", dataset="shapes"))
    shapes_ws.backup_dir("r1").mkdir(parents=True, exist_ok=True)
    (shapes_ws.backup_dir("r1") / "r1_final.weights").write_bytes(b"w")
    before = (shapes_ws.run_dir("r1") / "run.yaml").read_text()
    assert main(["-C", str(shapes_ws.root), "submit", "r1", "--executor", "slurm"]) == 2
    err = capsys.readouterr().err
    assert "finished training" in err and "--force" in err
    assert sbatch_calls == [] and (shapes_ws.run_dir("r1") / "run.yaml").read_text() == before
    assert main(["-C", str(shapes_ws.root), "submit", "r1", "--executor", "slurm", "--force", "--json"]) == 0
    job, evaluation = json.loads(capsys.readouterr().out)
    assert (job["run"], job["job_id"], job["phase"]) == ("r1", "101", "train")
    # the evaluation of what the run leaves, queued behind the training
    assert (evaluation["run"], evaluation["job_id"], evaluation["phase"]) == ("r1", "102", "eval")
    assert len(sbatch_calls) == 2 and "--dependency=afterany:101" in sbatch_calls[1]


def test_status_names_the_measure_and_a_cancelled_run_is_cancelled(shapes_ws, capsys):
    new_run(shapes_ws, "r1", RunSpec(template="tiny-shapes", dataset="shapes"))
    assert main(["-C", str(shapes_ws.root), "submit", "r1", "--executor", "local"]) == 0
    assert main(["-C", str(shapes_ws.root), "cancel", "r1", "--json"]) == 0
    [cancelled] = json.loads(capsys.readouterr().out.split("\n", 1)[1])  # after submit's line
    assert cancelled["executor"] == "local"
    assert main(["-C", str(shapes_ws.root), "status"]) == 0
    header, _, row = capsys.readouterr().out.splitlines()
    assert "BEST mAP@[.50:.95] IoU" in header and "BEST mAP@[.50:.95] GIoU" in header
    assert " CANCELLED " in row and "exited" not in row


def test_export_reports_its_new_points_as_json(tmp_path, capsys):
    from conftest import REFDATA

    log = REFDATA / "logs" / "alexeyab-yolov3-map-title-escapes.log"
    assert main(["export", "tensorboard", "--log", f"yolo={log}", "--out", str(tmp_path / "tb"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["out"] == str(tmp_path / "tb") and shown["new_points"]["yolo"] > 2497  # losses, rates, mAP...
