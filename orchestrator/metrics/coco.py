"""COCO-style AP: pycocotools' COCOeval (bbox) reproduced, for IoU and GIoU.

Same parameters as COCOeval: thresholds .50:.05:.95, 101 recall levels, area ranges
all/small/medium/large, maxDets 1/10/100, crowd and area-range ignore rules, the 12 summary
numbers with -1 where undefined. The GIoU variant runs the identical algorithm on GIoU.

Layout: matching is in coco_match; accumulation here works on true-positive events (see
curves) rather than on every detection, and for all categories and thresholds at once.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from orchestrator.metrics.align import align_detections
from orchestrator.metrics.boxes import Detections, GroundTruth
from orchestrator.metrics.coco_match import Matches, greedy_matches
from orchestrator.metrics.curves import hit_precisions, hits_needed, interpolated_precision
from orchestrator.metrics.overlaps import coco_overlaps
from orchestrator.metrics.pairs import (dense_rank, group_keys, pairs_by_group,
                                        rank_within_groups, stable_order)
from orchestrator.metrics.results import THRESHOLDS, metric_result, validate_metrics

RECALL_LEVELS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = np.array([[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2],
                        [96 ** 2, 1e5 ** 2]])
AREA_LABELS = ("all", "small", "medium", "large")
MAX_DETS = (1, 10, 100)
# (ap?, threshold, area, maxDets) of COCOeval.summarize's 12 numbers, in order.
SUMMARY = ((True, None, "all", 100), (True, 0.5, "all", 100), (True, 0.75, "all", 100),
           (True, None, "small", 100), (True, None, "medium", 100), (True, None, "large", 100),
           (False, None, "all", 1), (False, None, "all", 10), (False, None, "all", 100),
           (False, None, "small", 100), (False, None, "medium", 100), (False, None, "large", 100))


class CocoProblem:
    """Detections and ground truth of one COCO evaluation, prepared once for all metrics:
    top-100 detections per (image, category), their pairs with ground truth, ignore flags."""

    def __init__(self, gt: GroundTruth, detections: Detections):
        image, label = align_detections(gt, detections)
        known = label >= 0
        n_classes = len(gt.class_names)
        groups = group_keys(image[known], label[known], n_classes)
        score_rank, n_scores = dense_rank(-detections.scores[known])
        order = stable_order([groups, score_rank], [n_classes * len(gt.image_ids), n_scores])
        rank = rank_within_groups(groups, order)
        top = rank < MAX_DETS[-1]
        self.n_classes = n_classes
        self.n_images = len(gt.image_ids)
        self.n_scores = n_scores
        self.label = label[known][top]
        self.score_rank = score_rank[top]
        self.rank = rank[top]
        self.image_rank = np.argsort(np.argsort(gt.image_ids, kind="stable"))[image[known][top]]
        boxes = detections.in_format("xywh")[known][top]
        gt_boxes = gt.in_format("xywh")
        self.pairs = pairs_by_group(groups[top], group_keys(gt.image, gt.label, n_classes))
        self.overlaps = dict(zip(("iou", "giou"), coco_overlaps(
            boxes[self.pairs.det], gt_boxes[self.pairs.gt], gt.crowd[self.pairs.gt])))
        self.gt_crowd = gt.crowd
        self.gt_ignore = gt.crowd[None, :] | outside(gt.area)
        self.det_outside = outside(boxes[:, 2] * boxes[:, 3])
        self.positives = np.stack([np.bincount(gt.label[~ig], minlength=n_classes)
                                   for ig in self.gt_ignore])
        # COCOeval.accumulate concatenates images in id order, each in score order, then
        # sorts stably by score: ties go by (image id, rank), which input order preserves.
        self.curve_order = stable_order([self.label, self.score_rank, self.image_rank],
                                        [n_classes, n_scores, self.n_images])


def outside(area: np.ndarray) -> np.ndarray:
    """(area ranges, boxes): whether each area lies outside each range (COCOeval's test)."""
    return (area[None, :] < AREA_RANGES[:, :1]) | (area[None, :] > AREA_RANGES[:, 1:])


def evaluate_coco(gt: GroundTruth, detections: Detections, *,
                  metrics: Iterable[str] = ("iou", "giou")) -> dict:
    """COCO AP for each metric, as the `orch map --json` object (with the 12 `stats`).

    `per_class` holds each category's AP at each threshold (area all, maxDets 100), -1 for a
    category without ground truth, as COCOeval marks undefined values.
    """
    metrics = validate_metrics(metrics)
    problem = CocoProblem(gt, detections)
    out = {}
    for name in metrics:
        matches = greedy_matches(problem.pairs, problem.overlaps[name], problem.rank,
                                 problem.gt_crowd, problem.gt_ignore, THRESHOLDS)
        precision, recall = accumulate(problem, matches)
        out[name] = coco_metric_result(precision, recall, gt.class_names)
    return {"style": "coco", "ap_method": "101point", "metrics": out}


def accumulate(problem: CocoProblem, matches: Matches) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.accumulate: precision (T, R, K, A, M) and recall (T, K, A, M), -1 if undefined.

    A detection is a row of a (threshold, category) curve unless COCOeval ignores it; rows
    ignored at every threshold change nothing and are left out, the others are counted where
    they are ignored (see curves.hit_precisions).
    """
    n_t, n_k = len(THRESHOLDS), problem.n_classes
    order = problem.curve_order
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    class_start = np.searchsorted(problem.label[order], np.arange(n_k))
    by_place = np.argsort(matches.config.astype(np.int64) * len(order) + position[matches.det])
    config, det, gt = matches.config[by_place], matches.det[by_place], matches.gt[by_place]
    precision = np.full((n_t, len(RECALL_LEVELS), n_k, len(AREA_RANGES), len(MAX_DETS)), -1.0)
    recall = np.full((n_t, n_k, len(AREA_RANGES), len(MAX_DETS)), -1.0)
    for a in range(len(AREA_RANGES)):
        mine = config // n_t == a
        status = MatchStatus(det[mine], config[mine] % n_t, problem.gt_ignore[a, gt[mine]],
                             problem.det_outside[a], n_t)
        npos = np.tile(problem.positives[a], n_t)
        for m, max_det in enumerate(MAX_DETS):
            member = (problem.rank < max_det) & status.counted_somewhere
            rows_before = np.r_[0, np.cumsum(member[order])]
            row_of = rows_before[position]
            hit_det, hit_t = status.hits(problem.rank < max_det)
            ign_det, ign_t = status.ignored(member)
            q, hit_counts = curve_points(hit_t * n_k + problem.label[hit_det], row_of[hit_det],
                                         ign_t * n_k + problem.label[ign_det], row_of[ign_det],
                                         np.tile(rows_before[class_start], n_t), npos)
            q[npos == 0] = -1.0
            precision[:, :, :, a, m] = q.reshape(n_t, n_k, -1).transpose(0, 2, 1)
            recall[:, :, a, m] = np.where(npos > 0, hit_counts / np.maximum(npos, 1),
                                          -1.0).reshape(n_t, n_k)
    return precision, recall


class MatchStatus:
    """What COCOeval's dtm/dtIg say of each detection in one area range, kept sparse.

    `det`/`threshold` list the matches (sorted by threshold then curve position),
    `to_ignored` whether the matched ground truth is ignored in this area range.
    """

    def __init__(self, det: np.ndarray, threshold: np.ndarray, to_ignored: np.ndarray,
                 outside: np.ndarray, n_t: int):
        self.det, self.threshold, self.to_ignored, self.n_t = det, threshold, to_ignored, n_t
        self.outside = outside
        regular_somewhere = np.zeros(len(outside), dtype=bool)
        regular_somewhere[det[~to_ignored]] = True
        ignored_somewhere = np.zeros(len(outside), dtype=bool)
        ignored_somewhere[det[to_ignored]] = True
        # a true or false positive at some threshold: in range, or a match to regular truth
        self.counted_somewhere = ~outside | regular_somewhere
        self.mixed = self.counted_somewhere & (outside | ignored_somewhere)

    def hits(self, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """True positives (detection, threshold) among allowed detections, in curve order."""
        keep = ~self.to_ignored & allowed[self.det]
        return self.det[keep], self.threshold[keep]

    def ignored(self, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(detection, threshold) of member rows ignored at that threshold: matched to
        ignored truth there, or outside the area range and unmatched there."""
        mixed = np.flatnonzero(member & self.mixed)
        slot = np.full(len(member), -1)
        slot[mixed] = np.arange(len(mixed))
        of_mixed = slot[self.det] >= 0
        state = np.zeros((self.n_t, len(mixed)), dtype=np.int8)  # 0 unmatched, 1 regular, 2 ignored
        state[self.threshold[of_mixed], slot[self.det[of_mixed]]] = np.where(
            self.to_ignored[of_mixed], 2, 1)
        is_ignored = (state == 2) | ((state == 0) & self.outside[mixed][None, :])
        threshold, index = np.nonzero(is_ignored)
        return mixed[index], threshold


def curve_points(hit_seg: np.ndarray, hit_row: np.ndarray, ign_seg: np.ndarray,
                 ign_row: np.ndarray, seg_start_row: np.ndarray,
                 npos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated precision at the 101 recall levels and hit count, per curve.
    Hits must be sorted by (segment, row)."""
    # hits arrive sorted by (threshold, category, row) = (segment, row)
    _, precision = hit_precisions(hit_seg, hit_row, ign_seg, ign_row, seg_start_row,
                                  coco_formula=True)
    needed = hits_needed(RECALL_LEVELS, np.maximum(npos, 1))
    q = interpolated_precision(hit_seg, precision, len(npos), needed)
    return q, np.bincount(hit_seg, minlength=len(npos)).astype(np.float64)


def mean_defined(values: np.ndarray) -> float:
    """COCOeval.summarize's mean over defined (> -1) entries, -1 if there is none."""
    defined = values[values > -1]
    return float(np.mean(defined)) if len(defined) else -1.0


def summary_stats(precision: np.ndarray, recall: np.ndarray) -> list[float]:
    stats = []
    for is_ap, threshold, area, max_det in SUMMARY:
        values = precision if is_ap else recall
        if threshold is not None:
            values = values[np.where(threshold == THRESHOLDS)[0]]
        a, m = AREA_LABELS.index(area), MAX_DETS.index(max_det)
        stats.append(mean_defined(values[..., a, m]))
    return stats


def coco_metric_result(precision: np.ndarray, recall: np.ndarray, class_names) -> dict:
    main = precision[..., 0, -1]  # area all, maxDets 100: (T, R, K)
    per_threshold = np.array([mean_defined(main[t]) for t in range(len(THRESHOLDS))])
    per_class = np.array([[mean_defined(main[t, :, k]) for t in range(len(THRESHOLDS))]
                          for k in range(main.shape[2])])
    stats = summary_stats(precision, recall)
    result = metric_result(THRESHOLDS, per_class, class_names, per_threshold, mean=stats[0])
    result["stats"] = stats
    return result
