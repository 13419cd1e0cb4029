"""Locks that keep concurrent evaluators (cron lines, `orch watch`, a user's `orch eval`) apart.

Both are kernel `flock` locks taken without waiting: the kernel drops them when the holding
process dies, even by SIGKILL, so the lock FILES may stay around but never block anyone.
(filelock's fallback to lock files whose mere existence blocks is switched off.)

- the run lock, `results/<run>/.eval.lock`: one evaluator per run, so no file is evaluated twice;
- the GPU lock, machine-wide in /tmp: two evaluators never share one GPU, whatever workspace
  they work for.

`held` is also what `orch submit` takes on `runs/<run>/.submit.lock` (executors/submission.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from orchestrator.workspace import Workspace

GPU_LOCK_FOLDER = Path(os.environ.get("ORCH_LOCK_DIR", "/tmp"))


class Busy(Exception):
    """Another evaluator holds the lock; the caller says so and moves on."""


def run_lock_path(ws: Workspace, run: str) -> Path:
    return ws.results_dir(run) / ".eval.lock"


def gpu_lock_path(gpu: int) -> Path:
    return GPU_LOCK_FOLDER / f"orch-gpu{gpu}.lock"


@contextlib.contextmanager
def held(path: Path, busy: Exception) -> Iterator[None]:
    """Hold the lock at `path` or raise `busy` at once (never wait for another orch)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mode 0o666: the GPU lock in /tmp is shared between the users of a machine
    lock = FileLock(path, blocking=False, mode=0o666, thread_local=False, fallback_to_soft=False)
    try:
        lock.acquire()
    except Timeout:
        raise busy from None
    try:
        yield
    finally:
        lock.release()


def run_lock(ws: Workspace, run: str) -> contextlib.AbstractContextManager[None]:
    return held(run_lock_path(ws, run), Busy(f"run {run} is busy with another evaluator"))


def gpu_lock(gpu: int) -> contextlib.AbstractContextManager[None]:
    return held(gpu_lock_path(gpu), Busy(f"GPU {gpu} is busy with another evaluator"))
