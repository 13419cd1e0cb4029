"""`orch map voc|coco|darknet`: text and JSON output, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REFDATA

from orchestrator.cli import main

TOY = REFDATA / "voc" / "toy-example"
COCO = REFDATA / "coco"
MAP_COCO = [
    "map",
    "coco",
    "--gt",
    str(COCO / "instances_val2014_100.json"),
    "--dt",
    str(COCO / "instances_val2014_fakebbox100_results.json"),
]


def test_map_voc_text_table(capsys):
    assert (
        main(
            [
                "map",
                "voc",
                "--detections",
                str(TOY / "derived_comp4"),
                "--annotations",
                str(TOY / "gts_vocpascal_format"),
                "--imageset",
                str(TOY / "derived_comp4" / "imageset.txt"),
                "--ap",
                "all",
                "--metric",
                "iou",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Threshold: 0.50 | mAP: 0.896" in out and "Threshold: 0.75 | mAP: 0.510" in out
    assert "GIOU" not in out


def test_map_coco_json(capsys):
    assert main([*MAP_COCO, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["style"] == "coco" and set(result["metrics"]) == {"iou", "giou"}
    assert result["metrics"]["iou"]["stats"][0] == pytest.approx(0.5045806987249628, abs=1e-12)


def test_map_coco_text_has_the_twelve_lines(capsys):
    main([*MAP_COCO, "--metric", "giou"])
    out = capsys.readouterr().out
    assert out.count("maxDets=") == 12
    assert " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.504" in out


def test_map_darknet_against_labels(tmp_path, monkeypatch, capsys):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (40, 20)).save(tmp_path / "images" / "x_000001.png")
    (tmp_path / "labels" / "x_000001.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (tmp_path / "valid.txt").write_text("images/x_000001.png\n")
    (tmp_path / "names").write_text("thing\n")
    (tmp_path / "dets").mkdir()
    (tmp_path / "dets" / "comp4_det_test_thing.txt").write_text("x_000001 0.8 11 6 31 16\n")
    assert main(["map", "darknet", "--detections", "dets", "--valid", "valid.txt", "--names", "names", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["iou"]["ap"] == [1.0] * 10


def test_map_bad_input_is_one_line_error(capsys):
    assert main(["map", "coco", "--gt", "missing.json", "--dt", "x.json"]) == 2
    assert capsys.readouterr().err == "orch: error: file not found (missing.json)\n"
    with pytest.raises(SystemExit) as stop:
        main(["map", "voc", "--detections", "d"])
    assert stop.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_building_the_cli_imports_no_numerics():
    """`orch --help` (every command registered) must not load the engine, Pillow or plots."""
    code = (
        "import sys; from orchestrator.cli import build_parser; build_parser(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'PIL', 'matplotlib', 'plotly', 'tqdm'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "[]"
