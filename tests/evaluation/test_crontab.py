"""`orch crontab` rendering and merging (the real cron run is in test_real_darknet.py)."""

from __future__ import annotations

import shlex

import pytest

from orchestrator.base.errors import OrchError
from orchestrator.evaluation.crontab import render_block, schedule, with_block, without_block
from orchestrator.workspace import init_workspace


@pytest.fixture
def ws(tmp_path):
    return init_workspace(tmp_path / "my ws 100%")


def command_line(block: str) -> str:
    [line] = [line for line in block.splitlines() if line and not line.startswith("#")]
    return line


def test_the_line_cds_to_the_workspace_and_runs_orch_under_flock_with_absolute_paths(ws):
    line = command_line(render_block(ws, 10, 1))
    assert line.startswith("*/10 * * * * cd ")
    shell = line[len("*/10 * * * * ") :].replace(r"\%", "%")  # what cron hands to /bin/sh
    words = shlex.split(shell)
    assert words[1] == str(ws.root)
    flock = words.index("-n") - 1
    assert words[flock].startswith("/") and words[flock].endswith("flock")
    assert words[flock + 2] == str(ws.root / "results" / ".eval-cron-gpu1.lock")
    assert words[flock + 3].startswith("/")
    assert words[-7:] == ["eval", "--all", "--gpu", "1", ">>", str(ws.root / "logs" / "eval-cron.log"), "2>&1"]
    assert " > " not in shell and ">>" in shell


def test_percent_signs_are_escaped_for_cron(ws):
    line = command_line(render_block(ws, 10, 0))
    assert "%" in str(ws.root)
    assert all(line[i - 1] == "\\" for i, c in enumerate(line) if c == "%")


def test_schedules():
    assert schedule(1) == "*/1 * * * *" and schedule(60) == "0 * * * *"
    with pytest.raises(OrchError):
        schedule(0)
    with pytest.raises(OrchError):
        schedule(90)


def test_install_is_idempotent_and_uninstall_keeps_the_users_lines(ws, tmp_path):
    other = init_workspace(tmp_path / "other")
    users = "MAILTO=me\n0 3 * * * /usr/bin/backup\n"
    once = with_block(users, ws, render_block(ws, 10, 0))
    twice = with_block(once, ws, render_block(ws, 5, 0))
    assert twice.count("eval --all") == 1 and "*/5 " in twice and twice.startswith(users)
    both = with_block(twice, other, render_block(other, 10, 1))
    assert both.count("eval --all") == 2
    assert without_block(without_block(both, ws), other) == users
    assert without_block(users, ws) == users
