"""VOC-style AP (py-faster-rcnn's voc_eval) at many thresholds and for IoU and GIoU at once.

voc_eval matches each detection, in score order, to the ground truth of its image and class
with the largest overlap; it is a true positive when that overlap exceeds the threshold
(strictly), the box is not `difficult` (difficult: neither TP nor FP) and no earlier detection
took it. Because the chosen box does not depend on what was matched before, the whole
evaluation is closed-form: for each threshold, a detection is a TP iff it is the first
passing detection of its best box. No per-detection loop is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from orchestrator.metrics.align import align_detections
from orchestrator.metrics.boxes import Detections, GroundTruth
from orchestrator.metrics.curves import hit_precisions, hits_needed, interpolated_precision, suffix_max_per_segment
from orchestrator.metrics.geometry import PairGeometry, overlap_values
from orchestrator.metrics.measures import COCOEVAL_THRESHOLDS
from orchestrator.metrics.overlaps import OVERLAPS, validate_overlaps
from orchestrator.metrics.pairs import Pairs, dense_rank, group_keys, pairs_by_group, stable_order
from orchestrator.metrics.results import EvaluationResult, metric_result

ApMethod = Literal["11point", "all"]
ELEVEN_POINTS = np.arange(0.0, 1.1, 0.1)  # voc_eval's own levels, rounding included


def evaluate_voc(
    gt: GroundTruth,
    detections: Detections,
    *,
    ap_method: ApMethod = "11point",
    metrics: Iterable[str] = tuple(OVERLAPS),
    thresholds: Sequence[float] = COCOEVAL_THRESHOLDS,
) -> EvaluationResult:
    """VOC AP per class and threshold for each metric.

    Classes are `gt.class_names`; a class without ground truth has AP 0 and counts in the mean
    (as Darknet's reval_voc averages over every name). `thresholds` exists for fixtures that
    cite other thresholds; the JSON always uses .50:.05:.95.
    """
    metrics = validate_overlaps(metrics)
    if ap_method not in ("11point", "all"):
        raise ValueError(f"unknown AP method {ap_method!r}")
    image, label = align_detections(gt, detections)
    det_boxes = detections.in_format("xyxy")[image >= 0]
    scores = detections.scores[image >= 0]
    label, image = label[image >= 0], image[image >= 0]
    gt_boxes = gt.in_format("xyxy")
    n_classes = len(gt.class_names)
    pairs = pairs_by_group(group_keys(image, label, n_classes), group_keys(gt.image, gt.label, n_classes))
    overlaps = overlap_values(PairGeometry.voc(det_boxes[pairs.det], gt_boxes[pairs.gt]), metrics)
    score_rank, n_scores = dense_rank(-scores)
    order = stable_order([label, score_rank], [n_classes, n_scores])
    positives = np.bincount(gt.label[~gt.difficult], minlength=n_classes)
    out = {}
    for m, name in enumerate(metrics):
        best_gt, best_overlap = best_match(pairs, overlaps[m], len(scores))
        per_class = class_ap(
            order, label[order], best_gt[order], best_overlap[order], gt.difficult, positives, thresholds, ap_method
        )
        per_threshold = np.mean(per_class, axis=0)
        out[name] = metric_result(per_class, gt.class_names, per_threshold, float(np.mean(per_threshold)))
    return EvaluationResult("voc", ap_method, out, tuple(float(t) for t in thresholds))


@dataclass(frozen=True)
class VocEvaluator:
    """The VOC-style evaluator of the registry (see evaluators), with orch.yaml's AP method."""

    ap_method: ApMethod = "11point"

    def evaluate(self, gt: GroundTruth, detections: Detections, metrics: Iterable[str]) -> EvaluationResult:
        return evaluate_voc(gt, detections, ap_method=self.ap_method, metrics=metrics)


def best_match(pairs: Pairs, overlap: np.ndarray, n_dets: int) -> tuple[np.ndarray, np.ndarray]:
    """Per detection: the ground truth with the largest overlap (first one on ties, like
    np.argmax) and that overlap; -1 and -inf for a detection with no ground truth."""
    best_overlap = np.full(n_dets, -np.inf)
    best_gt = np.full(n_dets, -1, dtype=np.int64)
    if len(pairs.det) == 0:
        return best_gt, best_overlap
    starts = np.flatnonzero(np.r_[True, pairs.det[1:] != pairs.det[:-1]])
    owners = pairs.det[starts]
    maxima = np.maximum.reduceat(overlap, starts)
    position = np.where(
        overlap == np.repeat(maxima, np.diff(np.r_[starts, len(overlap)])), np.arange(len(overlap)), len(overlap)
    )
    first = np.minimum.reduceat(position, starts)
    best_overlap[owners] = maxima
    best_gt[owners] = pairs.gt[first]
    return best_gt, best_overlap


def class_ap(
    order: np.ndarray,
    label: np.ndarray,
    best_gt: np.ndarray,
    best_overlap: np.ndarray,
    difficult: np.ndarray,
    positives: np.ndarray,
    thresholds: Sequence[float],
    ap_method: ApMethod,
) -> np.ndarray:
    """AP of shape (classes, thresholds) from detections already sorted by (class, score).

    Curves ("segments") are numbered threshold-major: s = t * classes + class.
    """
    n_classes = len(positives)
    class_start = np.searchsorted(label, np.arange(n_classes))
    hit_parts: list[tuple[np.ndarray, np.ndarray]] = []  # (segment, row) of hits, per threshold
    ignored_parts: list[tuple[np.ndarray, np.ndarray]] = []
    is_difficult = np.append(difficult, False)[best_gt]
    for t, threshold in enumerate(thresholds):
        passing = best_overlap > threshold
        ignored = np.flatnonzero(passing & is_difficult)
        candidates = np.flatnonzero(passing & ~is_difficult)
        _, first = np.unique(best_gt[candidates], return_index=True)
        hits = np.sort(candidates[first])
        hit_parts.append((t * n_classes + label[hits], hits))
        ignored_parts.append((t * n_classes + label[ignored], ignored))
    hit_seg, hit_row = (np.concatenate(column) for column in zip(*hit_parts))
    by_segment = stable_order([hit_seg, hit_row], [len(thresholds) * n_classes, len(label)])
    hit_seg, hit_row = hit_seg[by_segment], hit_row[by_segment]
    ign_seg, ign_row = (np.concatenate(column) for column in zip(*ignored_parts))
    n_segments = len(thresholds) * n_classes
    start_row = np.tile(class_start, len(thresholds))
    ordinal, precision = hit_precisions(hit_seg, hit_row, ign_seg, ign_row, start_row)
    npos = np.tile(positives, len(thresholds))
    safe_npos = np.maximum(npos, 1)
    if ap_method == "11point":
        needed = hits_needed(ELEVEN_POINTS, safe_npos)
        ap = np.sum(interpolated_precision(hit_seg, precision, n_segments, needed) / 11.0, axis=1)
    else:
        envelope = suffix_max_per_segment(hit_seg, precision)
        recall_step = ordinal / safe_npos[hit_seg] - (ordinal - 1) / safe_npos[hit_seg]
        ap = np.bincount(hit_seg, weights=recall_step * envelope, minlength=n_segments)
    ap = np.where(npos > 0, ap, 0.0)
    return ap.reshape(len(thresholds), n_classes).T
