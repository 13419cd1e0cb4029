"""The fast COCO json loaders (msgspec into columns) read exactly what the json module path reads,
and hand whatever they do not take as is to that path, which accepts it or names the entry."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REFDATA

from orchestrator.base.errors import OrchError
from orchestrator.metrics import readers
from orchestrator.metrics.readers import coco_detections, coco_ground_truth, coco_results, read_coco_gt

RESULTS = REFDATA / "coco" / "instances_val2014_fakebbox100_results.json"
INSTANCES = REFDATA / "coco" / "instances_val2014_100.json"
GT = {
    "images": [{"id": 1, "file_name": "a_000001.jpg"}, {"id": 2}],
    "categories": [{"id": 7, "name": "b"}, {"id": 3}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 2, 3, 4], "area": 5, "iscrowd": 1},
        {"id": 2, "image_id": 2, "category_id": 3, "bbox": [1, 2, 3, 4]},
    ],
}


def same(a, b) -> bool:
    return all(
        np.array_equal(getattr(a, f), getattr(b, f)) for f in ("image_keys", "class_ids", "scores", "boxes")
    ) and (a.box_format == b.box_format)


@pytest.fixture
def fast_path_only(monkeypatch):
    """The json module path made to fail: what is read then went the fast (msgspec) way."""

    def refused(*args):
        raise AssertionError("took the json module path")

    monkeypatch.setattr(readers, "parse_json", refused)


def test_fast_columns_equal_the_json_module(fast_path_only):
    data = RESULTS.read_bytes()
    fast = coco_results(data, "r.json")
    assert len(fast) == 734 and fast.image_keys.dtype == np.int64 and fast.boxes.shape == (734, 4)
    assert same(fast, coco_detections(json.loads(data), "r.json"))


def test_an_integral_float_id_goes_the_json_module_way_and_reads_the_same():
    entry = {"image_id": 1.0, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}
    detections = coco_results(json.dumps([entry]).encode(), "r.json")
    assert detections.image_keys.tolist() == [1] and detections.boxes.tolist() == [[1.0, 2.0, 3.0, 4.0]]


def test_an_integer_score_and_an_unknown_key_stay_on_the_fast_path(fast_path_only):
    entry = {"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1, "extra": "ignored"}
    detections = coco_results(json.dumps([entry]).encode(), "r.json")
    assert detections.image_keys.tolist() == [1] and detections.scores.tolist() == [1.0]


@pytest.mark.parametrize(
    "text, message",
    [
        ('[{"image_id": 2.5, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]', "image_id 2.5 is not an integer"),
        ('[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1e999}]', "score Infinity is not a finite"),
        ('[{"image_id": 99999999999999999999, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1}]', "is not a number"),
        ('[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4]', "invalid JSON"),
    ],
)
def test_refusals_name_the_entry(text, message):
    with pytest.raises(OrchError, match=message):
        coco_results(text.encode(), "r.json")


def same_ground_truth(a, b) -> bool:
    arrays = ("image_ids", "class_ids", "image", "label", "boxes", "area", "crowd", "difficult", "ann_ids")
    return (a.image_names, a.class_names) == (b.image_names, b.class_names) and all(
        np.array_equal(getattr(a, f), getattr(b, f)) for f in arrays
    )


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"annotations": [{**GT["annotations"][0], "iscrowd": True}, GT["annotations"][1]]},  # a bool
        {"annotations": [GT["annotations"][0], {**GT["annotations"][1], "id": None}]},  # refused by both
        {"images": [{"id": 1, "file_name": None}, {"id": 2.0}]},
        {"annotations": [{k: v for k, v in a.items() if k != "id"} for a in GT["annotations"]]},
    ],
)
def test_ground_truth_reads_as_the_json_module_path(tmp_path, changes):
    data = {**GT, **changes}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(data))
    try:
        expected = coco_ground_truth(data, str(path))
    except OrchError as refused:
        with pytest.raises(OrchError, match=str(refused).split("(")[0].strip()):
            read_coco_gt(path)
        return
    assert same_ground_truth(read_coco_gt(path), expected)


def test_ground_truth_fixture_reads_as_the_json_module_path(fast_path_only):
    assert same_ground_truth(read_coco_gt(INSTANCES), coco_ground_truth(json.loads(INSTANCES.read_text()), "gt"))
