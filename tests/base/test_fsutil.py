"""Atomic writes keep permissions readable on shared storage."""

import os
import stat
from pathlib import Path

from orchestrator.base.fsutil import atomic_write


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_follow_the_umask_and_old_files_keep_their_mode(tmp_path: Path):
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write(tmp_path / "report.html", "<html>")
    assert mode(tmp_path / "report.html") == 0o666 & ~umask
    os.chmod(tmp_path / "report.html", 0o640)
    atomic_write(tmp_path / "report.html", "<html>2")
    assert mode(tmp_path / "report.html") == 0o640
    atomic_write(tmp_path / "job.sbatch", "#!/bin/bash", mode=0o755)
    assert mode(tmp_path / "job.sbatch") == 0o755
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
