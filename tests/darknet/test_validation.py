"""A darknet validation set: ground truth from any source, keyed as darknet's outputs key images."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from orchestrator.base.errors import OrchError
from orchestrator.darknet.validation import evaluate_detections, load_ground_truth


def test_darknet_labels_ground_truth_evaluated_from_comp4_and_from_json(tmp_path, monkeypatch):
    """GT from Darknet label files + image headers, evaluated from comp4 and from json."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "set" / "images").mkdir(parents=True)
    (tmp_path / "set" / "labels").mkdir()
    Image.new("RGB", (200, 100)).save(tmp_path / "set" / "images" / "pic_000003.jpg")
    (tmp_path / "set" / "labels" / "pic_000003.txt").write_text("1 0.5 0.5 0.5 0.4\n")
    (tmp_path / "valid.txt").write_text("set/images/pic_000003.jpg\n")
    (tmp_path / "names").write_text("a\nb\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "comp4_det_test_b.txt").write_text("pic_000003 0.9 51 31 151 71\n")
    (tmp_path / "r.json").write_text('[{"image_id":3, "category_id":2, "bbox":[50, 30, 100, 40], "score":0.9}]')
    for style in ("voc", "coco"):
        gt = load_ground_truth(style, "valid.txt", "names")
        assert gt.boxes.tolist() == [[50.0, 30.0, 100.0, 40.0]]
        for output in ("out", "r.json"):
            result = evaluate_detections(gt, output, style, "all", ("iou", "giou"))
            assert result.metrics["giou"].by_label()["b"] == pytest.approx([1.0] * 10, abs=1e-12)
            assert result.metrics["iou"].by_label()["a"][0] == (0.0 if style == "voc" else -1.0)


@pytest.fixture
def two_sources(tmp_path, monkeypatch):
    """The same object as a VOC XML folder and as a COCO json, for an image whose name has two dots."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "valid.txt").write_text("imgs/pic_000007.v1.jpg\n")
    (tmp_path / "names").write_text("thing\n")
    (tmp_path / "xml").mkdir()
    (tmp_path / "xml" / "pic_000007.xml").write_text(
        "<annotation><object><name>thing</name><difficult>0</difficult>"
        "<bndbox><xmin>11</xmin><ymin>6</ymin><xmax>31</xmax><ymax>16</ymax></bndbox></object></annotation>"
    )
    (tmp_path / "gt.json").write_text(
        '{"images": [{"id": 7, "file_name": "pic_000007.v1.jpg"}], "categories": [{"id": 1, "name": "Thing"}],'
        ' "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 5, 20, 10], "area": 200}]}'
    )
    zero_based = (tmp_path / "gt.json").read_text().replace('"id": 1, "name"', '"id": 0, "name"')
    (tmp_path / "gt0.json").write_text(zero_based.replace('"category_id": 1', '"category_id": 0'))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "comp4_det_test_thing.txt").write_text("pic_000007 0.8 11 6 31 16\n")
    (tmp_path / "r.json").write_text('[{"image_id": 7, "category_id": 1, "bbox": [10, 5, 20, 10], "score": 0.8}]')


@pytest.mark.parametrize("ground_truth", ["xml", "gt.json", "gt0.json"])
@pytest.mark.parametrize("output", ["out", "r.json"])
def test_voc_and_coco_ground_truth_get_darknets_image_keys_and_class_names(two_sources, ground_truth, output):
    """Darknet's json says category coco_ids[0] = 1 for class 0, whatever the ground truth calls it."""
    gt = load_ground_truth("voc", "valid.txt", "names", ground_truth)
    assert gt.image_names == ("pic_000007",) and gt.image_ids.tolist() == [7] and gt.class_names == ("thing",)
    result = evaluate_detections(gt, output, "voc", "all", ("iou",))
    assert result.metrics["iou"].by_label()["thing"] == (1.0,) * 10


def test_more_than_80_classes_refused_for_coco_style_and_for_json_output(two_sources):
    Path("names").write_text("thing\n" + "".join(f"c{i}\n" for i in range(1, 81)))
    with pytest.raises(OrchError, match=r"81 classes: darknet.s coco_results\.json cannot name"):
        load_ground_truth("coco", "valid.txt", "names")
    gt = load_ground_truth("voc", "valid.txt", "names", "xml")
    assert evaluate_detections(gt, "out", "voc", "all", ("iou",)).metrics["iou"].ap == (1 / 81,) * 10
    with pytest.raises(OrchError, match="81 classes"):
        evaluate_detections(gt, "r.json", "voc", "all", ("iou",))
