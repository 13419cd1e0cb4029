"""Per-class results are keyed by category id: the name is a label, two categories named alike
stay two entries, and records written before ids were kept are still read."""

from __future__ import annotations

import json

import pytest

from orchestrator.metrics.coco import evaluate_coco
from orchestrator.metrics.readers import coco_detections, coco_ground_truth
from orchestrator.metrics.results import ClassAP, MetricResult
from orchestrator.metrics.voc import evaluate_voc

GT = {
    "images": [{"id": 1}],
    "categories": [{"id": 7, "name": "dup"}, {"id": 3, "name": "dup"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [10, 10, 20, 20], "area": 400}],
}
RESULTS = [{"image_id": 1, "category_id": 7, "bbox": [10, 10, 20, 20], "score": 0.9}]


def test_two_categories_named_alike_are_two_entries_in_both_styles():
    gt, detections = coco_ground_truth(GT, "gt"), coco_detections(RESULTS, "dt")
    for result, missing in ((evaluate_coco(gt, detections), -1.0), (evaluate_voc(gt, detections), 0.0)):
        per_class = result.metrics["iou"].per_class
        assert [(c.id, c.name) for c in per_class] == [(3, "dup"), (7, "dup")]
        assert per_class[0].ap == (missing,) * 10 and per_class[1].ap[0] == pytest.approx(1.0, abs=1e-12)
        assert list(result.metrics["iou"].by_label()) == ["dup (id 3)", "dup (id 7)"]


def test_per_class_json_round_trip_and_records_without_ids():
    result = MetricResult((0.5,) * 10, 0.5, (ClassAP(3, "a", (0.5,) * 10),))
    block = json.loads(json.dumps(result.to_json()))
    assert block["per_class"] == [{"id": 3, "name": "a", "ap": [0.5] * 10}]
    assert MetricResult.from_json(block) == result
    legacy = MetricResult.from_json({"ap": [0.5] * 10, "mean": 0.5, "per_class": {"a": [0.5] * 10}})
    assert legacy.per_class == (ClassAP(None, "a", (0.5,) * 10),) and legacy.by_label() == {"a": (0.5,) * 10}
