"""darknet's whole process group ends with its evaluation: on a timeout, when the evaluator is
SIGKILLed, and when a process that left the group keeps the output pipe open (stand-in darknet
tests/fakes/darknet_fault: these are faults the real darknet cannot be made to produce)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from waiting import wait_for

from orchestrator.evaluation.darknet_valid import EvaluationFailed, ValidCall, run_valid

FAKE_DARKNET = Path(__file__).parents[1] / "fakes" / "darknet_fault"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def fake_call(tmp_path: Path, timeout: float) -> ValidCall:
    return ValidCall(str(FAKE_DARKNET), "x.data", "x.cfg", "x.weights", 0, tmp_path, tmp_path / "darknet.log", timeout)


def spawned(pids: Path) -> list[int]:
    return [int(p) for p in pids.read_text().split()] if pids.is_file() else []


@pytest.mark.parametrize("fault", ["grandchild", "escape"])
def test_a_timeout_ends_darknet_and_its_children_without_waiting_for_the_pipe(tmp_path, monkeypatch, fault):
    pids = tmp_path / "pids"
    monkeypatch.setenv("FAKE_DARKNET_FAULT", fault)
    monkeypatch.setenv("FAKE_DARKNET_PIDS", str(pids))
    started = time.monotonic()
    with pytest.raises(EvaluationFailed, match="timed out after 2 s"):
        run_valid(fake_call(tmp_path, 2), threading.Event())
    assert time.monotonic() - started < 2 + 3 + 3  # timeout + kill grace + pipe drain, not the 300 s child
    darknet, child = spawned(pids)
    wait_for(lambda: not alive(darknet), "darknet to be gone", 5)
    if fault == "grandchild":
        wait_for(lambda: not alive(child), "its child to be gone", 5)
    else:  # it left darknet's session on purpose; it no longer holds the evaluation up
        os.kill(child, signal.SIGKILL)


def test_a_sigkilled_evaluator_takes_darknet_and_its_children_with_it(tmp_path):
    pids = tmp_path / "pids"
    evaluator = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import threading
                from pathlib import Path
                from orchestrator.evaluation.darknet_valid import ValidCall, run_valid
                call = ValidCall({str(FAKE_DARKNET)!r}, "x.data", "x.cfg", "x.weights", 0, Path({str(tmp_path)!r}),
                                 Path({str(tmp_path / "darknet.log")!r}), 600)
                run_valid(call, threading.Event())
            """),
        ],
        env={**os.environ, "FAKE_DARKNET_FAULT": "grandchild", "FAKE_DARKNET_PIDS": str(pids)},
    )
    darknet, child = wait_for(lambda: spawned(pids), "the stand-in darknet to start its child", 30)
    evaluator.kill()
    evaluator.wait()
    wait_for(lambda: not alive(darknet) and not alive(child), "darknet and its child to die with the evaluator", 10)


def test_darknet_killed_by_a_signal_is_reported_as_such_through_the_guard(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_DARKNET_FAULT", "segfault")
    with pytest.raises(EvaluationFailed, match="darknet was killed by SIGSEGV") as failure:
        run_valid(fake_call(tmp_path, 30), threading.Event())
    assert "Loading weights" in failure.value.log_tail
