"""Kernel locks that keep concurrent orch processes apart (evaluators, submitters).

Every lock is a kernel `flock` on a file: the kernel drops it when the holding process dies,
even by SIGKILL, so a lock FILE may stay around but never blocks anyone. The holder writes who
it is into the file, so a busy lock can be reported with its holder (pid, user, command, since).
Lock files are opened without following symbolic links and never truncated before they are
held: a link planted at a lock's name cannot make orch write through it.
Callers pass the lock's path: this layer knows no workspace layout.

- a run lock: one evaluator (or evaluation submitter) per run, so no file is evaluated twice;
- the GPU lock: two evaluators of a user never share one GPU, whatever workspace they work
  for. It lives in the user's own folder `$TMPDIR/orch-<uid>` (mode 0700): a lock in a
  world-writable place could be taken by any local user to stop every evaluator. ORCH_LOCK_DIR
  names another folder (one shared on purpose by the users of a machine, for instance).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import getpass
import os
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.base.values import printable

POLL_SECONDS = 0.1


class Busy(OrchError):
    """Another process holds the lock; a pass says so and moves on, a command that had to
    have it (after waiting) reports it as one line."""


def gpu_lock_folder() -> Path:
    """ORCH_LOCK_DIR when set, else this user's private folder under the system's temporary one."""
    given = os.environ.get("ORCH_LOCK_DIR")
    if given:
        return Path(given)
    return _private_folder(Path(tempfile.gettempdir()) / f"orch-{os.getuid()}")


def gpu_lock_path(gpu: int) -> Path:
    return gpu_lock_folder() / f"orch-gpu{gpu}.lock"


def _private_folder(folder: Path) -> Path:
    """`folder` created 0700, or refused when someone else made it (or made it a link)."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OrchError(
            "the GPU lock folder is not a private folder of yours (another user made it, or it is a link); "
            "remove it or set ORCH_LOCK_DIR",
            str(folder),
        )
    return folder


@contextlib.contextmanager
def held(path: Path, busy: Exception, wait: float = 0) -> Iterator[None]:
    """Hold the lock at `path`, waiting at most `wait` seconds for another orch (none by
    default: a busy evaluator moves on), else raise `busy` naming the holder."""
    fd = _open_lock_file(path)
    try:
        deadline = time.monotonic() + wait
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise _naming_holder(busy, _holder(fd)) from None
            time.sleep(POLL_SECONDS)
        _write_holder(fd)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def _open_lock_file(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        try:
            return os.open(path, os.O_RDWR | flags, 0o644)
        except PermissionError:  # another user's lock file in a shared ORCH_LOCK_DIR: lockable read-only
            return os.open(path, os.O_RDONLY | flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OrchError(
                "the lock file is a symbolic link; orch does not follow it (remove it)", str(path)
            ) from None
        raise OrchError(f"cannot open the lock file: {exc.strerror}", str(path)) from None


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _write_holder(fd: int) -> None:
    """Who holds the lock, for the message of those who find it busy (best effort)."""
    since = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    command = " ".join(["orch", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("orch") else " ".join(sys.argv)
    text = f"pid {os.getpid()}, user {_user()}, host {socket.gethostname()}, since {since}: {command}"
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(errors="replace")[:500] + b"\n", 0)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 600, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return f"held by {text}" if text else "held by a process that did not say who it is"


def _naming_holder(busy: Exception, holder: str) -> Exception:
    if type(busy) is OrchError:
        return OrchError(f"{busy.what}; {printable(holder)}", busy.where)
    return type(busy)(f"{busy} ({printable(holder)})")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def run_lock(path: Path, run: str, wait: float = 0) -> contextlib.AbstractContextManager[None]:
    """The lock of one run's evaluations at `path` (the workspace says where it lives)."""
    return held(path, Busy(f"run {run} is busy with another evaluator"), wait)


def gpu_lock(gpu: int) -> contextlib.AbstractContextManager[None]:
    return held(gpu_lock_path(gpu), Busy(f"GPU {gpu} is busy with another evaluator"))
