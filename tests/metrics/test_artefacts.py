"""pycocotools' annotation-id artefacts: orch computes the intended AP and names what pycocotools
would report (repeated ids: it evaluates the last annotation of an id in place of each; id 0: a
detection matched to it counts as a false positive)."""

from __future__ import annotations

import json

import pytest

from metrics.reference import pycocotools_eval
from orchestrator.cli import main
from orchestrator.metrics.coco import evaluate_coco
from orchestrator.metrics.readers import coco_detections, coco_ground_truth

BOXES = [[10, 10, 40, 40], [60, 10, 30, 30], [10, 60, 50, 30]]


def ground_truth(ids: list[int]) -> dict:
    return {
        "images": [{"id": 1, "file_name": "a.jpg"}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {"id": i, "image_id": 1, "category_id": 1, "bbox": b, "area": b[2] * b[3], "iscrowd": 0}
            for i, b in zip(ids, BOXES)
        ],
    }


RESULTS = [{"image_id": 1, "category_id": 1, "bbox": b, "score": s} for b, s in zip(BOXES, (0.9, 0.8, 0.7))]


def ours(gt: dict) -> float:
    return (
        evaluate_coco(coco_ground_truth(gt, "gt"), coco_detections(RESULTS, "dt"), metrics=("iou",)).metrics["iou"].mean
    )


@pytest.mark.parametrize("ids", [[1, 1, 2], [0, 1, 2], [5, 0, 5]])
def test_the_intended_numbers_are_pycocotools_on_unique_non_zero_ids(ids):
    assert ours(ground_truth(ids)) == pytest.approx(
        pycocotools_eval(ground_truth([1, 2, 3]), RESULTS).stats[0], abs=1e-12
    )
    assert pycocotools_eval(ground_truth(ids), RESULTS).stats[0] < ours(ground_truth(ids))  # the artefact


def run_map(tmp_path, capsys, ids) -> tuple[dict, str]:
    (tmp_path / "gt.json").write_text(json.dumps(ground_truth(ids)))
    (tmp_path / "dt.json").write_text(json.dumps(RESULTS))
    assert main(["map", "coco", "--gt", str(tmp_path / "gt.json"), "--dt", str(tmp_path / "dt.json"), "--json"]) == 0
    out, err = capsys.readouterr()
    return json.loads(out), err


def test_repeated_ids_warn_with_pycocotools_number(tmp_path, capsys):
    result, err = run_map(tmp_path, capsys, [1, 1, 2])
    reference = pycocotools_eval(ground_truth([1, 1, 2]), RESULTS).stats[0]
    assert err.count("orch: warning: ") == 1 and "1 annotation id(s) repeated (e.g. 1)" in err
    assert (
        f"would report iou mAP {reference:.4f}" in err
        and f"orch: iou mAP {result['metrics']['iou']['mean']:.4f}" in err
    )
    assert result["metrics"]["iou"]["mean"] == pytest.approx(1.0, abs=1e-12)


def test_annotation_id_zero_warns(tmp_path, capsys):
    result, err = run_map(tmp_path, capsys, [0, 1, 2])
    assert err.count("orch: warning: ") == 1 and "1 ground-truth annotation(s) with id 0" in err
    assert "counts a detection matched to one as a false positive" in err and err.rstrip().endswith("gt.json)")
    assert result["metrics"]["iou"]["mean"] == pytest.approx(1.0, abs=1e-12)


def test_unique_non_zero_ids_warn_nothing(tmp_path, capsys):
    assert run_map(tmp_path, capsys, [1, 2, 3])[1] == ""
