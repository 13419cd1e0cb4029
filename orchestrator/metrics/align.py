"""Tie detections to the images and classes of a ground truth.

Darknet names images two ways: comp4 files print the file name up to its first dot, its COCO
json prints the number after the last `_` of the file name. Ground truth knows both, so a
detection's key is looked up in whichever list matches its type.
"""

from __future__ import annotations

import numpy as np

from orchestrator.base.errors import OrchError
from orchestrator.metrics.boxes import Detections, GroundTruth


def align_detections(gt: GroundTruth, detections: Detections) -> tuple[np.ndarray, np.ndarray]:
    """Image and class index of each detection in `gt`.

    A detection of a class the ground truth does not know gets -1 for both (pycocotools
    evaluates only the ground truth's categories); a detection of an unknown image is an
    error, as in both references.
    """
    label = lookup(gt.class_ids, detections.class_ids.astype(np.int64))
    image = image_index(gt, detections.image_keys)
    image = np.where(label >= 0, image, -1)
    missing = (image < 0) & (label >= 0)
    if missing.any():
        key = detections.image_keys[np.flatnonzero(missing)[0]]
        shown = key.item() if isinstance(key, np.generic) else key  # 99, not np.int64(99)
        raise OrchError(
            f"{int(missing.sum())} detection(s) for images not in the ground truth, e.g. {shown!r}", "detections"
        )
    return image, label


def image_index(gt: GroundTruth, keys: np.ndarray) -> np.ndarray:
    if keys.dtype.kind in "iu":
        return lookup(gt.image_ids, keys.astype(np.int64))
    position = {name: i for i, name in enumerate(gt.image_names)}
    return np.fromiter((position.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))


def lookup(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in `table` (unique ints), -1 where absent."""
    order = np.argsort(table, kind="stable")
    sorted_table = table[order]
    pos = np.minimum(np.searchsorted(sorted_table, values), max(len(table) - 1, 0))
    if len(table) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    return np.where(sorted_table[pos] == values, order[pos], -1)
