"""Shared fixtures: workspaces with a generated shapes dataset, and real darknet weights.

Darknet is trained for real ONCE per test session (`trained_run`) and the weights are shared by
every test that needs checkpoints; tests copy what they modify.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fake_slurm import FakeSlurm

from orchestrator.evaluation.store import EvalRecord
from orchestrator.executors import new_run
from orchestrator.metrics.measures import THRESHOLDS
from orchestrator.metrics.results import MetricResult
from orchestrator.runs import RunSpec
from orchestrator.shapes import shapes_workspace
from orchestrator.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
REFDATA = REPO / "tests" / "data"  # real fixtures with known answers; sources in PROVENANCE.md
#: The 20 Pascal VOC classes, in darknet's voc.names order.
VOC_NAMES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
]  # fmt: skip
TRAIN_ITERATIONS = 300  # weights at 100, 200, 300 and _final


def make_workspace(
    folder: Path,
    n_train: int = 64,
    n_valid: int = 16,
    eval_style: str = "voc",
    ground_truth: str | None = "annotations",
    **eval_settings,
) -> Workspace:
    """A workspace with a shapes dataset named `shapes` (ground_truth: annotations | coco | None)."""
    return shapes_workspace(
        folder, n_train, n_valid, eval_style, ground_truth, settings={"eval": {"settle_seconds": 0, **eval_settings}}
    )


def repeat_valid_list(ws: Workspace, times: int) -> None:
    """The `shapes` valid list `times` over, so that darknet is surely still at work when a test
    signals its evaluator (48 images at 96x96 take well under a second on an idle machine)."""
    valid = ws.root / ws.config.datasets["shapes"].valid["valid"]
    valid.write_text(valid.read_text() * times)


@pytest.fixture
def shapes_ws(tmp_path: Path) -> Workspace:
    """A fresh workspace with a small shapes dataset (VOC ground truth)."""
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def fake(monkeypatch) -> FakeSlurm:
    """Every Slurm command of the executors answered by a scripted FakeSlurm (faults, call counts)."""
    from orchestrator.executors import slurm

    fake = FakeSlurm()
    monkeypatch.setattr(slurm, "run_command", fake)
    return fake


@pytest.fixture
def cluster_ws(tmp_path: Path) -> Iterator[Workspace]:
    """A shapes workspace whose jobs fit the dev cluster of scripts/dev-slurm.sh; its training
    and evaluation jobs are cancelled afterwards."""
    from orchestrator.evaluation.cluster import cancel_evaluations
    from orchestrator.executors import cancel_runs

    ws = make_workspace(tmp_path / "ws", n_train=16, n_valid=4)
    config = yaml.safe_load((ws.root / "orch.yaml").read_text())
    config["slurm"].update(cpus_per_task=1, mem="300M", time="15:00")
    config["eval"]["slurm"] = {"mem": "1G"}
    config["executor"] = "slurm"
    (ws.root / "orch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    ws = Workspace(ws.root)
    yield ws
    cancel_runs(ws, ws.run_names())
    cancel_evaluations(ws, ws.run_names())


def add_cluster_run(ws: Workspace, name: str, max_batches: int, gpus: int = 1) -> None:
    """A tiny-shapes run with batch 2 (~0.2 s per iteration on the dev cluster)."""
    steps = [max_batches - 2, max_batches - 1]
    new_run(
        ws,
        name,
        RunSpec(template="tiny-shapes", dataset="shapes", gpus=gpus, max_batches=max_batches, steps=steps, batch=2),
    )


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """Backup folder of a tiny-shapes run trained for real with darknet (once per session), by
    running the run's own training script as the local executor would.

    Holds tiny-shapes_100/200/300.weights and tiny-shapes_final.weights; copy before changing.
    """
    if shutil.which("darknet") is None:
        pytest.fail("darknet is not installed: run 'make install' (Debian package darknet)")
    ws = make_workspace(tmp_path_factory.mktemp("trained") / "ws", n_train=64, n_valid=16)
    new_run(
        ws,
        "tiny-shapes",
        RunSpec(template="tiny-shapes", dataset="shapes", max_batches=TRAIN_ITERATIONS, steps=[200, 250]),
    )
    log = ws.root / "train.log"
    with open(log, "w") as output:
        subprocess.run(
            ["bash", str(ws.sbatch_path("tiny-shapes"))], stdout=output, stderr=subprocess.STDOUT, check=True
        )
    backup = ws.backup_dir("tiny-shapes")
    expected = [f"tiny-shapes_{n}.weights" for n in (100, 200, 300)] + ["tiny-shapes_final.weights"]
    missing = [name for name in expected if not (backup / name).is_file()]
    assert not missing, f"darknet did not write {missing}; see {log}"
    return backup


def eval_record(iteration: int, *, run: str = "r1", status: str = "ok", **fields) -> EvalRecord:
    """A metrics.jsonl record with plausible values for whatever a test does not set."""
    values = {
        "run": run,
        "split": "valid",
        "weights": f"backup/{run}/{run}_{iteration}.weights",
        "size": 1,
        "mtime": 1.0,
        "iteration": iteration,
        "phase": "train",
        "also": (),
        "job": {"executor": "local", "id": None},
        "style": "voc",
        "ap_method": "11point",
        "status": status,
        "thresholds": THRESHOLDS,
        "metrics": {},
        "darknet_seconds": 1.0,
        "metric_seconds": 0.1,
        "flavor": "pjreddie",
        "orch_version": "0.1.0",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "attempt": 1,
        "error": None if status == "ok" else "darknet was killed by SIGSEGV",
        "log_tail": None,
    }
    return EvalRecord(**{**values, **fields})


def flat_metrics(iou: float, giou: float) -> dict[str, MetricResult]:
    """IoU and GIoU results with the same AP at every threshold."""
    return {name: MetricResult(ap=(value,) * 10, mean=value) for name, value in (("iou", iou), ("giou", giou))}
