"""IoU and GIoU of box pairs, in the two conventions the evaluators reproduce.

Both functions take already-paired boxes (row i of `dt` against row i of `gt`) so that the
caller decides which pairs exist (same image and class) and memory stays linear in them. The
arithmetic follows the reference implementations operation by operation, because AP is a
step function of these values: an IoU one ulp off can flip a match at a threshold like 0.5.
"""

from __future__ import annotations

import numpy as np


def voc_overlaps(dt: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU and GIoU of ``xyxy`` pairs with VOC's +1 pixel widths (py-faster-rcnn voc_eval).

    GIoU = IoU - max((C - U) / C, 0) with C the enclosing box, also with +1 widths.
    """
    iw = np.maximum(np.minimum(gt[:, 2], dt[:, 2]) - np.maximum(gt[:, 0], dt[:, 0]) + 1.0, 0.0)
    ih = np.maximum(np.minimum(gt[:, 3], dt[:, 3]) - np.maximum(gt[:, 1], dt[:, 1]) + 1.0, 0.0)
    inter = iw * ih
    union = (
        (dt[:, 2] - dt[:, 0] + 1.0) * (dt[:, 3] - dt[:, 1] + 1.0)
        + (gt[:, 2] - gt[:, 0] + 1.0) * (gt[:, 3] - gt[:, 1] + 1.0)
        - inter
    )
    iou = inter / union
    cw = np.maximum(gt[:, 2], dt[:, 2]) - np.minimum(gt[:, 0], dt[:, 0]) + 1.0
    ch = np.maximum(gt[:, 3], dt[:, 3]) - np.minimum(gt[:, 1], dt[:, 1]) + 1.0
    enclosing = cw * ch
    giou = iou - np.maximum((enclosing - union) / enclosing, 0.0)
    return iou, giou


def coco_overlaps(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU and GIoU of ``xywh`` pairs exactly as pycocotools' bbIou computes IoU.

    For a crowd ground truth the IoU divides by the detection's area (pycocotools' rule);
    the GIoU penalty (C - U) / C always uses the true union, so that a detection inside a
    crowd region keeps its full overlap and is ignored as pycocotools would ignore it.
    Degenerate boxes (zero width/height) overlap nothing: 0 for both metrics.
    """
    d_area = dt[:, 2] * dt[:, 3]
    g_area = gt[:, 2] * gt[:, 3]
    w = np.minimum(dt[:, 2] + dt[:, 0], gt[:, 2] + gt[:, 0]) - np.maximum(dt[:, 0], gt[:, 0])
    h = np.minimum(dt[:, 3] + dt[:, 1], gt[:, 3] + gt[:, 1]) - np.maximum(dt[:, 1], gt[:, 1])
    overlapping = (w > 0) & (h > 0)
    inter = np.where(overlapping, w * h, 0.0)
    union = d_area + g_area - inter
    denominator = np.where(crowd, d_area, union)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(overlapping, inter / denominator, 0.0)
        cw = np.maximum(dt[:, 2] + dt[:, 0], gt[:, 2] + gt[:, 0]) - np.minimum(dt[:, 0], gt[:, 0])
        ch = np.maximum(dt[:, 3] + dt[:, 1], gt[:, 3] + gt[:, 1]) - np.minimum(dt[:, 1], gt[:, 1])
        enclosing = cw * ch
        penalty = np.where(enclosing > 0, (enclosing - union) / enclosing, 0.0)
    return iou, iou - penalty
