"""Shared fixtures: workspaces with a generated shapes dataset, and real darknet weights.

Darknet is trained for real ONCE per test session (`trained_run`) and the weights are shared by
every test that needs checkpoints; tests copy what they modify.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from orchestrator.shapes import generate
from orchestrator.workspace import Workspace, init_workspace

REPO = Path(__file__).resolve().parents[1]
REFDATA = REPO.parent / "shared" / "refdata"
TRAIN_ITERATIONS = 300     # weights at 100, 200, 300 and _final


def make_workspace(folder: Path, n_train: int = 64, n_valid: int = 16, eval_style: str = "voc",
                   ground_truth: str | None = "annotations", **eval_settings) -> Workspace:
    """A workspace with a shapes dataset named `shapes` (ground_truth: annotations | coco | None)."""
    ws = init_workspace(folder)
    data = generate(folder / "datasets" / "shapes", n_train=n_train, n_valid=n_valid, relative_to=folder)
    gt = {"annotations": ws.relative(data.voc_annotations), "coco": ws.relative(data.coco_json), None: None}[ground_truth]
    config = yaml.safe_load((folder / "orch.yaml").read_text())
    config["datasets"] = {"shapes": {
        "train": ws.relative(data.train_list), "valid": ws.relative(data.valid_list),
        "names": ws.relative(data.names), "eval": eval_style, **({"ground_truth": gt} if gt else {})}}
    config["eval"].update({"settle_seconds": 0, **eval_settings})
    (folder / "orch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Workspace(folder.resolve())


@pytest.fixture
def shapes_ws(tmp_path: Path) -> Workspace:
    """A fresh workspace with a small shapes dataset (VOC ground truth)."""
    return make_workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """Backup folder of a tiny-shapes run trained for real with darknet (once per session).

    Holds tiny-shapes_100/200/300.weights and tiny-shapes_final.weights; copy before changing.
    """
    if shutil.which("darknet") is None:
        pytest.fail("darknet is not installed: run 'make install' (Debian package darknet)")
    folder = tmp_path_factory.mktemp("trained")
    ws = make_workspace(folder / "ws", n_train=64, n_valid=16)
    backup = folder / "backup"
    backup.mkdir()
    (folder / "train.data").write_text(
        f"classes = 3\ntrain = {ws.root}/datasets/shapes/train.txt\nnames = {ws.root}/datasets/shapes/shapes.names\n"
        f"backup = {backup}\n")
    cfg = (REPO / "cfg_templates" / "tiny-shapes.cfg").read_text()
    cfg = cfg.replace("max_batches = 600", f"max_batches = {TRAIN_ITERATIONS}").replace("steps=400,500", "steps=200,250")
    (folder / "tiny-shapes.cfg").write_text(cfg)
    with open(folder / "train.log", "w") as log:
        subprocess.run(["darknet", "detector", "train", str(folder / "train.data"), str(folder / "tiny-shapes.cfg")], cwd=ws.root,
                       stdout=log, stderr=subprocess.STDOUT, check=True, env={**os.environ})
    # darknet ran from the workspace root because the image lists are relative to it
    expected = [backup / f"tiny-shapes_{n}.weights" for n in (100, 200, 300)] + [backup / "tiny-shapes_final.weights"]
    missing = [p.name for p in expected if not p.is_file()]
    assert not missing, f"darknet did not write {missing}; see {folder / 'train.log'}"
    return backup
