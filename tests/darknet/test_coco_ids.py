"""The ids darknet writes in coco_results.json: coco_ids[class] for categories, a number from the path for images."""

from __future__ import annotations

import pytest

from orchestrator.base.errors import OrchError
from orchestrator.darknet.coco_ids import COCO_IDS, category_ids, darknet_image_id, refuse_beyond_table


def test_coco_ids_table_is_darknets():
    assert len(COCO_IDS) == 80 and len(set(COCO_IDS)) == 80
    assert COCO_IDS[:12] == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13) and COCO_IDS[-1] == 90


def test_every_class_count_up_to_80_gets_darknets_ids():
    assert category_ids(3) == (1, 2, 3)
    assert category_ids(12)[-1] == 13  # class 11: darknet skips COCO id 12
    assert category_ids(80) == COCO_IDS
    assert category_ids(81) == tuple(range(81))  # no json beyond the table: plain indices


def test_more_than_80_classes_cannot_be_named_by_darknets_json():
    refuse_beyond_table(80, "names")
    with pytest.raises(OrchError, match=r"^81 classes: darknet's coco_results.json cannot name .*\(eval: voc"):
        refuse_beyond_table(81, "names")


def test_image_ids_as_darknet_reads_them_from_the_path():
    assert darknet_image_id("/data/coco/images/val2014/COCO_val2014_000000000042.jpg") == 42
    assert darknet_image_id("/data/set_1/img7.jpg") == 0  # atoi("img7.jpg")
    assert darknet_image_id("shapes/valid_0012.png") == 12
