"""Property tests: the engine against pycocotools (IoU, 1e-12, precision and recall arrays),
patched pycocotools (GIoU) and a per-detection voc_eval loop (VOC) on random sets with the
awkward cases: crowd boxes, `ignore` flags (pycocotools overwrites them with iscrowd), areas
exactly on the small/medium/large boundaries (32², 96²) for ground truth and detections, images
with more than 100 detections (maxDets), empty images, images with detections but no ground
truth, classes without detections or without ground truth, duplicate scores, boxes on a coarse
grid (exact-threshold overlaps)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.reference import pycocotools_eval, voc_reference
from orchestrator.metrics.coco import evaluate_coco
from orchestrator.metrics.measures import THRESHOLDS
from orchestrator.metrics.readers import coco_detections, coco_ground_truth
from orchestrator.metrics.results import MetricResult
from orchestrator.metrics.voc import evaluate_voc

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def coco_sets(draw):
    """A random COCO ground truth dict and results list (at least one detection)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_images = draw(st.integers(1, 6))
    cat_ids = sorted(rng.choice(np.arange(1, 10), size=draw(st.integers(1, 4)), replace=False))
    image_ids = sorted(rng.choice(np.arange(1, 50), size=n_images, replace=False))
    grid = draw(st.sampled_from([1.0, 8.0, 0.0]))  # 0: continuous coordinates

    def box():
        x, y = rng.uniform(0, 120, 2)
        w, h = rng.uniform(2, 150, 2)
        values = np.array([x, y, w, h])
        return [float(v) for v in (np.round(values / grid) * grid if grid else values)]

    def on_boundary() -> list[float]:
        """A box whose w*h is exactly an area-range boundary (32² or 96²), or one unit off."""
        side = float(rng.choice([32, 96])) + float(rng.choice([0, 0, -1, 1])) * (grid or 1.0)
        x, y = (float(np.round(v)) for v in rng.uniform(0, 100, 2))
        return [x, y, side, side] if rng.random() < 0.5 else [x, y, side * 2, side / 2]

    annotations = []
    for image in image_ids[: max(1, n_images - 1)]:  # the last image may stay empty
        for _ in range(rng.integers(0, 6)):
            b = on_boundary() if rng.random() < 0.2 else box()
            annotation = {
                "id": len(annotations) + 1,
                "image_id": int(image),
                "category_id": int(rng.choice(cat_ids)),
                "bbox": b,
                "area": b[2] * b[3] * float(rng.choice([1.0, 1.0, 0.3, 2.5])),
                "iscrowd": int(rng.random() < 0.15),
            }
            if rng.random() < 0.1:
                annotation["ignore"] = 1
            annotations.append(annotation)
    scores = rng.choice([0.9, 0.5, 0.5, 0.3], size=64) if draw(st.booleans()) else rng.random(64)
    results = []
    crowded = draw(st.booleans())  # one image gets more detections than maxDets (100)
    for i in range(draw(st.integers(101, 160)) if crowded else draw(st.integers(1, 60))):
        if crowded and annotations and rng.random() < 0.8:
            source = annotations[0]
            b = [float(v) for v in np.array(source["bbox"]) + rng.normal(0, 4, 4).clip(-source["bbox"][2] / 3, None)]
            b = [b[0], b[1], max(b[2], 1.0), max(b[3], 1.0)]
            results.append(
                {
                    "image_id": source["image_id"],
                    "category_id": source["category_id"],
                    "bbox": b,
                    "score": float(scores[i % len(scores)]),
                }
            )
            continue
        if rng.random() < 0.1:
            b, image = on_boundary(), int(rng.choice(image_ids))
            results.append(
                {
                    "image_id": image,
                    "category_id": int(rng.choice(cat_ids)),
                    "bbox": b,
                    "score": float(scores[i % len(scores)]),
                }
            )
            continue
        if annotations and rng.random() < 0.6:
            source = annotations[rng.integers(len(annotations))]
            jitter = rng.normal(0, draw(st.sampled_from([0.0, 3.0, 10.0])), 4)
            b = [float(max(v, 0.5)) for v in np.array(source["bbox"]) + jitter]
            if grid:
                b = [float(max(np.round(v / grid) * grid, grid)) for v in b]
            image, category = source["image_id"], source["category_id"]
        else:
            b, image = box(), int(rng.choice(image_ids))
            category = int(rng.choice(cat_ids + [99]))  # 99: a category the GT lacks
        results.append({"image_id": image, "category_id": category, "bbox": b, "score": float(scores[i % len(scores)])})
    gt = {
        "images": [{"id": int(i), "file_name": f"im_{i}.jpg"} for i in image_ids],
        "categories": [{"id": int(c), "name": f"c{c}"} for c in cat_ids],
        "annotations": annotations,
    }
    return gt, results


def ours(gt: dict, results: list, metric: str) -> MetricResult:
    return evaluate_coco(coco_ground_truth(gt, "gt"), coco_detections(results, "dt"), metrics=(metric,)).metrics[metric]


@SETTINGS
@given(coco_sets())
def test_coco_iou_equals_pycocotools(data):
    gt, results = data
    reference = pycocotools_eval(gt, results, "iou")
    result = ours(gt, results, "iou")
    assert result.stats == pytest.approx(list(reference.stats), abs=1e-12)
    precision, recall = coco_arrays(gt, results, "iou")
    np.testing.assert_allclose(precision, reference.eval["precision"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(recall, reference.eval["recall"], atol=1e-12, rtol=0)


@SETTINGS
@given(coco_sets())
def test_coco_giou_equals_patched_pycocotools(data):
    gt, results = data
    reference = pycocotools_eval(gt, results, "giou")
    assert ours(gt, results, "giou").stats == pytest.approx(list(reference.stats), abs=1e-12)
    precision, recall = coco_arrays(gt, results, "giou")
    np.testing.assert_allclose(precision, reference.eval["precision"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(recall, reference.eval["recall"], atol=1e-12, rtol=0)


def coco_arrays(gt: dict, results: list, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The full precision (T, R, K, A, M) and recall (T, K, A, M) arrays, beyond the 12 averages."""
    from orchestrator.metrics.coco import precision_recall

    precision, recall = precision_recall(coco_ground_truth(gt, "gt"), coco_detections(results, "dt"), (metric,))
    return precision[0], recall[0]


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(coco_sets(), st.sampled_from(["11point", "all"]), st.sampled_from(["iou", "giou"]))
def test_voc_equals_per_detection_loop(data, method, metric):
    gt_dict, results = data
    ground_truth = coco_ground_truth(gt_dict, "gt")
    detections = coco_detections(results, "dt")
    # Reuse the COCO sets as VOC boxes: crowd becomes difficult, xyxy from xywh.
    ground_truth = dataclasses.replace(
        ground_truth, difficult=ground_truth.crowd, crowd=np.zeros(len(ground_truth), bool)
    )
    result = evaluate_voc(ground_truth, detections, ap_method=method, metrics=(metric,))
    expected = voc_reference(ground_truth, detections, THRESHOLDS, metric, method == "11point")
    got = np.array([c.ap for c in result.metrics[metric].per_class])
    np.testing.assert_allclose(got, expected, atol=1e-12, rtol=0)
