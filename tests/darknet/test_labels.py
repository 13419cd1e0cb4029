"""Darknet label files: found where darknet looks, read into pixel boxes."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from orchestrator.base.errors import OrchError
from orchestrator.darknet.labels import darknet_label_path, read_darknet_labels


@pytest.mark.parametrize(
    "image, label",
    [
        ("/d/images/raw/a.jpg", "/d/labels/labels/a.txt"),  # first occurrence of each, in darknet's order
        ("VOC/JPEGImages/x.JPEG", "VOC/labels/x.txt"),
        ("set/images/pic.png", "set/labels/pic.txt"),
    ],
)
def test_label_path_as_darknet_finds_it(image, label):
    assert darknet_label_path(image) == label


def one_labelled_image(folder: Path, size: tuple[int, int], labels: str) -> Path:
    """`images/pic_000003.jpg` of `size`, its label file holding `labels`; the valid list."""
    (folder / "images").mkdir()
    (folder / "labels").mkdir()
    Image.new("RGB", size).save(folder / "images" / "pic_000003.jpg")
    (folder / "labels" / "pic_000003.txt").write_text(labels)
    (folder / "valid.txt").write_text(f"{folder}/images/pic_000003.jpg\n")
    return folder / "valid.txt"


def test_label_boxes_become_pixels_from_the_image_header(tmp_path):
    valid = one_labelled_image(tmp_path, (200, 100), "1 0.5 0.5 0.5 0.4\n\n0 0.25 0.5 0.1 0.2\n")
    gt = read_darknet_labels(valid, ["a", "b"])
    assert gt.boxes.tolist() == [[50.0, 30.0, 100.0, 40.0], [40.0, 40.0, 20.0, 20.0]]
    assert gt.label.tolist() == [1, 0] and gt.area.tolist() == [4000.0, 400.0]
    assert gt.image_names == ("pic_000003",) and gt.image_ids.tolist() == [3]


def test_a_class_beyond_the_names_names_file_and_line(tmp_path):
    valid = one_labelled_image(tmp_path, (20, 10), "0 0.5 0.5 0.1 0.1\n2 0.5 0.5 0.1 0.1\n")
    with pytest.raises(OrchError, match=r"class 0\.\.1.*labels/pic_000003\.txt:2"):
        read_darknet_labels(valid, ["a", "b"])


@pytest.mark.parametrize("box", ["nan 0.5 0.1 0.1", "0.5 0.5 inf 0.1", "0.5 -Infinity 0.1 0.1"])
def test_a_box_that_is_not_finite_names_file_and_line(tmp_path, box):
    valid = one_labelled_image(tmp_path, (20, 10), f"0 0.5 0.5 0.1 0.1\n0 {box}\n")
    with pytest.raises(OrchError, match=r"holds a NaN or infinite number \(.*labels/pic_000003\.txt:2\)$"):
        read_darknet_labels(valid, ["a"])


def test_classes_get_the_ids_darknets_json_writes(tmp_path):
    valid = one_labelled_image(tmp_path, (20, 10), "0 0.5 0.5 0.1 0.1\n")
    assert read_darknet_labels(valid, ["a", "b", "c"]).class_ids.tolist() == [1, 2, 3]
    assert read_darknet_labels(valid, [f"c{i}" for i in range(12)]).class_ids[-1] == 13
