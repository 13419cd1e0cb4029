"""Hostile names, YAML, templates and flags: each must exit 2 with ONE line on stderr and leave the
workspace byte for byte as it was (every file's content and mode, every folder compared)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, make_workspace

from orchestrator.cli import main

TEMPLATE = "tiny-shapes"
NEW_RUN = ["new-run", "r1", "--template", TEMPLATE, "--dataset", "shapes"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """One workspace with a shapes dataset; every case works on a copy of it."""
    return make_workspace(tmp_path_factory.mktemp("hostile") / "ws", n_train=4, n_valid=4).root


@pytest.fixture
def ws(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(pristine, copy, symlinks=True)
    return copy


def tree(root: Path) -> dict[str, tuple]:
    """Every entry under root: folders by mode, files by mode and content digest."""
    state: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        stat = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else None
        state[str(path.relative_to(root))] = (stat.st_mode, digest)
    return state


def edit_config(root: Path, section: str, key: str, value) -> None:
    config = yaml.safe_load((root / "orch.yaml").read_text())
    if section == "datasets":
        config["datasets"]["shapes"][key] = value
    else:
        config.setdefault(section, {})[key] = value
    (root / "orch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def refused(root: Path, capsys, argv: list[str], expected: str) -> None:
    """`orch -C root argv` exits 2 with one line per problem, one naming `expected`, and changes nothing."""
    before = tree(root)
    capsys.readouterr()
    assert main(["-C", str(root), *argv]) == 2
    err = capsys.readouterr().err
    assert err and all(line.startswith("orch: error: ") for line in err.splitlines()), err
    assert expected in err, err
    assert tree(root) == before


YAML_CASES = {
    "nan timeout": ("eval", "timeout", float("nan"), "eval.timeout"),
    "infinite timeout": ("eval", "timeout", float("inf"), "eval.timeout"),
    "nan settle": ("eval", "settle_seconds", float("nan"), "eval.settle_seconds"),
    "negative gpu": ("eval", "gpu", -1, "eval.gpu"),
    "huge max_attempts": ("eval", "max_attempts", 10**20, "eval.max_attempts"),
    "huge every": ("eval", "every", "99999999999999999999d", "eval.every"),
    "newline in slurm.extra": ("slurm", "extra", {"account": "x\ntouch /tmp/owned"}, "slurm.extra.account"),
    "newline in a slurm.extra name": ("slurm", "extra", {"a\nb": "x"}, "slurm.extra"),
    "newline in partition": ("slurm", "partition", "gpu\ntouch /tmp/owned", "slurm.partition"),
    "newline in mem": ("slurm", "mem", "4G\nrm -rf ~", "slurm.mem"),
    "newline in time": ("slurm", "time", "1:00:00\nid", "slurm.time"),
    "carriage return in gres type": ("slurm", "gres_type", "v100\r", "slurm.gres_type"),
    "escape in darknet binary": ("darknet", "binary", "dark\x1bnet", "darknet.binary"),
    "newline in train list": ("datasets", "train", "train.txt\nbackup = /etc", "datasets.shapes.train"),
    "newline in names": ("datasets", "names", "x.names\nbackup=/etc", "datasets.shapes.names"),
    "tab in ground truth": ("datasets", "ground_truth", "annotations\tx", "datasets.shapes.ground_truth"),
}


@pytest.mark.parametrize("case", YAML_CASES, ids=list(YAML_CASES))
def test_hostile_orch_yaml_is_refused_by_every_command_with_nothing_written(ws, capsys, case):
    section, key, value, expected = YAML_CASES[case]
    edit_config(ws, section, key, value)
    for argv in (NEW_RUN, ["eval", "--all", "--gpu", "0"], ["status"]):
        refused(ws, capsys, argv, expected)


def test_a_non_utf8_orch_yaml_is_one_line(ws, capsys):
    (ws / "orch.yaml").write_bytes((ws / "orch.yaml").read_bytes() + b"\n# caf\xe9\n")
    refused(ws, capsys, ["eval", "--all"], "not UTF-8")


def test_a_dataset_list_with_a_blank_is_refused_before_darknet_reads_another_file(ws, capsys):
    (ws / "my train.txt").write_text("")
    edit_config(ws, "datasets", "train", "my train.txt")
    refused(ws, capsys, NEW_RUN, "blank")


def test_a_non_utf8_template_is_one_line(ws, capsys):
    (ws / "cfg_templates" / "bad.cfg").write_bytes(b"[net]\n# caf\xe9\nbatch=1\n")
    refused(ws, capsys, [*NEW_RUN[:3], "bad", *NEW_RUN[4:]], "not UTF-8")


FLAG_CASES = {
    "--lr inf": (["--lr", "inf"], "--lr"),
    "--lr nan": (["--lr", "nan"], "--lr"),
    "--iou-normalizer nan": (["--iou-normalizer", "nan"], "--iou-normalizer"),
    "--max-batches huge": (["--max-batches", "99999999999999999999"], "--max-batches"),
    "--batch huge": (["--batch", str(2**31)], "--batch"),
    "--gpus huge": (["--gpus", str(2**40)], "--gpus"),
    "--steps huge": (["--max-batches", "100", "--steps", str(2**33)], "--steps"),
}


@pytest.mark.parametrize("case", FLAG_CASES, ids=list(FLAG_CASES))
def test_hostile_new_run_flags_are_refused(ws, capsys, case):
    flags, expected = FLAG_CASES[case]
    refused(ws, capsys, [*NEW_RUN, *flags], expected)


NAME_CASES = ["../escape", "a b", "a;rm -rf ~", "a\nb", "-", ".hidden", "x" * 65, "caf\u00e9"]


@pytest.mark.parametrize("name", NAME_CASES)
def test_hostile_run_names_are_refused(ws, capsys, name):
    refused(ws, capsys, ["new-run", name, *NEW_RUN[2:]], "run name")


@pytest.mark.parametrize("template", ["../../etc/passwd", ".hidden", "a/b"])
def test_hostile_template_names_are_refused(ws, capsys, template):
    refused(ws, capsys, [*NEW_RUN[:3], template, *NEW_RUN[4:]], "template")


def test_a_negative_gpu_flag_is_a_usage_error(ws, capsys):
    before = tree(ws)
    with pytest.raises(SystemExit) as exit_:
        main(["-C", str(ws), "eval", "--all", "--gpu", "-1"])
    assert exit_.value.code == 2
    assert "GPU index" in capsys.readouterr().err
    assert tree(ws) == before


def tiny_template_with(ws: Path, old: str, new: str) -> None:
    """cfg_templates/bad.cfg: the shipped tiny-shapes template with one line changed."""
    text = (REPO / "cfg_templates" / f"{TEMPLATE}.cfg").read_text()
    assert old in text
    (ws / "cfg_templates" / "bad.cfg").write_text(text.replace(old, new, 1))


CFG_CASES = {
    "filters=abc": ("filters=16", "filters=abc", "filters='abc' is not an integer"),
    "size=x3": ("size=3", "size=x3", "size='x3' is not an integer"),
    "layers=-99": ("layers = -4", "layers = -99", "layers=-99"),
    "batch=0": ("batch=16", "batch=0", "batch=0 is outside"),
    "momentum=nan": ("momentum=0.9", "momentum=nan", "not a finite number"),
    "learning_rate=abc": ("learning_rate=0.001", "learning_rate=abc", "learning_rate"),
    "mask beyond num": ("mask = 3,4,5", "mask = 3,4,9", "mask"),
}


@pytest.mark.parametrize("case", CFG_CASES, ids=list(CFG_CASES))
def test_templates_darknet_would_misread_are_refused_at_new_run(ws, capsys, case):
    old, new, expected = CFG_CASES[case]
    tiny_template_with(ws, old, new)
    refused(ws, capsys, [*NEW_RUN[:3], "bad", *NEW_RUN[4:]], expected)


SET_CASES = {
    "route.layers=abc": ("route.layers=abc", "layers='abc' is not an integer"),
    "route.layers=-99": ("route.layers=-99", "names layer"),
    "convolutional[1].filters=-5": ("convolutional[1].filters=-5", "filters=-5 is outside"),
    "net.batch=0": ("net.batch=0", "batch=0"),
    "net.learning_rate": ("net.learning_rate=0.1", "use --lr"),
    "net.burn_in": ("net.burn_in=10", "use --burn-in"),
    "yolo.classes": ("yolo.classes=3", "use --dataset"),
    "filters before [yolo]": ("convolutional[7].filters=24", "choose the classes with --dataset"),
    "yolo.iou_loss": ("yolo.iou_loss=giou", "use --iou-loss"),
}


@pytest.mark.parametrize("case", SET_CASES, ids=list(SET_CASES))
def test_set_that_cannot_do_what_it_says_is_refused(ws, capsys, case):
    setting, expected = SET_CASES[case]
    refused(ws, capsys, [*NEW_RUN, "--set", setting], expected)


def test_a_set_key_darknet_does_not_read_is_warned_with_the_closest_key(ws, capsys):
    assert main(["-C", str(ws), *NEW_RUN, "--set", "yolo.ignore_thres=0.6"]) == 0
    err = capsys.readouterr().err
    assert "ignore_thres" in err and "did you mean ignore_thresh?" in err


@pytest.mark.parametrize("gpus, warned", [(3, True), (4, False)])
def test_a_gpu_count_that_does_not_divide_100_is_warned_at_new_run_and_submit(ws, capsys, gpus, warned):
    assert main(["-C", str(ws), *NEW_RUN, "--gpus", str(gpus)]) == 0
    assert ("a checkpoint every 300 iterations" in capsys.readouterr().err) == warned
    assert main(["-C", str(ws), "submit", "r1", "--dry-run", "--warmup", "0"]) == 0
    assert ("a checkpoint every 300 iterations" in capsys.readouterr().err) == warned


def test_a_workspace_path_with_a_newline_never_reaches_an_sbatch_or_the_crontab(pristine, tmp_path, capsys):
    root = tmp_path / "ws\ntouch owned"
    shutil.copytree(pristine, root, symlinks=True)
    refused(root, capsys, NEW_RUN, "sbatch --chdir")
    refused(root, capsys, ["crontab"], "the workspace path")


def test_an_unwritable_report_folder_is_one_line(ws, capsys):
    refused(ws, capsys, ["report", "--out", "/proc/orch-report"], "/proc/orch-report")


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    """`orch log --csv big.log | head -1`: the closed pipe ends orch quietly, with the status a
    shell reports for it (141), however much output was still to come."""
    log = tmp_path / "train.log"
    log.write_bytes(
        b"".join(b" %d: 800.0, 790.0 avg, 0.001 rate, 1.0 seconds, 64 images\n" % i for i in range(1, 20001))
    )
    orch = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "log", "--csv", str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    orch.stdout.readline()
    orch.stdout.close()  # far more than a pipe holds is still to be written
    err = orch.stderr.read().decode()
    assert orch.wait() == 141 and err == "", err


@pytest.mark.parametrize("damage", ["files: {}\n", "{{{\n", "name: [\n", ""])
def test_a_damaged_run_yaml_is_one_line_and_status_still_shows_the_others(ws, capsys, damage):
    """`orch status` lists every readable run, then names the damaged run.yaml on one line
    and exits 2; the damaged file is left as it is."""
    for run in ("good", "bad"):
        assert main(["-C", str(ws), "new-run", run, "--template", TEMPLATE, "--dataset", "shapes"]) == 0
    (ws / "runs" / "bad" / "run.yaml").write_text(damage)
    before = tree(ws)
    capsys.readouterr()
    assert main(["-C", str(ws), "status"]) == 2
    out, err = capsys.readouterr()
    assert "good" in out and "bad" not in out
    assert (
        err.splitlines() == [line for line in err.splitlines() if "runs/bad/run.yaml" in line]
        and len(err.splitlines()) == 1
    )
    assert tree(ws) == before


def test_a_run_whose_dataset_left_orch_yaml_is_one_line_and_status_shows_the_others(ws, capsys):
    assert main(["-C", str(ws), "new-run", "good", "--template", TEMPLATE, "--dataset", "shapes"]) == 0
    assert main(["-C", str(ws), "new-run", "gone", "--template", TEMPLATE, "--dataset", "shapes"]) == 0
    manifest = yaml.safe_load((ws / "runs" / "gone" / "run.yaml").read_text())
    (ws / "runs" / "gone" / "run.yaml").write_text(yaml.safe_dump({**manifest, "dataset": "voc2007"}))
    capsys.readouterr()
    assert main(["-C", str(ws), "status"]) == 2
    out, err = capsys.readouterr()
    assert "good" in out and "gone" not in out
    assert len(err.splitlines()) == 1 and "gone" in err and "voc2007" in err
