"""`orch new-run`: the cfg, .data, .sbatch and run.yaml it writes, and every refusal."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, VOC_NAMES

from orchestrator.base.errors import OrchError
from orchestrator.cli import main
from orchestrator.darknet.cfg import read_cfg
from orchestrator.executors import new_run
from orchestrator.runs import JobRecord, RunSpec, Scaling, load_manifest, save_manifest, scale_for_gpus
from orchestrator.workspace import Workspace, init_workspace


@pytest.fixture
def voc_ws(tmp_path: Path) -> Workspace:
    """A workspace whose `voc` dataset has the 20 VOC classes and a `shapes3` one with 3."""
    root = tmp_path / "my ws"  # a space in the path must not matter
    init_workspace(root)
    for name, classes in (("voc", VOC_NAMES), ("shapes3", ("square", "circle", "triangle"))):
        (root / "data" / name).mkdir(parents=True)
        (root / "data" / name / "names").write_text("\n".join(classes) + "\n")
        (root / "data" / name / "train.txt").write_text("")
        (root / "data" / name / "valid.txt").write_text("")
    (root / "darknet53.conv.74").write_bytes(b"")
    config = yaml.safe_load((root / "orch.yaml").read_text())
    config["datasets"] = {
        name: {
            "train": f"data/{name}/train.txt",
            "valid": f"data/{name}/valid.txt",
            "names": f"data/{name}/names",
            "eval": "voc",
            "pretrained": "darknet53.conv.74",
        }
        for name in ("voc", "shapes3")
    }
    (root / "orch.yaml").write_text(yaml.safe_dump(config))
    return Workspace(root.resolve())


def orch(ws: Workspace, *args: str) -> int:
    return main(["-C", str(ws.root), *args])


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_four_gpu_giou_run_on_voc(voc_ws: Workspace, capsys):
    assert (
        orch(
            voc_ws,
            "new-run",
            "r4",
            "--template",
            "yolov3-voc",
            "--dataset",
            "voc",
            "--gpus",
            "4",
            "--iou-loss",
            "giou",
            "--iou-normalizer",
            "0.5",
            "--cls-normalizer",
            "1",
        )
        == 0
    )
    cfg = read_cfg(voc_ws.root / "runs/r4/r4.cfg")
    assert float(cfg.net.get("learning_rate")) == pytest.approx(0.001 / 4)
    assert int(cfg.net.get("burn_in")) == 1000 * 4
    assert cfg.net.get("max_batches") == "50200" and cfg.net.get("steps") == "40000,45000"
    yolos = cfg.named("yolo")
    assert len(yolos) == 3
    for yolo in yolos:
        assert (yolo.get("iou_loss"), yolo.get("iou_normalizer"), yolo.get("cls_normalizer")) == ("giou", "0.5", "1")
        assert yolo.get("classes") == "20" and cfg.conv_before(yolo).get("filters") == "75"
    data = data_entries(voc_ws.root / "runs/r4/r4.data")
    assert data["prefix"] == "r4" and data["backup"] == "backup/r4" and data["classes"] == "20"
    sbatch = (voc_ws.root / "batch/r4.sbatch").read_text()
    assert "#SBATCH --gres=gpu:4\n" in sbatch and "-gpus 0,1,2,3" in sbatch
    assert "#SBATCH --job-name=r4\n" in sbatch and "#SBATCH --requeue\n" in sbatch
    assert "#SBATCH --output=logs/r4/%j.log\n" in sbatch
    assert "stdbuf -oL -eL darknet detector train runs/r4/r4.data runs/r4/r4.cfg" in sbatch
    manifest = load_manifest(voc_ws, "r4")
    assert manifest.scaling == Scaling(
        rule="lr = base / N, burn_in = base x N",
        gpus=4,
        base_learning_rate=0.001,
        base_burn_in=1000,
        cfg_learning_rate=0.00025,
        cfg_burn_in=4000,
    )
    assert "ignores iou_loss" in capsys.readouterr().err  # pjreddie would silently train MSE


def test_one_gpu_three_classes_rewrites_classes_and_filters(voc_ws: Workspace):
    assert orch(voc_ws, "new-run", "r1", "--template", "yolov3-voc", "--dataset", "shapes3", "--gpus", "1") == 0
    cfg = read_cfg(voc_ws.root / "runs/r1/r1.cfg")
    assert [y.get("classes") for y in cfg.named("yolo")] == ["3"] * 3
    assert [cfg.conv_before(y).get("filters") for y in cfg.named("yolo")] == ["24"] * 3
    assert float(cfg.net.get("learning_rate")) == 0.001 and cfg.net.get("burn_in") == "1000"
    assert "iou_loss" not in cfg.render()
    assert (voc_ws.root / "batch/r1.sbatch").read_text().endswith("-gpus 0\n")


def test_only_edited_lines_differ_from_the_template(voc_ws: Workspace):
    orch(
        voc_ws,
        "new-run",
        "t",
        "--template",
        "yolov3-tiny",
        "--dataset",
        "voc",
        "--set",
        "net.momentum=0.95",
        "--set",
        "yolo.ignore_thresh=0.5",
    )
    template = (REPO / "cfg_templates/yolov3-tiny.cfg").read_text().splitlines()
    built = (voc_ws.root / "runs/t/t.cfg").read_text().splitlines()
    changed = {(a, b) for a, b in zip(template, built) if a != b}
    assert len(template) == len(built)
    assert changed == {
        ("momentum=0.9", "momentum=0.95"),
        ("ignore_thresh = .7", "ignore_thresh = 0.5"),
        ("filters=255", "filters=75"),
        ("classes=80", "classes=20"),
    }


def test_clone_with_from_keeps_parameters_and_applies_changes(voc_ws: Workspace):
    orch(
        voc_ws,
        "new-run",
        "a",
        "--template",
        "yolov3-voc",
        "--dataset",
        "voc",
        "--gpus",
        "2",
        "--iou-loss",
        "giou",
        "--iou-normalizer",
        "0.5",
        "--lr",
        "0.002",
        "--set",
        "net.momentum=0.95",
    )
    assert orch(voc_ws, "new-run", "b", "--from", "a", "--iou-normalizer", "0.25") == 0
    a, b = load_manifest(voc_ws, "a"), load_manifest(voc_ws, "b")
    assert b.params == {**a.params, "iou_normalizer": 0.25}
    cfg = read_cfg(voc_ws.root / "runs/b/b.cfg")
    assert cfg.net.get("learning_rate") == "0.001" and cfg.net.get("momentum") == "0.95"
    assert data_entries(voc_ws.root / "runs/b/b.data")["prefix"] == "b"


def data_entries(path: Path) -> dict[str, str]:
    """A .data file as darknet reads it: `key=value` lines, all whitespace removed."""
    lines = ("".join(line.split()) for line in path.read_text().splitlines())
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_hankai_keeps_the_base_rate():
    scaling = scale_for_gpus("hankai", 4, 0.001, 1000)
    assert (scaling.cfg_learning_rate, scaling.cfg_burn_in) == (0.001, 4000)


def test_force_rebuilds_an_existing_run_and_keeps_its_job_history(voc_ws: Workspace):
    built = new_run(voc_ws, "r", RunSpec(template="yolov3-voc", dataset="voc"))
    built.manifest.submissions.append(JobRecord("slurm", "train", "17"))
    save_manifest(voc_ws, built.manifest)
    new_run(voc_ws, "r", RunSpec(template="yolov3-voc", dataset="voc", gpus=2), force=True)
    manifest = load_manifest(voc_ws, "r")
    assert manifest.gpus == 2 and manifest.submissions == [JobRecord("slurm", "train", "17")]


BAD = [
    (["new-run", "../x", "--template", "yolov3-voc", "--dataset", "voc"], "invalid run name"),
    (["new-run", "a b", "--template", "yolov3-voc", "--dataset", "voc"], "invalid run name"),
    (["new-run", "a;rm", "--template", "yolov3-voc", "--dataset", "voc"], "invalid run name"),
    (["new-run", "x", "--template", "nope", "--dataset", "voc"], "unknown template 'nope'"),
    (["new-run", "x", "--template", "yolov3-voc", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["new-run", "x", "--template", "yolov3-voc", "--dataset", "voc", "--gpus", "0"], "--gpus must be at least 1"),
    (["new-run", "x", "--template", "yolov3-voc", "--dataset", "voc", "--iou-normalizer", "0"], "must be > 0"),
    (["new-run", "x", "--template", "yolov3-voc", "--dataset", "voc", "--cls-normalizer", "-1"], "must be > 0"),
    (
        ["new-run", "x", "--template", "yolov3-voc", "--dataset", "voc", "--iou-loss", "ciou"],
        "not known to darknet flavor pjreddie",
    ),
    (
        ["new-run", "x", "--template", "yolov3-voc", "--dataset", "voc", "--set", "nothing.key=1"],
        "no [nothing] section",
    ),
    (["new-run", "x", "--template", "yolov3-voc", "--dataset", "voc", "--set", "net.a=1 2"], "--set expects"),
    (["new-run", "x", "--template", "yolov3-voc", "--dataset", "voc", "--steps", "900000"], "beyond max_batches"),
    (["new-run", "x", "--template", "broken", "--dataset", "voc"], "line 3: expected key=value"),
    (["new-run", "x", "--template", "noconv", "--dataset", "voc"], "not preceded by a [convolutional]"),
    (["new-run", "x", "--template", "noyolo", "--dataset", "voc"], "has no [yolo] layer"),
    (["new-run", "x", "--template", "badmask", "--dataset", "voc"], "outside 0..2"),
    (["new-run", "x", "--dataset", "voc"], "needs --template"),
    (["new-run", "exists", "--template", "yolov3-voc", "--dataset", "voc"], "already exists"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a[1:3]) + " " + m for a, m in BAD])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(voc_ws: Workspace, capsys, args, message):
    templates = voc_ws.root / "cfg_templates"
    (templates / "broken.cfg").write_text("[net]\nbatch=1\nthis line is wrong\n")
    (templates / "noconv.cfg").write_text("[net]\nmax_batches=10\n[maxpool]\nsize=2\n[yolo]\nmask=0\nnum=1\n")
    (templates / "noyolo.cfg").write_text("[net]\nmax_batches=10\n[convolutional]\nfilters=1\n")
    (templates / "badmask.cfg").write_text(
        "[net]\nmax_batches=10\n[convolutional]\nfilters=1\n[yolo]\nmask=0,5\nnum=3\n"
    )
    new_run(voc_ws, "exists", RunSpec(template="yolov3-voc", dataset="voc"))
    capsys.readouterr()
    before = snapshot(voc_ws.root)
    assert orch(voc_ws, *args) == 2
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if not line.startswith(" ")]  # a hint is indented
    assert len(error_lines) == 1 and err.startswith("orch: error: ") and message in error_lines[0]
    assert snapshot(voc_ws.root) == before


def test_more_than_80_classes_with_coco_evaluation_is_refused(voc_ws: Workspace, capsys):
    """Darknet's coco_results.json names classes through an 80-entry table: class 80 has no id."""
    (voc_ws.root / "data/voc/names").write_text("".join(f"class{i}\n" for i in range(81)))
    config = yaml.safe_load((voc_ws.root / "orch.yaml").read_text())
    config["datasets"]["voc"]["eval"] = "coco"
    (voc_ws.root / "orch.yaml").write_text(yaml.safe_dump(config))
    before = snapshot(voc_ws.root)
    assert orch(voc_ws, "new-run", "x", "--template", "yolov3-voc", "--dataset", "voc") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "81 classes: darknet's coco_results.json cannot name" in err
    assert "eval: voc" in err and "datasets.voc.eval" in err
    assert snapshot(voc_ws.root) == before


