"""Running `darknet detector valid` for one weights file, and checking what it wrote.

Darknet cannot be trusted to report failures: it exits 0 after "Couldn't open file", segfaults
when the results folder is missing, and reads garbage from a truncated weights file. So the
folder is created first, stale outputs are removed before the run, and success means "the
expected files exist afterwards", not "exit status 0".

Darknet runs in a session of its own (so a timeout or a stopped evaluator kills it and every
child it may have) whose leader is `guard` (so the whole group dies with a SIGKILLed evaluator
instead of writing into a folder the next pass is using), and under `stdbuf -oL -eL` so that
its log is complete up to the moment it crashed. Its output is copied only while the group
lives: a process that left the group and keeps the pipe open cannot stretch the timeout.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.darknet.outputs import COCO_RESULTS, COMP4_PREFIX, comp4_path, output_files
from orchestrator.evaluation import guard

LOG_TAIL_LINES = 20
KILL_GRACE_SECONDS = 3.0
PUMP_POLL_SECONDS = 0.2
PUMP_DRAIN_SECONDS = 1.0  # what darknet printed last is copied; a stray writer is not waited for

ProgressCallback = Callable[[int], None]


class EvaluationFailed(Exception):
    """Darknet or its output let us down; recorded as a failure with the log's tail."""

    def __init__(self, error: str, log_tail: str | None = None):
        super().__init__(error)
        self.error = error
        self.log_tail = log_tail


class Interrupted(Exception):
    """The evaluator was asked to stop (SIGTERM/SIGINT): darknet was killed, nothing is recorded."""


@dataclass(frozen=True)
class ValidCall:
    """Everything one `detector valid` needs; paths are relative to `cwd` (the workspace root)."""

    darknet: str
    data: str
    cfg: str
    weights: str
    gpu: int | None  # None: the GPU(s) the environment already names (Slurm's allocation)
    cwd: Path
    log: Path
    timeout: float
    lib_folder: str | None = None


def command(call: ValidCall) -> list[str]:
    """The argv: CUDA_VISIBLE_DEVICES leaves darknet exactly one GPU, which it then sees as 0."""
    return [
        sys.executable,
        "-m",
        guard.__name__,
        str(os.getpid()),
        "--",
        "stdbuf",
        "-oL",
        "-eL",
        resolve_binary(call.darknet, call.cwd),
        "detector",
        "valid",
        call.data,
        call.cfg,
        call.weights,
        "-i",
        "0",
    ]


def resolve_binary(darknet: str, root: Path) -> str:
    """darknet.binary of orch.yaml: a name on PATH or a path relative to the workspace root."""
    found = shutil.which(str(root / darknet)) if "/" in darknet else shutil.which(darknet)
    if found is None:
        raise OrchError(f"darknet binary not found: {darknet}", "orch.yaml darknet.binary")
    return str(Path(found).resolve())


def environment(call: ValidCall) -> dict[str, str]:
    env = dict(os.environ)
    if call.gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(call.gpu)
    if call.lib_folder:
        env["LD_LIBRARY_PATH"] = ":".join(filter(None, [call.lib_folder, env.get("LD_LIBRARY_PATH")]))
    return env


def run_valid(call: ValidCall, stop: threading.Event, on_progress: ProgressCallback | None = None) -> float:
    """Run darknet to completion; its seconds, or EvaluationFailed / Interrupted.

    stdout and stderr go, interleaved, to `call.log`; darknet's image counter (a bare number on
    stderr every few images) is passed to `on_progress`.
    """
    argv = command(call)
    started = time.monotonic()
    with open(call.log, "wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=call.cwd,
            env=environment(call),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ended = threading.Event()
        pump = threading.Thread(target=_pump, args=(process, log, on_progress, ended), daemon=True)
        pump.start()
        try:
            outcome = _wait(process, started + call.timeout, stop)
        finally:
            _kill_group(process)
            ended.set()
            pump.join()
    seconds = time.monotonic() - started
    if outcome == "stopped":
        raise Interrupted("evaluation stopped")
    if outcome == "timeout":
        raise EvaluationFailed(f"darknet timed out after {call.timeout:g} s", log_tail(call.log))
    if process.returncode < 0:
        name = signal.Signals(-process.returncode).name
        raise EvaluationFailed(f"darknet was killed by {name}", log_tail(call.log))
    if process.returncode != 0:
        raise EvaluationFailed(f"darknet exited with status {process.returncode}", log_tail(call.log))
    return seconds


def _wait(process: subprocess.Popen, deadline: float, stop: threading.Event) -> str:
    """'done', 'timeout' or 'stopped'; polls so that a stop request is honoured within 0.2 s."""
    while True:
        try:
            process.wait(timeout=0.2)
            return "done"
        except subprocess.TimeoutExpired:
            if stop.is_set():
                return "stopped"
            if time.monotonic() > deadline:
                return "timeout"


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM darknet's whole process group, SIGKILL what is left after a grace period."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=KILL_GRACE_SECONDS)
    _signal_group(process, signal.SIGKILL)
    process.wait()


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _pump(process: subprocess.Popen, log, on_progress: ProgressCallback | None, ended: threading.Event) -> None:
    """Copy darknet's output to the log, reporting its image counter (a bare number a line).

    Reads only what is ready, so that once darknet's group is gone (`ended`) the copy stops
    within a second even if a process that escaped the group still holds the pipe open."""
    assert process.stdout is not None
    fd, pending, stop_at = process.stdout.fileno(), b"", None
    while True:
        ready = select.select([fd], [], [], PUMP_POLL_SECONDS)[0]
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            log.write(chunk)
            log.flush()
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                text = line.strip()
                if on_progress is not None and text.isdigit():
                    on_progress(int(text))
        if ended.is_set():
            stop_at = stop_at or time.monotonic() + PUMP_DRAIN_SECONDS
            if not ready or time.monotonic() > stop_at:
                return


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str | None:
    """The last lines of darknet's log (what a failure record keeps for the user)."""
    try:
        with open(path, "rb") as handle:
            tail = deque(handle, maxlen=lines)
    except FileNotFoundError:
        return None
    text = b"".join(tail).decode("utf-8", errors="replace").rstrip("\n")
    return text or None


def clear_outputs(folder: Path) -> None:
    """Remove what an earlier, interrupted attempt wrote, so existence checks mean this run."""
    for path in output_files(folder):
        path.unlink(missing_ok=True)


def check_outputs(folder: Path, style: str, class_names: list[str], log: Path) -> Path:
    """What the metrics engine reads (comp4 folder or coco json), after checking darknet wrote it."""
    if style == "coco":
        output = folder / COCO_RESULTS
        if not output.is_file() or output.stat().st_size == 0:
            raise EvaluationFailed(f"darknet wrote no {COCO_RESULTS}", log_tail(log))
        return output
    missing = [name for name in class_names if not comp4_path(folder, name).is_file()]
    if missing:
        raise EvaluationFailed(
            f"darknet wrote no {COMP4_PREFIX}<class>.txt for {len(missing)} of "
            f"{len(class_names)} classes (e.g. {missing[0]!r})",
            log_tail(log),
        )
    return folder
