"""What the overlap formulas are made of, for already-paired boxes (row i of `dt` with row i of `gt`).

The caller decides which pairs exist (same image and class), so memory stays linear in them.
The arithmetic follows the reference implementations operation by operation, because AP is a
step function of these values: an IoU one ulp off can flip a match at a threshold like 0.5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from orchestrator.metrics.overlaps import OVERLAPS

Centres = tuple[np.ndarray, np.ndarray]  # x and y of each box's centre


class PairGeometry:
    """Intersection, union, IoU and enclosing box ("hull") of box pairs in one convention.

    Built by `voc` (``xyxy`` with py-faster-rcnn's +1 pixel widths) or `coco` (``xywh`` exactly
    as pycocotools' bbIou). Centre terms are computed only when a formula asks for them.
    """

    def __init__(
        self,
        inter: np.ndarray,
        union: np.ndarray,
        iou: np.ndarray,
        hull_width: np.ndarray,
        hull_height: np.ndarray,
        dt_centre: Callable[[], Centres],
        gt_centre: Callable[[], Centres],
    ):
        self.inter, self.union, self.iou = inter, union, iou
        self.hull_width, self.hull_height = hull_width, hull_height
        self._centres = dt_centre, gt_centre

    @classmethod
    def voc(cls, dt: np.ndarray, gt: np.ndarray) -> PairGeometry:
        """``xyxy`` pairs with VOC's +1 pixel widths (py-faster-rcnn voc_eval).

        Integer constants keep the arithmetic exact on arrays of Fractions (voc's exact
        threshold test) and change nothing on float arrays."""
        iw = np.maximum(np.minimum(gt[:, 2], dt[:, 2]) - np.maximum(gt[:, 0], dt[:, 0]) + 1, 0)
        ih = np.maximum(np.minimum(gt[:, 3], dt[:, 3]) - np.maximum(gt[:, 1], dt[:, 1]) + 1, 0)
        inter = iw * ih
        union = (
            (dt[:, 2] - dt[:, 0] + 1) * (dt[:, 3] - dt[:, 1] + 1)
            + (gt[:, 2] - gt[:, 0] + 1) * (gt[:, 3] - gt[:, 1] + 1)
        ) - inter
        return cls(
            inter,
            union,
            cls.share(inter, union),
            np.maximum(gt[:, 2], dt[:, 2]) - np.minimum(gt[:, 0], dt[:, 0]) + 1,
            np.maximum(gt[:, 3], dt[:, 3]) - np.minimum(gt[:, 1], dt[:, 1]) + 1,
            lambda: ((dt[:, 0] + dt[:, 2]) / 2, (dt[:, 1] + dt[:, 3]) / 2),
            lambda: ((gt[:, 0] + gt[:, 2]) / 2, (gt[:, 1] + gt[:, 3]) / 2),
        )

    @classmethod
    def coco(cls, dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> PairGeometry:
        """``xywh`` pairs as pycocotools' bbIou: for a crowd ground truth the IoU divides by the
        detection's area; degenerate boxes (zero width or height) overlap nothing."""
        d_area = dt[:, 2] * dt[:, 3]
        g_area = gt[:, 2] * gt[:, 3]
        w = np.minimum(dt[:, 2] + dt[:, 0], gt[:, 2] + gt[:, 0]) - np.maximum(dt[:, 0], gt[:, 0])
        h = np.minimum(dt[:, 3] + dt[:, 1], gt[:, 3] + gt[:, 1]) - np.maximum(dt[:, 1], gt[:, 1])
        overlapping = (w > 0) & (h > 0)
        inter = np.where(overlapping, w * h, 0.0)
        union = d_area + g_area - inter
        iou = np.where(overlapping, share(inter, np.where(crowd, d_area, union)), 0.0)
        return cls(
            inter,
            union,
            iou,
            np.maximum(dt[:, 2] + dt[:, 0], gt[:, 2] + gt[:, 0]) - np.minimum(dt[:, 0], gt[:, 0]),
            np.maximum(dt[:, 3] + dt[:, 1], gt[:, 3] + gt[:, 1]) - np.minimum(dt[:, 1], gt[:, 1]),
            lambda: (dt[:, 0] + dt[:, 2] / 2, dt[:, 1] + dt[:, 3] / 2),
            lambda: (gt[:, 0] + gt[:, 2] / 2, gt[:, 1] + gt[:, 3] / 2),
        )

    @cached_property
    def hull(self) -> np.ndarray:
        """Area of the smallest box enclosing both."""
        return self.hull_width * self.hull_height

    @cached_property
    def hull_diagonal2(self) -> np.ndarray:
        """Squared diagonal of the enclosing box."""
        return self.hull_width**2 + self.hull_height**2

    @cached_property
    def centre_distance2(self) -> np.ndarray:
        """Squared distance between the two boxes' centres."""
        (dx, dy), (gx, gy) = (centre() for centre in self._centres)
        return (dx - gx) ** 2 + (dy - gy) ** 2

    @staticmethod
    def share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
        return share(part, whole)


def share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole where whole > 0, else 0; never negative (a difference of areas can round
    below zero). Degenerate boxes thus get a defined overlap instead of NaN."""
    out = np.zeros(np.broadcast(part, whole).shape)
    np.divide(part, whole, out=out, where=whole > 0)
    return np.maximum(out, 0.0, out=out)


def overlap_values(geometry: PairGeometry, names: Sequence[str]) -> np.ndarray:
    """(metrics, pairs): each named overlap of every pair."""
    return np.stack([OVERLAPS[name].formula(geometry) for name in names]).reshape(len(names), -1)