def test_every_problem_of_new_run_is_reported_at_once(voc_ws: Workspace, capsys):
    args = ["new-run", "x", "--template", "nope", "--dataset", "nada", "--gpus", "0", "--iou-loss", "ciou"]
    before = snapshot(voc_ws.root)
    assert orch(voc_ws, *args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("orch: error: ")]
    assert len(errors) == 4
    for message in ("unknown template 'nope'", "unknown dataset 'nada'", "--gpus must be at least 1", "ciou"):
        assert sum(message in line for line in errors) == 1
    assert "      nada:\n        train: " in err  # the orch.yaml lines to add
    assert snapshot(voc_ws.root) == before


def test_new_run_from_records_its_parent(voc_ws: Workspace, capsys):
    new_run(voc_ws, "base", RunSpec(template="yolov3-voc", dataset="voc"))
    capsys.readouterr()
    assert orch(voc_ws, "new-run", "child", "--from", "base", "--iou-normalizer", "0.5", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["manifest"]["parent"] == "base" and "runs/child/run.yaml" in shown["wrote"]
    assert load_manifest(voc_ws, "child").parent == "base" and load_manifest(voc_ws, "base").parent is None


def test_missing_dataset_file_is_named(voc_ws: Workspace):
    os.remove(voc_ws.root / "data/voc/valid.txt")
    with pytest.raises(OrchError, match=r"datasets.voc.valid.valid: file not found: data/voc/valid.txt"):
        new_run(voc_ws, "x", RunSpec(template="yolov3-voc", dataset="voc"))


def test_sbatch_is_valid_bash_that_resumes_from_the_newest_weights(voc_ws: Workspace, tmp_path: Path):
    new_run(voc_ws, "r", RunSpec(template="tiny-shapes", dataset="shapes3"))
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "stdbuf").write_text('#!/bin/sh\nshift 2\necho "$@"\n')  # prints the darknet command line
    (fake / "stdbuf").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}

    def run():
        return subprocess.run(
            ["bash", str(voc_ws.sbatch_path("r"))], env=env, capture_output=True, text=True, check=True
        ).stdout.splitlines()[-1]

    assert run().endswith("runs/r/r.cfg darknet53.conv.74 -gpus 0")
    backup = voc_ws.backup_dir("r")
    for name, age in (("tiny-shapes_100.weights", 30), ("r.backup", 10), ("r_200.weights", 20)):
        (backup / name).write_bytes(b"w")
        os.utime(backup / name, (1e9 - age, 1e9 - age))
    assert run().endswith("runs/r/r.cfg backup/r/r.backup -gpus 0")
    (backup / "r_300.weights").write_bytes(b"")  # newest, but cut short by a killed job
    assert run().endswith("runs/r/r.cfg backup/r/r.backup -gpus 0")


