"""Kernel locks: the GPU lock in a private folder, ORCH_LOCK_DIR first, no link followed, and a
busy lock that says who holds it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from orchestrator.base.errors import OrchError
from orchestrator.base.locks import Busy, gpu_lock, gpu_lock_path, held, run_lock


def test_the_gpu_lock_lives_in_a_private_folder_of_the_user(tmp_path, monkeypatch):
    monkeypatch.delenv("ORCH_LOCK_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # gettempdir() reads TMPDIR again
    path = gpu_lock_path(0)
    assert path == tmp_path / f"orch-{os.getuid()}" / "orch-gpu0.lock"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with gpu_lock(0):
        assert path.is_file()


def test_orch_lock_dir_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_LOCK_DIR", str(tmp_path / "shared"))
    assert gpu_lock_path(3) == tmp_path / "shared" / "orch-gpu3.lock"


def test_a_lock_folder_that_is_not_private_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("ORCH_LOCK_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / f"orch-{os.getuid()}").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OrchError, match="not a private folder"):
        gpu_lock_path(0)
    (tmp_path / f"orch-{os.getuid()}").unlink()
    (tmp_path / f"orch-{os.getuid()}").mkdir(mode=0o777)
    os.chmod(tmp_path / f"orch-{os.getuid()}", 0o777)
    with pytest.raises(OrchError, match="not a private folder"):
        gpu_lock_path(0)


def test_a_symlink_at_the_lock_name_is_not_followed_nor_truncated(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_LOCK_DIR", str(tmp_path))
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    gpu_lock_path(0).symlink_to(victim)
    with pytest.raises(OrchError, match="symbolic link") as error, gpu_lock(0):
        pass
    assert "\n" not in str(error.value)
    assert victim.read_text() == "precious\n"


def test_a_busy_lock_names_its_holder(tmp_path):
    path = tmp_path / "run.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys, time
                from pathlib import Path
                from orchestrator.base.locks import held
                with held(Path({str(path)!r}), RuntimeError("busy")):
                    print("held", flush=True)
                    time.sleep(60)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(Busy) as busy, run_lock(path, "r1"):
            pass
        message = str(busy.value)
        assert message.startswith("run r1 is busy with another evaluator (held by pid ")
        assert f"pid {holder.pid}," in message and "since" in message
        with (
            pytest.raises(OrchError, match=f"another orch; held by pid {holder.pid}"),
            held(path, OrchError("another orch", "x"), wait=0.3),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    with run_lock(path, "r1"):  # the kernel dropped the dead holder's lock
        pass


def test_wait_takes_a_lock_released_meanwhile(tmp_path):
    path = tmp_path / "l.lock"
    script = f"import fcntl,time; f=open({str(path)!r},'w'); fcntl.flock(f, 2); print(1, flush=True); time.sleep(0.5)"
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "1\n"
    started = time.monotonic()
    with held(path, Busy("busy"), wait=10):
        assert time.monotonic() - started >= 0.2  # it waited for the holder to end
    holder.wait()


def test_a_run_lock_waited_for_in_vain_is_an_orch_error_naming_its_holder(tmp_path):
    """`orch submit` and `orch eval-task` wait for a run's lock: when another orch keeps it, the
    CLI reports the Busy error as its one line (naming the holder), not as a traceback."""
    path = tmp_path / "r1.lock"
    with run_lock(path, "r1"), pytest.raises(OrchError) as busy, run_lock(path, "r1", wait=0.2):
        pass
    assert isinstance(busy.value, Busy)
    assert str(busy.value).startswith("run r1 is busy with another evaluator (held by pid ")
