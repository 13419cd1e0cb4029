"""Kernel locks that keep concurrent orch processes apart (evaluators, submitters).

Every lock is a kernel `flock` taken without waiting: the kernel drops it when the holding
process dies, even by SIGKILL, so a lock FILE may stay around but never blocks anyone.
(filelock's fallback to lock files whose mere existence blocks is switched off.)
Callers pass the lock's path: this layer knows no workspace layout.

- a run lock: one evaluator (or evaluation submitter) per run, so no file is evaluated twice;
- the GPU lock, machine-wide in /tmp: two evaluators never share one GPU, whatever workspace
  they work for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

GPU_LOCK_FOLDER = Path(os.environ.get("ORCH_LOCK_DIR", "/tmp"))


class Busy(Exception):
    """Another process holds the lock; the caller says so and moves on."""


def gpu_lock_path(gpu: int) -> Path:
    return GPU_LOCK_FOLDER / f"orch-gpu{gpu}.lock"


@contextlib.contextmanager
def held(path: Path, busy: Exception, wait: float = 0) -> Iterator[None]:
    """Hold the lock at `path`, waiting at most `wait` seconds for another orch (none by
    default: a busy evaluator moves on), else raise `busy`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mode 0o666: the GPU lock in /tmp is shared between the users of a machine
    lock = FileLock(path, timeout=wait, mode=0o666, thread_local=False, fallback_to_soft=False)
    try:
        lock.acquire()
    except Timeout:
        raise busy from None
    try:
        yield
    finally:
        lock.release()


def run_lock(path: Path, run: str, wait: float = 0) -> contextlib.AbstractContextManager[None]:
    """The lock of one run's evaluations at `path` (the workspace says where it lives)."""
    return held(path, Busy(f"run {run} is busy with another evaluator"), wait)


def gpu_lock(gpu: int) -> contextlib.AbstractContextManager[None]:
    return held(gpu_lock_path(gpu), Busy(f"GPU {gpu} is busy with another evaluator"))
