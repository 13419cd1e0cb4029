"""The overlap registry: a new overlap is one formula and one entry, nothing else.

DIoU (IoU less the squared centre distance over the enclosing box's squared diagonal) is
registered here for the test only, then evaluated by both evaluators and compared with
scalar references: pycocotools with its computeIoU replaced (COCO) and the per-detection
voc_eval loop (VOC).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from metrics.reference import pycocotools_eval, voc_reference
from metrics.test_properties import coco_sets
from orchestrator.metrics import overlaps
from orchestrator.metrics.coco import evaluate_coco
from orchestrator.metrics.geometry import PairGeometry
from orchestrator.metrics.measures import THRESHOLDS
from orchestrator.metrics.readers import coco_detections, coco_ground_truth
from orchestrator.metrics.voc import evaluate_voc


def diou(g: PairGeometry) -> np.ndarray:
    return g.iou - g.share(g.centre_distance2, g.hull_diagonal2)


@pytest.fixture
def with_diou(monkeypatch):
    monkeypatch.setitem(overlaps.OVERLAPS, "diou", overlaps.Overlap("diou", "DIoU", diou))


def coco_pair_diou(dt, gt, crowd: bool) -> float:
    dx2, dy2, gx2, gy2 = dt[0] + dt[2], dt[1] + dt[3], gt[0] + gt[2], gt[1] + gt[3]
    w = min(dx2, gx2) - max(dt[0], gt[0])
    h = min(dy2, gy2) - max(dt[1], gt[1])
    inter = w * h if (w > 0 and h > 0) else 0.0
    iou = 0.0 if inter == 0 else inter / (dt[2] * dt[3] if crowd else dt[2] * dt[3] + gt[2] * gt[3] - inter)
    centre = ((dt[0] + dt[2] / 2) - (gt[0] + gt[2] / 2)) ** 2 + ((dt[1] + dt[3] / 2) - (gt[1] + gt[3] / 2)) ** 2
    diagonal = (max(dx2, gx2) - min(dt[0], gt[0])) ** 2 + (max(dy2, gy2) - min(dt[1], gt[1])) ** 2
    return iou - (max(centre / diagonal, 0.0) if diagonal > 0 else 0.0)


def voc_pair_diou(det, gt) -> float:
    """Integer constants: exact when given Fractions (the reference's threshold test)."""
    iw = max(min(det[2], gt[2]) - max(det[0], gt[0]) + 1, 0)
    ih = max(min(det[3], gt[3]) - max(det[1], gt[1]) + 1, 0)
    inter = iw * ih
    union = (det[2] - det[0] + 1) * (det[3] - det[1] + 1) + (gt[2] - gt[0] + 1) * (gt[3] - gt[1] + 1) - inter
    centre = ((det[0] + det[2]) / 2 - (gt[0] + gt[2]) / 2) ** 2 + ((det[1] + det[3]) / 2 - (gt[1] + gt[3]) / 2) ** 2
    diagonal = (max(det[2], gt[2]) - min(det[0], gt[0]) + 1) ** 2 + (max(det[3], gt[3]) - min(det[1], gt[1]) + 1) ** 2
    return inter / union - centre / diagonal


SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(data=coco_sets())
def test_a_registered_diou_is_evaluated_in_coco_style(with_diou, data):
    gt, results = data
    reference = pycocotools_eval(gt, results, coco_pair_diou)
    result = evaluate_coco(coco_ground_truth(gt, "gt"), coco_detections(results, "dt"), metrics=("diou",))
    assert result.metrics["diou"].stats == pytest.approx(list(reference.stats), abs=1e-12)


@SETTINGS
@given(data=coco_sets())
def test_a_registered_diou_is_evaluated_in_voc_style(with_diou, data):
    gt_dict, results = data
    gt = coco_ground_truth(gt_dict, "gt")
    gt = dataclasses.replace(gt, difficult=gt.crowd, crowd=np.zeros(len(gt), bool))
    detections = coco_detections(results, "dt")
    result = evaluate_voc(gt, detections, ap_method="all", metrics=("diou",))
    expected = voc_reference(gt, detections, THRESHOLDS, voc_pair_diou, False)
    np.testing.assert_allclose(np.array([c.ap for c in result.metrics["diou"].per_class]), expected, atol=1e-12, rtol=0)


def test_unknown_overlaps_are_refused():
    with pytest.raises(ValueError, match="metrics must be among"):
        overlaps.validate_overlaps(["diou"])
    with pytest.raises(ValueError):
        overlaps.validate_overlaps([])


def test_degenerate_boxes_have_a_defined_overlap():
    """A zero-area VOC box (xmax = xmin - 1) and zero-size COCO boxes give numbers, not NaN."""
    voc = PairGeometry.voc(np.array([[5.0, 5.0, 4.0, 4.0]]), np.array([[5.0, 5.0, 4.0, 4.0]]))
    coco = PairGeometry.coco(np.array([[5.0, 5.0, 0.0, 0.0]]), np.array([[5.0, 5.0, 0.0, 0.0]]), np.array([False]))
    for geometry in (voc, coco):
        for overlap in overlaps.OVERLAPS.values():
            assert overlap.formula(geometry).tolist() == [0.0]
