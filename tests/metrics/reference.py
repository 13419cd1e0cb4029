"""Slow, independent references for the metrics tests and the benchmark.

Written for clarity, not speed, and sharing no code with orchestrator.metrics: a scalar
per-pair IoU/GIoU, a per-class, per-threshold, per-detection voc_eval loop, and pycocotools'
COCOeval with its IoU replaced by a scalar GIoU.
"""

from __future__ import annotations

import contextlib
import io
from fractions import Fraction

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def voc_pair_overlap(det, gt, metric) -> float:
    """IoU or GIoU (or `metric(det, gt)` when it is a function) of two x1,y1,x2,y2 boxes with
    VOC's +1 pixel widths. Integer constants: given Fractions, the result is exact."""
    if callable(metric):
        return metric(det, gt)
    iw = max(min(det[2], gt[2]) - max(det[0], gt[0]) + 1, 0)
    ih = max(min(det[3], gt[3]) - max(det[1], gt[1]) + 1, 0)
    inter = iw * ih
    union = (det[2] - det[0] + 1) * (det[3] - det[1] + 1) + (gt[2] - gt[0] + 1) * (gt[3] - gt[1] + 1) - inter
    iou = inter / union if union > 0 else 0
    if metric == "iou":
        return iou
    hull = (max(det[2], gt[2]) - min(det[0], gt[0]) + 1) * (max(det[3], gt[3]) - min(det[1], gt[1]) + 1)
    return iou - (max((hull - union) / hull, 0) if hull > 0 else 0)


def exceeds(det, gt, metric, threshold: float) -> bool:
    """voc_eval's `overlap > threshold`, decided exactly: the overlap in Fractions of the
    coordinates against the decimal the threshold is written as (0.9, not a double near it)."""
    exact = voc_pair_overlap([Fraction(v) for v in det], [Fraction(v) for v in gt], metric)
    return Fraction(exact) > Fraction(repr(float(threshold)))


def voc_ap_from_curve(recall: np.ndarray, precision: np.ndarray, use_07: bool) -> float:
    if use_07:
        return sum(
            (precision[recall >= t].max() if (recall >= t).any() else 0.0) / 11.0 for t in np.arange(0.0, 1.1, 0.1)
        )
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    changes = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def voc_eval_loop(gt: dict, dets: list, n_classes: int, threshold: float, metric, use_07: bool) -> list[float]:
    """AP per class, voc_eval style, one detection at a time.

    gt: {(image, class): [(box, difficult), ...]}; dets: [(image, class, score, box)] in
    input order.
    """
    aps = []
    for cls in range(n_classes):
        taken = {key: [False] * len(boxes) for key, boxes in gt.items() if key[1] == cls}
        npos = sum(not d for key, boxes in gt.items() if key[1] == cls for _, d in boxes)
        mine = [d for d in dets if d[1] == cls]
        order = np.argsort([-d[2] for d in mine], kind="stable")
        tp, fp = np.zeros(len(mine)), np.zeros(len(mine))
        for row, index in enumerate(order):
            image, _, _, box = mine[index]
            boxes = gt.get((image, cls), [])
            overlaps = [voc_pair_overlap(box, g, metric) for g, _ in boxes]
            best = int(np.argmax(overlaps)) if overlaps else -1
            if best >= 0 and exceeds(box, boxes[best][0], metric, threshold):
                if not boxes[best][1]:
                    if not taken[(image, cls)][best]:
                        tp[row] = 1
                        taken[(image, cls)][best] = True
                    else:
                        fp[row] = 1
            else:
                fp[row] = 1
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        if npos == 0:
            aps.append(0.0)
            continue
        recall = tp / float(npos)
        precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        aps.append(voc_ap_from_curve(recall, precision, use_07))
    return aps


def coco_pair_giou(dt, gt, crowd: bool) -> float:
    """GIoU of two xywh boxes; crowd IoU divides by the detection area, the penalty uses the
    true union and is never negative (the engine's documented choices)."""
    dx2, dy2, gx2, gy2 = dt[0] + dt[2], dt[1] + dt[3], gt[0] + gt[2], gt[1] + gt[3]
    w = min(dx2, gx2) - max(dt[0], gt[0])
    h = min(dy2, gy2) - max(dt[1], gt[1])
    inter = w * h if (w > 0 and h > 0) else 0.0
    union = dt[2] * dt[3] + gt[2] * gt[3] - inter
    iou = 0.0 if inter == 0 else inter / (dt[2] * dt[3] if crowd else union)
    hull = (max(dx2, gx2) - min(dt[0], gt[0])) * (max(dy2, gy2) - min(dt[1], gt[1]))
    return iou - (max((hull - union) / hull, 0.0) if hull > 0 else 0.0)


def pair_computer(pair_overlap):
    """A COCOeval.computeIoU that compares boxes with `pair_overlap(dt, gt, crowd)`, a plain double loop."""

    def compute(self, imgId, catId):
        gt, dt = self._gts[imgId, catId], self._dts[imgId, catId]
        if len(gt) == 0 and len(dt) == 0:
            return []
        order = np.argsort([-d["score"] for d in dt], kind="mergesort")
        dt = [dt[i] for i in order[: self.params.maxDets[-1]]]
        return np.array([[pair_overlap(d["bbox"], g["bbox"], bool(g["iscrowd"])) for g in gt] for d in dt]).reshape(
            len(dt), len(gt)
        )

    return compute


def pycocotools_eval(gt_dict: dict, results: list, metric="iou") -> COCOeval:
    """COCOeval (bbox) evaluated and accumulated, quietly; metric 'giou' (or a pair function
    `(dt, gt, crowd) -> overlap`) replaces computeIoU."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt_dict
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        if metric != "iou":
            pair = coco_pair_giou if metric == "giou" else metric
            evaluator.computeIoU = pair_computer(pair).__get__(evaluator)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def voc_reference(gt, detections, thresholds, metric, use_07: bool) -> np.ndarray:
    """AP (classes, thresholds) of the per-detection voc_eval loop, for the engine's tables
    (boxes.GroundTruth and boxes.Detections, read as plain data); detections of classes the
    ground truth lacks are left out, as the engine leaves them out."""
    by_key: dict = {}
    for image, label, box, difficult in zip(gt.image, gt.label, gt.in_format("xyxy"), gt.difficult):
        by_key.setdefault((int(image), int(label)), []).append((box, bool(difficult)))
    image_of = {int(i): n for n, i in enumerate(gt.image_ids)}
    class_of = {int(c): n for n, c in enumerate(gt.class_ids)}
    dets = [
        (image_of[int(i)], class_of[int(c)], s, b)
        for i, c, s, b in zip(
            detections.image_keys, detections.class_ids, detections.scores, detections.in_format("xyxy")
        )
        if int(c) in class_of
    ]
    return np.array([voc_eval_loop(by_key, dets, len(class_of), t, metric, use_07) for t in thresholds]).T