def test_templates_lists_shipped_and_workspace_templates(voc_ws: Workspace, tmp_path: Path, capsys, monkeypatch):
    (voc_ws.root / "cfg_templates" / "mine.cfg").write_text(
        "# my own: a one-layer probe\n[net]\nwidth=64\nheight=32\n[convolutional]\nfilters=8\n[yolo]\nclasses=2\n"
    )
    monkeypatch.chdir(voc_ws.root / "runs")
    assert main(["templates", "--json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert list(listed) == ["mine", "tiny-shapes", "yolov3-coco", "yolov3-tiny", "yolov3-voc"]
    assert [listed["mine"][k] for k in ("width", "height", "classes", "yolo_layers", "purpose")] == [
        64,
        32,
        2,
        1,
        "my own: a one-layer probe",
    ]
    assert [listed["yolov3-coco"][k] for k in ("width", "classes", "yolo_layers")] == [608, 80, 3]
    assert [listed["yolov3-tiny"][k] for k in ("width", "classes", "yolo_layers")] == [416, 80, 2]
    monkeypatch.chdir(tmp_path)  # outside any workspace: the shipped ones
    assert main(["templates"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table[2:]] == ["tiny-shapes", "yolov3-coco", "yolov3-tiny", "yolov3-voc"]
    assert table[3].split()[1:4] == ["608x608", "80", "3"]
