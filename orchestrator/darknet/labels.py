"""Darknet label files: where darknet finds them, and the ground truth they hold.

A label file has one line per object, `<class> <cx> <cy> <w> <h>`, relative to the image; it
sits where darknet's fill_truth_detection looks, a path derived from the image path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from PIL import Image

from orchestrator.base.errors import OrchError
from orchestrator.darknet.cfg import basecfg
from orchestrator.darknet.coco_ids import category_ids
from orchestrator.darknet.outputs import image_ids_for
from orchestrator.metrics.boxes import GroundTruth
from orchestrator.metrics.readers import read_lines, read_text

# pjreddie darknet fill_truth_detection: find_replace (first occurrence) in this order.
LABEL_PATH_REPLACEMENTS = (
    ("images", "labels"),
    ("JPEGImages", "labels"),
    ("raw", "labels"),
    (".jpg", ".txt"),
    (".png", ".txt"),
    (".JPG", ".txt"),
    (".JPEG", ".txt"),
)


def darknet_label_path(image_path: str) -> str:
    """Label file of an image as pjreddie darknet finds it (first occurrence replaced)."""
    for old, new in LABEL_PATH_REPLACEMENTS:
        image_path = image_path.replace(old, new, 1)
    return image_path


def read_darknet_labels(valid_list_file: str | os.PathLike, class_names: Sequence[str]) -> GroundTruth:
    """Ground truth from the label files of the images in a valid list; class i gets the
    category id darknet's json gives it (coco_ids[i]).

    Image sizes are read from the image headers (Pillow opens lazily, nothing is decoded).
    Boxes become COCO xywh pixels (`x = (cx - w/2) * W`), which is darknet's own json
    convention; VOC-style evaluation shifts them by +1 like comp4.
    """
    paths = valid_images(valid_list_file)
    rows: list[tuple[int, int, float, float, float, float]] = []
    for image_index, image_path in enumerate(paths):
        width, height = image_size(image_path)
        for label, cx, cy, w, h in parse_label_file(darknet_label_path(image_path), len(class_names)):
            rows.append((image_index, label, (cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height))
    table = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return GroundTruth(
        image_names=tuple(basecfg(p) for p in paths),
        image_ids=image_ids_for(paths),
        class_names=tuple(class_names),
        class_ids=np.array(category_ids(len(class_names)), dtype=np.int64),
        image=table[:, 0].astype(np.int64),
        label=table[:, 1].astype(np.int64),
        boxes=table[:, 2:6],
        box_format="xywh",
        area=table[:, 4] * table[:, 5],
        crowd=np.zeros(len(rows), dtype=bool),
        difficult=np.zeros(len(rows), dtype=bool),
    )


def valid_images(valid_list_file: str | os.PathLike) -> list[str]:
    """The image paths of a valid list; darknet cannot validate on none."""
    paths = read_lines(valid_list_file)
    if not paths:
        raise OrchError("the valid list is empty", str(valid_list_file))
    return paths


def image_size(path: str) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except OSError as exc:
        raise OrchError(f"cannot read the image size ({exc.__class__.__name__})", path) from None


def parse_label_file(path: str, n_classes: int) -> list[tuple[int, float, float, float, float]]:
    rows = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) != 5:
                raise ValueError
            label = int(fields[0])
            cx, cy, w, h = (float(v) for v in fields[1:])
            if not 0 <= label < n_classes:
                raise ValueError
        except ValueError:
            raise OrchError(f"expected '<class 0..{n_classes - 1}> <cx> <cy> <w> <h>'", f"{path}:{number}") from None
        if not all(math.isfinite(v) for v in (cx, cy, w, h)):
            raise OrchError(f"box '{' '.join(fields[1:])}' holds a NaN or infinite number", f"{path}:{number}")
        rows.append((label, cx, cy, w, h))
    return rows
