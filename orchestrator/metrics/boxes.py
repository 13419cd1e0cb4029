"""The two in-memory tables the engine works on: ground truth and detections.

Readers of every file format produce these; the evaluators only ever see these. Boxes are kept
in the convention of their source (``xyxy``: VOC/Darknet 1-based inclusive pixel corners,
``xywh``: COCO corner + size) because converting them would change the floating point values
that the exact comparisons with pycocotools and voc_eval depend on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

BoxFormat = Literal["xyxy", "xywh"]


@dataclass(frozen=True)
class GroundTruth:
    """Ground-truth boxes of a set of images.

    `image_names` are the Darknet keys of the images (file name up to its first dot, what
    comp4 files print); `image_ids` the numeric ids (COCO ids, or the number Darknet derives
    from the file name for its COCO json). Per box: `image` and `label` index those lists and
    `class_names`; `class_ids` are the category ids detections refer to (COCO ids or the
    class index).
    """

    image_names: tuple[str, ...]
    image_ids: np.ndarray
    class_names: tuple[str, ...]
    class_ids: np.ndarray
    image: np.ndarray
    label: np.ndarray
    boxes: np.ndarray
    box_format: BoxFormat
    area: np.ndarray
    crowd: np.ndarray
    difficult: np.ndarray
    # COCO annotation ids, when every annotation has one: only to name pycocotools' artefacts.
    ann_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.image)

    def in_format(self, box_format: BoxFormat) -> np.ndarray:
        return convert_boxes(self.boxes, self.box_format, box_format)


@dataclass(frozen=True)
class Detections:
    """Scored boxes as a detector wrote them, not yet tied to a ground truth.

    `image_keys` hold, per detection, either the image name (str, comp4 files) or the
    numeric image id (int, COCO json); `class_ids` the category id (COCO json) or the class
    index (comp4). Input order is kept: ties in score are broken by it.
    """

    image_keys: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    box_format: BoxFormat

    def __len__(self) -> int:
        return len(self.scores)

    def in_format(self, box_format: BoxFormat) -> np.ndarray:
        return convert_boxes(self.boxes, self.box_format, box_format)


def convert_boxes(boxes: np.ndarray, source: BoxFormat, target: BoxFormat) -> np.ndarray:
    """Convert between Darknet's two conventions (comp4 `x+1, x+w+1` and json `x, w`).

    Darknet writes the same box as ``xmin+1 .. xmax+1`` in comp4 files and as
    ``xmin, xmax-xmin`` in its COCO json, so that is the conversion used both ways.
    """
    if source == target:
        return boxes
    out = np.empty_like(boxes, dtype=np.float64)
    if source == "xyxy":
        out[:, :2] = boxes[:, :2] - 1.0
        out[:, 2:] = boxes[:, 2:] - boxes[:, :2]
    else:
        out[:, :2] = boxes[:, :2] + 1.0
        out[:, 2:] = boxes[:, :2] + boxes[:, 2:] + 1.0
    return out
