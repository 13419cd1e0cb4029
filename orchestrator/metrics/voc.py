"""VOC-style AP (py-faster-rcnn's voc_eval) at many thresholds and for IoU and GIoU at once.

voc_eval matches each detection, in score order, to the ground truth of its image and class
with the largest overlap; it is a true positive when that overlap exceeds the threshold
(strictly), the box is not `difficult` (difficult: neither TP nor FP) and no earlier detection
took it. Because the chosen box does not depend on what was matched before, the whole
evaluation is closed-form: for each threshold, a detection is a TP iff it is the first
passing detection of its best box. No per-detection loop is needed.

"Exceeds" is decided against the decimal threshold: an overlap of exactly 0.9 (ground truth
1,1,10,10 and detection 1,1,9,10) does not pass .90, although as floats 90/100 rounds to the
double nearest 0.9 and NumPy's .90 is 0.8999999999999999. Where the float overlap is too close
to a threshold to tell, the overlap of that pair is recomputed exactly, in Fractions of the
coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from orchestrator.metrics.align import align_detections
from orchestrator.metrics.boxes import Detections, GroundTruth
from orchestrator.metrics.curves import hit_precisions, hits_needed, interpolated_precision, suffix_max_per_segment
from orchestrator.metrics.geometry import PairGeometry, overlap_values
from orchestrator.metrics.measures import THRESHOLDS
from orchestrator.metrics.overlaps import OVERLAPS, validate_overlaps
from orchestrator.metrics.pairs import Pairs, dense_rank, group_keys, pairs_by_group, stable_order
from orchestrator.metrics.results import EvaluationResult, metric_result

ApMethod = Literal["11point", "all"]
ELEVEN_POINTS = np.arange(0.0, 1.1, 0.1)  # voc_eval's own levels, rounding included
# Float overlaps this close to a threshold are compared exactly (float error is ~1e-16).
UNDECIDED = 1e-9


def evaluate_voc(
    gt: GroundTruth,
    detections: Detections,
    *,
    ap_method: ApMethod = "11point",
    metrics: Iterable[str] = tuple(OVERLAPS),
    thresholds: Sequence[float] = THRESHOLDS,
) -> EvaluationResult:
    """VOC AP per class and threshold for each metric.

    Classes are `gt.class_names`; a class without ground truth has AP 0 and counts in the mean
    (as Darknet's reval_voc averages over every name). `thresholds` exists for fixtures that
    cite other thresholds; each is the decimal its shortest repr spells (0.9, not the double).
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

        def exact(rows: np.ndarray, name: str = name, best_gt: np.ndarray = best_gt) -> np.ndarray:
            return exact_overlap(name, det_boxes[rows], gt_boxes[best_gt[rows]])

        passing = exceeding(best_overlap, thresholds, exact)
        per_class = class_ap(order, label[order], best_gt[order], passing[:, order], gt.difficult, positives, ap_method)
        per_threshold = np.mean(per_class, axis=0)
        out[name] = metric_result(per_class, gt.class_ids, gt.class_names, per_threshold, float(np.mean(per_threshold)))
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


def exceeding(
    overlap: np.ndarray, thresholds: Sequence[float], exact: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """(thresholds, detections): whether each overlap exceeds each decimal threshold, strictly.

    `exact(rows)` gives the exact overlaps (Fractions) of those detections, asked only for the
    few whose float overlap lies within UNDECIDED of a threshold.
    """
    floats = np.array([float(t) for t in thresholds])
    passing = overlap[None, :] > floats[:, None]
    near_t, near_d = np.nonzero(np.abs(overlap[None, :] - floats[:, None]) <= UNDECIDED)
    if len(near_d):
        rows = np.unique(near_d)
        exact_value = dict(zip(rows.tolist(), exact(rows)))
        decimals = [Fraction(repr(float(t))) for t in thresholds]
        for t, d in zip(near_t.tolist(), near_d.tolist()):
            passing[t, d] = exact_value[d] > decimals[t]
    return passing


class ExactGeometry(PairGeometry):
    """PairGeometry in rational arithmetic: built from arrays of Fractions, divisions stay exact."""

    @staticmethod
    def share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
        return np.array([max(p / w, Fraction(0)) if w > 0 else Fraction(0) for p, w in zip(part, whole)], dtype=object)


def exact_overlap(name: str, dt: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The overlap `name` of xyxy pairs, exactly (every double is a Fraction)."""
    as_fractions = np.vectorize(Fraction, otypes=[object])
    return OVERLAPS[name].formula(ExactGeometry.voc(as_fractions(dt), as_fractions(gt)))


def class_ap(
    order: np.ndarray,
    label: np.ndarray,
    best_gt: np.ndarray,
    passing: np.ndarray,
    difficult: np.ndarray,
    positives: np.ndarray,
    ap_method: ApMethod,
) -> np.ndarray:
    """AP of shape (classes, thresholds) from detections already sorted by (class, score), and
    whether each passes each threshold (thresholds, detections).

    Curves ("segments") are numbered threshold-major: s = t * classes + class.
    """
    n_classes = len(positives)
    class_start = np.searchsorted(label, np.arange(n_classes))
    hit_parts: list[tuple[np.ndarray, np.ndarray]] = []  # (segment, row) of hits, per threshold
    ignored_parts: list[tuple[np.ndarray, np.ndarray]] = []
    is_difficult = np.append(difficult, False)[best_gt]
    n_thresholds = len(passing)
    for t in range(n_thresholds):
        ignored = np.flatnonzero(passing[t] & is_difficult)
        candidates = np.flatnonzero(passing[t] & ~is_difficult)
        _, first = np.unique(best_gt[candidates], return_index=True)
        hits = np.sort(candidates[first])
        hit_parts.append((t * n_classes + label[hits], hits))
        ignored_parts.append((t * n_classes + label[ignored], ignored))
    hit_seg, hit_row = (np.concatenate(column) for column in zip(*hit_parts))
    by_segment = stable_order([hit_seg, hit_row], [n_thresholds * n_classes, len(label)])
    hit_seg, hit_row = hit_seg[by_segment], hit_row[by_segment]
    ign_seg, ign_row = (np.concatenate(column) for column in zip(*ignored_parts))
    n_segments = n_thresholds * n_classes
    start_row = np.tile(class_start, n_thresholds)
    ordinal, precision = hit_precisions(hit_seg, hit_row, ign_seg, ign_row, start_row)
    npos = np.tile(positives, n_thresholds)
    safe_npos = np.maximum(npos, 1)
    if ap_method == "11point":
        needed = hits_needed(ELEVEN_POINTS, safe_npos)
        ap = np.sum(interpolated_precision(hit_seg, precision, n_segments, needed) / 11.0, axis=1)
    else:
        envelope = suffix_max_per_segment(hit_seg, precision)
        recall_step = ordinal / safe_npos[hit_seg] - (ordinal - 1) / safe_npos[hit_seg]
        ap = np.bincount(hit_seg, weights=recall_step * envelope, minlength=n_segments)
    ap = np.where(npos > 0, ap, 0.0)
    return ap.reshape(n_thresholds, n_classes).T
