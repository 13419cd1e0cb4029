"""`orch init`, finding the workspace, and orch.yaml validation."""

from pathlib import Path

import pytest
import yaml

from orchestrator.base.errors import OrchError
from orchestrator.cli import main
from orchestrator.config import load_config
from orchestrator.workspace import LAYOUT, Workspace, init_workspace


def test_init_creates_layout_and_a_commented_valid_config(tmp_path: Path, capsys):
    assert main(["init", str(tmp_path / "exp")]) == 0
    root = tmp_path / "exp"
    assert all((root / sub).is_dir() for sub in LAYOUT)
    text = (root / "orch.yaml").read_text()
    assert text.count("#") > 20
    config = load_config(root / "orch.yaml")
    assert config.darknet.flavor == "pjreddie" and config.executor == "auto"
    assert config.eval.metrics == ("iou", "giou") and config.eval.every_seconds == 600


def test_init_refuses_to_overwrite(tmp_path: Path, capsys):
    init_workspace(tmp_path)
    (tmp_path / "orch.yaml").write_text("executor: local\n")
    assert main(["init", str(tmp_path)]) == 2
    assert "already initialised" in capsys.readouterr().err
    assert (tmp_path / "orch.yaml").read_text() == "executor: local\n"


def test_workspace_is_found_from_a_subfolder_or_with_C(tmp_path: Path, monkeypatch):
    init_workspace(tmp_path / "w")
    monkeypatch.chdir(tmp_path / "w" / "runs")
    assert Workspace.find(Path.cwd()).root == (tmp_path / "w").resolve()
    with pytest.raises(OrchError, match=r"no orch\.yaml found"):
        Workspace.find(tmp_path / "w" / "runs", explicit=True)


def test_commands_outside_a_workspace_fail_in_one_line(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["new-run", "x", "--template", "tiny-shapes", "--dataset", "d"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orch: error: no orch.yaml found") and err.count("\n") == 1


def test_unknown_option_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["new-run", "--no-such-option"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(
    "config, message",
    [
        ({"colour": "blue"}, "orch.yaml.colour: unknown key"),
        ({"darknet": {"flavor": "tensorflow"}}, "darknet.flavor: 'tensorflow' is not one of"),
        ({"darknet": {"binray": "x"}}, "darknet.binray: unknown key"),
        ({"eval": {"gpu": "zero"}}, "eval.gpu: expected int, got str"),
        ({"eval": {"gpu": True}}, "eval.gpu: expected int, got a boolean"),
        ({"eval": {"every": "soon"}}, "eval.every: not a duration"),
        ({"eval": {"metrics": ["iou", "diou"]}}, "eval.metrics: 'diou' is not one of"),
        ({"eval": {"ap_method": "101point"}}, "eval.ap_method: '101point' is not one of"),
        ({"slurm": {"cpus_per_task": 0}}, "slurm.cpus_per_task: must be at least 1"),
        ({"executor": "kubernetes"}, "executor: 'kubernetes' is not one of"),
        ({"datasets": {"voc": {"train": "t.txt", "names": "n"}}}, "datasets.voc.valid: missing"),
        ({"datasets": {"voc": {"train": "t", "valid": "v", "names": "n", "eval": "kitti"}}}, "datasets.voc.eval"),
        (
            {"datasets": {"voc": {"train": "t", "valid": "v", "names": "n", "extra": 1}}},
            "datasets.voc.extra: unknown key",
        ),
    ],
)
def test_bad_config_names_key_and_file(tmp_path: Path, config, message):
    path = tmp_path / "orch.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(OrchError) as error:
        load_config(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_yaml_syntax_error_gives_the_line(tmp_path: Path):
    path = tmp_path / "orch.yaml"
    path.write_text("eval:\n  gpu: 0\n bad: [\n")
    with pytest.raises(OrchError, match=r"not valid YAML line \d"):
        load_config(path)


def test_valid_mapping_of_splits(tmp_path: Path):
    path = tmp_path / "orch.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "datasets": {
                    "coco": {
                        "train": "t",
                        "names": "n",
                        "eval": "coco",
                        "valid": {"minival": "a.txt", "val2017": "b.txt"},
                    }
                }
            }
        )
    )
    assert load_config(path).datasets["coco"].valid == {"minival": "a.txt", "val2017": "b.txt"}
