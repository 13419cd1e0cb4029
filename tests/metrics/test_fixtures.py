"""The metrics engine against fixtures with cited answers (tests/data, sources in PROVENANCE.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REFDATA

from orchestrator.base.errors import OrchError
from orchestrator.darknet.cfg import read_names
from orchestrator.darknet.outputs import read_comp4_folder, read_darknet_coco_json
from orchestrator.metrics.boxes import Detections, GroundTruth
from orchestrator.metrics.coco import evaluate_coco
from orchestrator.metrics.readers import read_coco_gt, read_voc_annotations
from orchestrator.metrics.voc import evaluate_voc

COCO = REFDATA / "coco"
TOY = REFDATA / "voc" / "toy-example"
CASE1 = REFDATA / "voc" / "test-case-1" / "test_case_1"
COCO_STATS = [
    0.5045806987249628,
    0.6969727247299577,
    0.5729816669904824,
    0.5856257209410443,
    0.5193996948036719,
    0.5013978986347466,
    0.38681277964578054,
    0.5936795762842003,
    0.595352982877607,
    0.6398109626113442,
    0.5664205978994309,
    0.5642905982905982,
]


@pytest.fixture(scope="module")
def coco_fixture() -> dict:
    gt = read_coco_gt(COCO / "instances_val2014_100.json")
    dt = read_darknet_coco_json(COCO / "instances_val2014_fakebbox100_results.json")
    return evaluate_coco(gt, dt)


def test_coco_fixture_iou_stats_equal_pycocotools(coco_fixture):
    assert coco_fixture.metrics["iou"].stats == pytest.approx(COCO_STATS, abs=1e-12)
    assert coco_fixture.metrics["iou"].mean == pytest.approx(COCO_STATS[0], abs=1e-12)


def test_coco_fixture_giou_equals_patched_pycocotools(coco_fixture):
    from metrics.reference import pycocotools_eval

    gt = json.loads((COCO / "instances_val2014_100.json").read_text())
    results = json.loads((COCO / "instances_val2014_fakebbox100_results.json").read_text())
    reference = pycocotools_eval(gt, results, metric="giou")
    assert coco_fixture.metrics["giou"].stats == pytest.approx(list(reference.stats), abs=1e-12)
    # GIoU <= IoU, so AP at strict thresholds can only drop
    assert coco_fixture.metrics["giou"].stats[0] == pytest.approx(0.5040449451496052, abs=1e-12)


def test_coco_result_is_json_with_per_class_and_thresholds(coco_fixture):
    as_json = coco_fixture.to_json()
    iou = as_json["metrics"]["iou"]
    assert json.loads(json.dumps(as_json)) == as_json
    assert list(as_json) == ["style", "ap_method", "metrics"] and as_json["ap_method"] == "101point"
    assert list(iou) == ["thresholds", "ap", "mean", "per_class", "stats"]
    assert iou["thresholds"] == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert iou["ap"][0] == pytest.approx(COCO_STATS[1], abs=1e-12)
    assert iou["ap"][5] == pytest.approx(COCO_STATS[2], abs=1e-12)
    assert len(iou["per_class"]) == 80 and all(len(c["ap"]) == 10 for c in iou["per_class"])
    assert [c["id"] for c in iou["per_class"]][:12] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]
    assert iou["per_class"][0]["name"] == "person"
    defined = [c["ap"] for c in iou["per_class"] if c["ap"][0] > -1]
    assert np.mean([np.mean(v) for v in defined]) == pytest.approx(COCO_STATS[0], abs=1e-12)


@pytest.mark.parametrize("method, at50, at75", [("11point", 0.8864, 0.4924), ("all", 0.8958, 0.5097)])
def test_voc_toy_example_cited_ap(method, at50, at75):
    gt = read_voc_annotations(TOY / "gts_vocpascal_format", TOY / "derived_comp4" / "imageset.txt")
    assert gt.class_names == ("cat",) and len(gt) == 12
    dt = read_comp4_folder(TOY / "derived_comp4", gt.class_names)
    result = evaluate_voc(gt, dt, ap_method=method)
    for metric in ("iou", "giou"):
        ap = result.metrics[metric].ap
        assert round(ap[0], 4) == at50 and round(ap[5], 4) == at75
        assert result.metrics[metric].by_label()["cat"] == ap
        assert result.metrics[metric].measure("ap50") == ap[0] and result.metrics[metric].measure("ap75") == ap[5]


def test_voc_class_without_ground_truth_has_ap_zero_and_counts_in_the_mean():
    names = read_names(TOY / "voc.names")
    gt = read_voc_annotations(TOY / "gts_vocpascal_format", TOY / "derived_comp4" / "imageset.txt", names)
    dt = read_comp4_folder(TOY / "derived_comp4", names)
    iou = evaluate_voc(gt, dt, ap_method="all", metrics=("iou",)).metrics["iou"]
    assert iou.by_label()["dog"] == (0.0,) * 10
    assert iou.ap[0] == pytest.approx(0.8958333333333334 / 20)


def read_test_case_1() -> tuple[GroundTruth, Detections]:
    """test-case-1: `class [score] left top width height`, one file per image."""

    def rows(kind: str):
        for path in sorted((CASE1 / kind).glob("*.txt")):
            for line in path.read_text().split("\n"):
                fields = line.split()
                if fields:
                    numbers = [float(v) for v in fields[1:]]
                    score = numbers.pop(0) if kind == "dets" else 0.0
                    x, y, w, h = numbers
                    yield path.stem, score, (x, y, x + w, y + h)

    gts, dets = list(rows("gts")), list(rows("dets"))
    images = sorted({r[0] for r in gts})
    gt = GroundTruth(
        image_names=tuple(images),
        image_ids=np.arange(len(images)),
        class_names=("object",),
        class_ids=np.array([0]),
        image=np.array([images.index(r[0]) for r in gts]),
        label=np.zeros(len(gts), int),
        boxes=np.array([r[2] for r in gts]),
        box_format="xyxy",
        area=np.zeros(len(gts)),
        crowd=np.zeros(len(gts), bool),
        difficult=np.zeros(len(gts), bool),
    )
    dt = Detections(
        image_keys=np.array([r[0] for r in dets], dtype=object),
        class_ids=np.zeros(len(dets), int),
        scores=np.array([r[1] for r in dets]),
        boxes=np.array([r[2] for r in dets]),
        box_format="xyxy",
    )
    return gt, dt


@pytest.mark.parametrize(
    "method, expected",
    [
        ("11point", [0.3333333333, 0.2683982683, 0.0303030303, 0.0]),
        ("all", [0.3371980676, 0.2456866804, 0.0222222222, 0.0]),
    ],
)
def test_voc_test_case_1_needs_stable_ties(method, expected):
    gt, dt = read_test_case_1()
    assert len(gt) == 15 and len(dt) == 24
    result = evaluate_voc(gt, dt, ap_method=method, metrics=("iou",), thresholds=np.array([0.1, 0.3, 0.5, 0.75]))
    assert result.metrics["iou"].ap == pytest.approx(expected, abs=1e-10)


def test_invalid_json_and_unknown_images_are_errors(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text('[{"image_id": 1,')
    with pytest.raises(OrchError, match="invalid JSON"):
        read_darknet_coco_json(bad)
    gt = read_coco_gt(COCO / "instances_val2014_100.json")
    bad.write_text('[{"image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}]')
    with pytest.raises(OrchError, match="not in the ground truth"):
        evaluate_coco(gt, read_darknet_coco_json(bad))
