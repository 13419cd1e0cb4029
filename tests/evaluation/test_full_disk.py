"""A full results disk: a record is written whole or not at all, and the error is one line.

The disk is a real 64 KiB tmpfs mounted over results/r1 when `mount` works (root in a container
that allows it); elsewhere the write is made to fail the way a full disk fails it (ENOSPC)."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import eval_record

from orchestrator.evaluation.store import StoreWriteFailed, append_record, load_results, store_path
from orchestrator.metrics.results import ClassAP, MetricResult
from orchestrator.workspace import Workspace, init_workspace


def big_record(iteration: int):
    """~6 kB: a few of them fill the small disk, mid-record."""
    ap = tuple(0.5 for _ in range(10))
    per_class = tuple(ClassAP(c, f"class-{c}", ap) for c in range(40))
    return eval_record(iteration, size=100, mtime=1.5 + iteration, metrics={"iou": MetricResult(ap, 0.5, per_class)})


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[str]:
    """`folder` on a 64 KiB tmpfs ('tmpfs'), or with writes failing with ENOSPC ('simulated')."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode == 0:
        try:
            yield "tmpfs"
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=True)
        return
    with pytest.MonkeyPatch.context() as patch:
        real_write = os.write

        def write(fd: int, data: bytes) -> int:
            if os.fstat(fd).st_size + len(data) > 64 * 1024:
                half = real_write(fd, data[: len(data) // 2])  # a full disk takes what fits
                if half:
                    return half
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_write(fd, data)

        patch.setattr(os, "write", write)
        yield "simulated"


def test_a_full_disk_keeps_every_record_whole_and_says_so_in_one_line(tmp_path):
    ws: Workspace = init_workspace(tmp_path / "ws")
    with small_disk(ws.results_dir("r1")):
        written = 0
        with pytest.raises(StoreWriteFailed) as failure:
            for iteration in range(1, 100):
                append_record(ws, "r1", big_record(iteration))
                written += 1
        data = store_path(ws, "r1").read_bytes()
        assert 0 < written < 99
        assert data.endswith(b"\n")  # rolled back to the end of the last whole record
        assert [json.loads(line)["iteration"] for line in data.splitlines()] == list(range(1, written + 1))
        assert [r.iteration for r in load_results(ws, "r1")] == list(range(1, written + 1))
        message = str(failure.value)
        assert "\n" not in message and f"r1_{written + 1}.weights" in message and "the store is as it was" in message


def test_a_pass_on_a_full_disk_stops_with_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    """The pass stops at the first record the disk refuses (every later one would fail too);
    darknet's part is replaced by ready records: this is about the store, not about darknet."""
    from conftest import make_workspace

    from orchestrator.cli import main
    from orchestrator.evaluation import passes
    from orchestrator.executors import new_run
    from orchestrator.runs import RunSpec

    ws = make_workspace(tmp_path / "ws", n_train=4, n_valid=4)
    new_run(ws, "r1", RunSpec(template="tiny-shapes", dataset="shapes", max_batches=3000, steps=[2000]))
    ws.backup_dir("r1").mkdir(parents=True)
    for n in range(100, 3100, 100):
        (ws.backup_dir("r1") / f"r1_{n}.weights").write_bytes(b"w")

    def evaluate(ws, target, gpu, stop, progress=None, setup=None):
        weights = target.weights
        return dataclasses.replace(
            big_record(weights.iteration), weights=weights.path, size=weights.size, mtime=weights.mtime
        )

    monkeypatch.setattr(passes, "evaluate", evaluate)
    monkeypatch.setenv("ORCH_LOCK_DIR", str(tmp_path / "locks"))
    with small_disk(ws.results_dir("r1")):
        capsys.readouterr()
        assert main(["-C", str(ws.root), "eval", "r1", "--gpu", "0", "--json"]) == 2
        out, err = capsys.readouterr()
        report = json.loads(out)
        kept = load_results(ws, "r1")
        assert 0 < len(kept) == len(report["evaluated"]) < 30  # the refused record is not among them
        assert report["stopped"] and "was not written" in report["stopped"]
        assert err.count("orch: error: ") == 1 and "the store is as it was" in err
        assert store_path(ws, "r1").read_bytes().endswith(b"\n")
