"""The fast COCO results loader (msgspec into columns) reads exactly what the json module reads,
and hands whatever it does not take as is to the path that accepts or names the entry."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REFDATA

from orchestrator.base.errors import OrchError
from orchestrator.metrics.readers import coco_detections, coco_results

RESULTS = REFDATA / "coco" / "instances_val2014_fakebbox100_results.json"


def same(a, b) -> bool:
    return all(
        np.array_equal(getattr(a, f), getattr(b, f)) for f in ("image_keys", "class_ids", "scores", "boxes")
    ) and (a.box_format == b.box_format)


def test_fast_columns_equal_the_json_module():
    data = RESULTS.read_bytes()
    fast = coco_results(data, "r.json")
    assert len(fast) == 734 and fast.image_keys.dtype == np.int64 and fast.boxes.shape == (734, 4)
    assert same(fast, coco_detections(json.loads(data), "r.json"))


@pytest.mark.parametrize(
    "entry",
    [
        {"image_id": 1.0, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5},  # an integral float id
        {"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1, "extra": "ignored"},
    ],
)
def test_entries_the_fast_path_does_not_take_are_still_read(entry):
    detections = coco_results(json.dumps([entry]).encode(), "r.json")
    assert detections.image_keys.tolist() == [1] and detections.boxes.tolist() == [[1.0, 2.0, 3.0, 4.0]]


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
