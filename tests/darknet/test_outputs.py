"""`detector valid` outputs: comp4 files and coco_results.json read into Detections, darknet's ids."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REFDATA

from orchestrator.base.errors import OrchError
from orchestrator.darknet.outputs import COMP4_PREFIX, image_ids_for, read_comp4_folder, read_darknet_coco_json

VALID = REFDATA / "darknet-valid"


def test_darknet_valid_comp4_and_json_read_the_same_detections():
    names = [p.name[len(COMP4_PREFIX) : -4] for p in sorted((VALID / "comp4").glob("*.txt"))]
    comp4 = read_comp4_folder(VALID / "comp4", names)
    coco = read_darknet_coco_json(VALID / "coco" / "coco_results.json")
    assert len(comp4) == len(coco) == 180
    assert "baseball bat" in names
    as_xywh = comp4.in_format("xywh")
    paired = {(round(s, 6), k): b for s, k, b in zip(comp4.scores, comp4.image_keys, as_xywh)}
    diffs = [
        np.abs(paired[(round(s, 6), f"sample_{k:06d}")] - b).max()
        for s, k, b in zip(coco.scores, coco.image_keys, coco.boxes)
    ]
    assert sum(d < 1e-4 for d in diffs) > 150 and max(diffs) <= 1.0 + 1e-4


def test_darknet_empty_json_is_no_detection(tmp_path):
    path = tmp_path / "coco_results.json"
    path.write_text("\n]\n")
    assert len(read_darknet_coco_json(path)) == 0


def test_image_ids_collide_then_match_nothing():
    assert image_ids_for(["a/x_1.jpg", "a/y_2.jpg"]).tolist() == [1, 2]
    assert image_ids_for(["a/x_1.jpg", "b/x_1.jpg"]).tolist() == [-1, -2]


def test_an_empty_results_file_is_an_error_not_zero_detections(tmp_path):
    path = tmp_path / "coco_results.json"
    path.write_text("")
    with pytest.raises(OrchError, match="empty file"):
        read_darknet_coco_json(path)


@pytest.mark.parametrize(
    "content, where",
    [
        ("img 0.5 1 2 3\n", ":1"),
        ("ok 0.5 1 2 3 4\nimg 0.x 1 2 3 4\n", ":2"),
        ("ok 0.5 1 2 3 4\nimg nan 1 2 3 4\n", ":2"),
    ],
)
def test_malformed_comp4_line_names_file_and_line(tmp_path, content, where):
    (tmp_path / "comp4_det_test_cat.txt").write_text(content)
    with pytest.raises(OrchError) as error:
        read_comp4_folder(tmp_path, ["cat"])
    assert str(error.value).endswith(f"comp4_det_test_cat.txt{where})")
