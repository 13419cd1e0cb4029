"""VOC's own rules: a match needs an overlap strictly above the decimal threshold; difficult is
any non-zero value; a box of zero area (xmax = xmin - 1) has a defined overlap."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.metrics.boxes import Detections, GroundTruth
from orchestrator.metrics.readers import read_voc_annotations
from orchestrator.metrics.voc import evaluate_voc


def one_pair(gt_box, det_box, difficult: bool = False):
    gt = GroundTruth(
        image_names=("a",),
        image_ids=np.array([0]),
        class_names=("c",),
        class_ids=np.array([0]),
        image=np.array([0]),
        label=np.array([0]),
        boxes=np.array([gt_box], dtype=float),
        box_format="xyxy",
        area=np.array([1.0]),
        crowd=np.zeros(1, bool),
        difficult=np.array([difficult]),
    )
    return gt, Detections(
        np.array(["a"], dtype=object), np.array([0]), np.array([0.9]), np.array([det_box], float), "xyxy"
    )


def test_an_overlap_of_exactly_point_nine_does_not_pass_point_nine():
    """GT (1,1,10,10) and detection (1,1,9,10): 90 of 100 pixels, IoU exactly 0.9 (GIoU too)."""
    result = evaluate_voc(*one_pair((1, 1, 10, 10), (1, 1, 9, 10)), ap_method="all")
    for metric in ("iou", "giou"):
        assert result.metrics[metric].ap == (1.0,) * 8 + (0.0, 0.0)


@pytest.mark.parametrize("det_x2, passes", [(9, 8), (8, 6), (6, 2)])  # IoU .9, .8, .6: pass the thresholds below
def test_exact_overlaps_pass_exactly_the_thresholds_below_them(det_x2, passes):
    result = evaluate_voc(*one_pair((1, 1, 10, 10), (1, 1, det_x2, 10)), ap_method="all", metrics=("iou",))
    assert result.metrics["iou"].ap == (1.0,) * passes + (0.0,) * (10 - passes)


def test_a_zero_area_box_has_a_defined_overlap():
    for gt_box, det_box in [((5, 5, 4, 10), (5, 5, 4, 10)), ((1, 1, 10, 10), (5, 5, 4, 10))]:
        result = evaluate_voc(*one_pair(gt_box, det_box), ap_method="all")
        for metric in ("iou", "giou"):  # a box of no area overlaps nothing: no hit, AP 0
            assert result.metrics[metric].ap == (0.0,) * 10


@pytest.mark.parametrize("value, difficult", [("0", False), ("1", True), ("2", True), ("-1", True), ("0.0", False)])
def test_difficult_is_any_non_zero_number(tmp_path, value, difficult):
    (tmp_path / "a.xml").write_text(
        f"<annotation><object><name>c</name><difficult>{value}</difficult>"
        "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>"
    )
    (tmp_path / "set.txt").write_text("a\n")
    assert read_voc_annotations(tmp_path, tmp_path / "set.txt").difficult.tolist() == [difficult]
