"""Numbers that cannot be right are refused, not computed: each malformed input makes `orch map`
exit 2 with one line naming the file and the entry, and print nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from orchestrator.cli import main

GOOD_XML = (
    "<annotation><object><name>thing</name><difficult>0</difficult>"
    "<bndbox><xmin>11</xmin><ymin>6</ymin><xmax>31</xmax><ymax>16</ymax></bndbox></object></annotation>"
)
GOOD_GT = {
    "images": [{"id": 1, "file_name": "x_000001.png"}],
    "categories": [{"id": 1, "name": "thing"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 5, 20, 10], "area": 200, "iscrowd": 0}],
}
GOOD_DT = [{"image_id": 1, "category_id": 1, "bbox": [10, 5, 20, 10], "score": 0.8}]

COMMANDS = {
    "coco": ["map", "coco", "--gt", "gt.json", "--dt", "dt.json"],
    "voc": ["map", "voc", "--detections", "dets", "--annotations", "xml", "--imageset", "set.txt"],
    "labels": ["map", "darknet", "--detections", "dets", "--valid", "valid.txt", "--names", "names"],
    "labels-coco": ["map", "darknet", "--detections", "dt.json", "--valid", "valid.txt", "--names", "names"]
    + ["--style", "coco"],
}


def gt_with(**changes) -> str:
    """GOOD_GT with keys of its first image / category / annotation replaced (`annotation_bbox=...`)."""
    data = json.loads(json.dumps(GOOD_GT))
    for key, value in changes.items():
        part, field = key.split("_", 1)
        data[{"image": "images", "category": "categories", "annotation": "annotations"}[part]][0][field] = value
    return json.dumps(data)


def dt_with(**changes) -> str:
    return json.dumps([{**GOOD_DT[0], **changes}])


# (command, file written, its content, what the one line must say)
CASES = [
    (
        "coco",
        "gt.json",
        gt_with(annotation_bbox=[float("nan"), 5, 20, 10]),
        "annotation 0: bbox [NaN, 5, 20, 10] is not 4 finite numbers (gt.json)",
    ),
    (
        "coco",
        "gt.json",
        gt_with(annotation_bbox=[10, 5, float("inf"), 10]),
        "annotation 0: bbox [10, 5, Infinity, 10] is not 4 finite numbers",
    ),
    (
        "coco",
        "gt.json",
        gt_with(annotation_area=float("nan")),
        "annotation 0: area NaN is not a finite number (gt.json)",
    ),
    ("coco", "gt.json", gt_with(annotation_area="200"), 'annotation 0: area "200" is not a number'),
    ("coco", "gt.json", gt_with(image_id=2.7), "image 0: id 2.7 is not an integer (gt.json)"),
    ("coco", "gt.json", gt_with(annotation_image_id=1.5), "annotation 0: image_id 1.5 is not an integer"),
    ("coco", "gt.json", gt_with(category_id=1.5), "category 0: id 1.5 is not an integer"),
    ("coco", "gt.json", gt_with(annotation_id=2.7), "annotation 0: id 2.7 is not an integer"),
    ("coco", "gt.json", gt_with(annotation_iscrowd="0"), 'annotation 0: iscrowd "0" is not a number (gt.json)'),
    ("coco", "gt.json", gt_with(annotation_iscrowd=None), "annotation 0: iscrowd null is not a number"),
    ("coco", "dt.json", dt_with(score=float("nan")), "detection entry 0: score NaN is not a finite number (dt.json)"),
    ("coco", "dt.json", dt_with(bbox=[10, 5, 20, "10"]), 'detection entry 0: bbox [10, 5, 20, "10"] is not 4 finite'),
    ("coco", "dt.json", dt_with(bbox=[10, 5, 20]), "detection entry 0: bbox [10, 5, 20] is not 4 finite"),
    ("coco", "dt.json", dt_with(image_id=2.7), "detection entry 0: image_id 2.7 is not an integer"),
    ("coco", "dt.json", dt_with(category_id="1"), 'detection entry 0: category_id "1" is not a number'),
    (
        "coco",
        "dt.json",
        '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1e999}]',
        "score Infinity is not a finite number",
    ),
    ("coco", "dt.json", "", "empty file: not a darknet coco_results.json (dt.json)"),
    (
        "voc",
        "xml/x_000001.xml",
        GOOD_XML.replace("<xmin>11", "<xmin>nan"),
        "object 1: bndbox 'nan' is not a finite number (xml/x_000001.xml)",
    ),
    (
        "voc",
        "xml/x_000001.xml",
        GOOD_XML.replace("<ymax>16", "<ymax>inf"),
        "object 1: bndbox 'inf' is not a finite number",
    ),
    (
        "voc",
        "xml/x_000001.xml",
        GOOD_XML.replace("<difficult>0", "<difficult>yes"),
        "object 1: difficult 'yes' must be a number",
    ),
    ("voc", "xml/x_000001.xml", GOOD_XML.replace("<xmax>31", "<xmax>3 1"), "object 1: bndbox '3 1' must be a number"),
    ("voc", "set.txt", "\n", "the imageset is empty (set.txt)"),
    (
        "voc",
        "dets/comp4_det_test_thing.txt",
        "x_000001 nan 11 6 31 16\n",
        "score and box 'nan 11 6 31 16' hold a NaN or infinite number (dets/comp4_det_test_thing.txt:1)",
    ),
    (
        "voc",
        "dets/comp4_det_test_thing.txt",
        "x_000001 0.8 11 6 inf 16\n",
        "hold a NaN or infinite number (dets/comp4_det_test_thing.txt:1)",
    ),
    (
        "labels",
        "labels/x_000001.txt",
        "0 nan 0.5 0.5 0.5\n",
        "box 'nan 0.5 0.5 0.5' holds a NaN or infinite number (labels/x_000001.txt:1)",
    ),
    (
        "labels",
        "labels/x_000001.txt",
        "0 0.5 0.5 Infinity 0.5\n",
        "holds a NaN or infinite number (labels/x_000001.txt:1)",
    ),
    (
        "labels",
        "labels/x_000001.txt",
        "0.5 0.5 0.5 0.5 0.5\n",
        "expected '<class 0..0> <cx> <cy> <w> <h>' (labels/x_000001.txt:1)",
    ),
    ("labels", "valid.txt", "", "the valid list is empty (valid.txt)"),
    (
        "labels-coco",
        "names",
        "".join(f"c{i}\n" for i in range(81)),
        "81 classes: darknet's coco_results.json cannot name classes beyond",
    ),
]


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch) -> Path:
    """One image with one object, in every format `orch map` reads, all of them valid."""
    monkeypatch.chdir(tmp_path)
    for folder in ("images", "labels", "xml", "dets"):
        (tmp_path / folder).mkdir()
    Image.new("RGB", (40, 20)).save(tmp_path / "images" / "x_000001.png")
    (tmp_path / "labels" / "x_000001.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (tmp_path / "valid.txt").write_text("images/x_000001.png\n")
    (tmp_path / "names").write_text("thing\n")
    (tmp_path / "set.txt").write_text("x_000001\n")
    (tmp_path / "xml" / "x_000001.xml").write_text(GOOD_XML)
    (tmp_path / "dets" / "comp4_det_test_thing.txt").write_text("x_000001 0.8 11 6 31 16\n")
    (tmp_path / "gt.json").write_text(json.dumps(GOOD_GT))
    (tmp_path / "dt.json").write_text(json.dumps(GOOD_DT))
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS)
def test_the_valid_inputs_are_scored(inputs, command, capsys):
    assert main([*COMMANDS[command], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["iou"]["ap"][0] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("command, path, content, message", CASES, ids=[c[3][:60] for c in CASES])
def test_malformed_input_exits_2_with_one_line(inputs, capsys, command, path, content, message):
    (inputs / path).write_text(content)
    assert main(COMMANDS[command]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("orch: error: ") and err.count("\n") == 1
    assert message in err
