"""COCO-style AP: pycocotools' COCOeval (bbox) reproduced, for IoU and GIoU.

Same parameters as COCOeval: thresholds .50:.05:.95, 101 recall levels, area ranges
all/small/medium/large, maxDets 1/10/100, crowd and area-range ignore rules, the 12 summary
numbers with -1 where undefined. The GIoU variant runs the identical algorithm on GIoU.

Layout: matching is in coco_match; accumulation here works on match events rather than on
every detection. Every step runs once for all metrics, categories, area ranges, thresholds
and maxDets: the metrics share pairs, sort orders and grouping, only overlap values differ.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from orchestrator.metrics.align import align_detections
from orchestrator.metrics.boxes import Detections, GroundTruth
from orchestrator.metrics.coco_match import greedy_matches, threshold_limits
from orchestrator.metrics.curves import hits_needed, interpolated_precision
from orchestrator.metrics.geometry import PairGeometry, overlap_values
from orchestrator.metrics.measures import COCO_SUMMARY, COCOEVAL_THRESHOLDS, threshold_index
from orchestrator.metrics.overlaps import OVERLAPS, validate_overlaps
from orchestrator.metrics.pairs import Pairs, dense_rank, group_keys, pairs_by_group, rank_within_groups, stable_order
from orchestrator.metrics.results import EvaluationResult, MetricResult, metric_result

THRESHOLDS = np.array(COCOEVAL_THRESHOLDS)

RECALL_LEVELS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = np.array([[0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]])
AREA_LABELS = ("all", "small", "medium", "large")
MAX_DETS = (1, 10, 100)


class CocoProblem:
    """Detections and ground truth of one COCO evaluation, prepared once for all metrics.

    Detections are the top 100 per (image, category), renumbered in the order of COCOeval's
    precision/recall curves (category, then score, ties by image id then input order), so that
    a detection's index is also its place on its curve. `pairs` are the (detection, ground
    truth) pairs that reach the lowest threshold under some metric, ordered by detection.
    """

    def __init__(self, gt: GroundTruth, detections: Detections, metrics: tuple[str, ...]):
        image, label = align_detections(gt, detections)
        known = np.flatnonzero(label >= 0)
        image, label = image[known], label[known]
        n_classes, n_images = len(gt.class_names), len(gt.image_ids)
        groups = group_keys(image, label, n_classes)
        score_rank, n_scores = dense_rank(-detections.scores[known])
        by_group = stable_order([groups, score_rank], [n_classes * n_images, n_scores])
        rank = rank_within_groups(groups, by_group)
        kept = rank < MAX_DETS[-1]
        image_rank = np.argsort(np.argsort(gt.image_ids, kind="stable"))[image]
        # COCOeval.accumulate concatenates images in id order, each in score order, then
        # sorts stably by score: ties go by (image id, rank), which input order preserves.
        top = np.flatnonzero(kept)
        curve = top[stable_order([label[top], score_rank[top], image_rank[top]], [n_classes, n_scores, n_images])]
        place = np.empty(len(known), dtype=np.int64)
        place[curve] = np.arange(len(curve))
        grouped = by_group[kept[by_group]]  # pairing searches sorted keys: much faster
        self.n_classes = n_classes
        self.metrics = metrics
        self.label = label[curve]
        self.rank = rank[curve]
        boxes = np.take(detections.in_format("xywh"), known[curve], axis=0)
        self.det_outside = outside(boxes[:, 2] * boxes[:, 3])
        self.pairs, self.overlaps = useful_pairs(
            place[grouped],
            pairs_by_group(groups[grouped], group_keys(gt.image, gt.label, n_classes)),
            boxes,
            gt,
            metrics,
        )
        self.gt_crowd = gt.crowd
        self.gt_ignore = gt.crowd[None, :] | outside(gt.area)
        self.positives = np.stack([np.bincount(gt.label[~ig], minlength=n_classes) for ig in self.gt_ignore])
        self.class_start = np.searchsorted(self.label, np.arange(n_classes))


def useful_pairs(
    place: np.ndarray, grouped: Pairs, boxes: np.ndarray, gt: GroundTruth, metrics: tuple[str, ...]
) -> tuple[Pairs, np.ndarray]:
    """Pairs (detections numbered by `place`) that reach the lowest threshold under some
    metric, ordered by detection then ground-truth input order; and their (metrics, pairs)
    overlaps. The others can never match."""
    det = place[grouped.det]
    gt_boxes = gt.in_format("xywh")
    geometry = PairGeometry.coco(boxes[det], gt_boxes[grouped.gt], gt.crowd[grouped.gt])
    overlaps = overlap_values(geometry, metrics)
    useful = np.flatnonzero((overlaps >= threshold_limits(THRESHOLDS).min()).any(axis=0))
    useful = useful[np.argsort(det[useful], kind="stable")]
    return Pairs(det=det[useful], gt=grouped.gt[useful]), overlaps[:, useful]


def outside(area: np.ndarray) -> np.ndarray:
    """(area ranges, boxes): whether each area lies outside each range (COCOeval's test)."""
    return (area[None, :] < AREA_RANGES[:, :1]) | (area[None, :] > AREA_RANGES[:, 1:])


def evaluate_coco(
    gt: GroundTruth, detections: Detections, *, metrics: Iterable[str] = tuple(OVERLAPS)
) -> EvaluationResult:
    """COCO AP for each metric, with the 12 summary `stats`.

    `per_class` holds each category's AP at each threshold (area all, maxDets 100), -1 for a
    category without ground truth, as COCOeval marks undefined values.
    """
    metrics = validate_overlaps(metrics)
    precision, recall = precision_recall(gt, detections, metrics, every_max_dets=False)
    out = {name: coco_metric_result(precision[m], recall[m], gt) for m, name in enumerate(metrics)}
    return EvaluationResult("coco", "101point", out)


class CocoEvaluator:
    """The COCO-style evaluator of the registry (see evaluators)."""

    def evaluate(self, gt: GroundTruth, detections: Detections, metrics: Iterable[str]) -> EvaluationResult:
        return evaluate_coco(gt, detections, metrics=metrics)


def precision_recall(
    gt: GroundTruth, detections: Detections, metrics: tuple[str, ...], every_max_dets: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval's `eval["precision"]` and `eval["recall"]` for each metric (see accumulate)."""
    problem = CocoProblem(gt, detections, metrics)
    matched = greedy_matches(
        problem.pairs, problem.overlaps, problem.rank, problem.gt_crowd, problem.gt_ignore, THRESHOLDS
    )
    return accumulate(problem, matched, every_max_dets)


def accumulate(problem: CocoProblem, matched: np.ndarray, every_max_dets: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.accumulate for every metric: precision (metrics, T, R, K, A, M) and recall
    (metrics, T, K, A, M), -1 if undefined.

    The 12 summary numbers read precision at the largest maxDets only: without
    `every_max_dets` the precision of the smaller ones is not computed (left at -1), their
    recall (a count of hits) is.

    Precision only rises at a true positive, so it is computed at those rows only, for all
    curves (metric, area, threshold, category) of one maxDets at once. A curve's rows are its
    category's detections among the first maxDets of their image, less the ignored ones:
    outside the area range and unmatched, or matched to ignored truth. So the false positives
    above a hit are the rows inside the area range above it (a running count per maxDets and
    area), less the ignored matches and hits above it, plus the hits from outside the range.
    One maxDets at a time: the hit lists are the large temporaries, and this keeps a third of them.
    """
    inside_above, outside = inside_rows_above(problem)
    shape = (len(MAX_DETS), len(AREA_RANGES), -1)
    curves = [
        curves_at_max_dets(
            problem,
            matched,
            max_dets,
            inside_above.reshape(shape)[d],
            outside.reshape(shape)[d],
            with_precision=every_max_dets or max_dets == MAX_DETS[-1],
        )
        for d, max_dets in enumerate(MAX_DETS)
    ]
    precision = np.stack([q for q, _ in curves])  # (maxDets, metrics, areas, T, K, R)
    recall = np.stack([r for _, r in curves])  # (maxDets, metrics, areas, T, K)
    return precision.transpose(1, 3, 5, 4, 2, 0), recall.transpose(1, 3, 4, 2, 0)


def curves_at_max_dets(
    problem: CocoProblem,
    matched: np.ndarray,
    max_dets: int,
    inside_above: np.ndarray,
    outside: np.ndarray,
    with_precision: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated precision (metrics, areas, T, K, R; all -1 without `with_precision`) and
    recall (metrics, areas, T, K) of the curves of one maxDets; `inside_above` and `outside` are
    inside_rows_above's rows of that maxDets, (areas, pairs)."""
    n_metrics, n_areas, n_t, n_pairs = matched.shape
    n_k = problem.n_classes
    index = np.int32 if matched.size < 2**31 else np.int64
    det = problem.pairs.det
    label = problem.label[det].astype(index)
    regular = ~problem.gt_ignore[:, problem.pairs.gt][None, :, None, :]
    counted = (problem.rank[det] < max_dets)[None, None, None, :] & matched
    # flat indices (config, pair), config = (metric, area, threshold): curve order
    hit = np.flatnonzero(counted & regular).astype(index)
    config, pair = np.divmod(hit, max(n_pairs, 1))
    curve = config * n_k + label[pair]
    n_curves = n_metrics * n_areas * n_t * n_k
    curve_first = np.searchsorted(curve, np.arange(n_curves + 1, dtype=index)).astype(index)
    shape = (n_metrics, n_areas, n_t, n_k)
    npos = np.broadcast_to(problem.positives[None, :, None, :], shape).ravel()
    recall = np.where(npos > 0, np.diff(curve_first) / np.maximum(npos, 1), -1.0).reshape(shape)
    if not with_precision:
        return np.full(shape + (len(RECALL_LEVELS),), -1.0), recall
    inside = ~problem.det_outside[:, det][None, :, None, :]
    ignored_match = np.flatnonzero(counted & ~regular & inside).astype(index)
    del counted
    first = curve_first[curve]
    hits_before = np.arange(len(hit), dtype=index) - first
    ignored_before = matches_above(hit, ignored_match, curve, n_metrics * n_areas * n_t, label, n_k, n_pairs)
    # per area row and pair: rows inside the range above it, whether it is outside
    row_pair = (config // n_t % n_areas) * n_pairs + pair
    del config, pair
    outside_hit = outside.ravel()[row_pair]
    outside_total = np.cumsum(outside_hit, dtype=index) - outside_hit
    fp = inside_above.ravel()[row_pair] - hits_before - ignored_before + outside_total - outside_total[first]
    tp = (hits_before + 1).astype(np.float64)
    precision_at_hit = tp / (fp.astype(np.float64) + tp + np.spacing(1))
    needed = hits_needed(RECALL_LEVELS, np.maximum(problem.positives.ravel(), 1))
    area_class = np.broadcast_to(np.arange(n_areas * n_k).reshape(n_areas, 1, n_k)[None], shape).ravel()
    q = interpolated_precision(curve, precision_at_hit, n_curves, needed[area_class])
    q[npos == 0] = -1.0
    return q.reshape(shape + (-1,)), recall


def matches_above(
    hit: np.ndarray,
    ignored_match: np.ndarray,
    curve: np.ndarray,
    n_configs: int,
    label: np.ndarray,
    n_classes: int,
    n_pairs: int,
) -> np.ndarray:
    """Per hit, the ignored matches above it on its curve (both lists of flat indices are
    sorted): all ignored matches before it, less those before its curve's first pair."""
    before = np.cumsum(np.bincount(np.searchsorted(hit, ignored_match), minlength=len(hit) + 1))[: len(hit)]
    class_first_pair = np.searchsorted(label, np.arange(n_classes))
    curve_start = (np.arange(n_configs)[:, None] * n_pairs + class_first_pair[None, :]).ravel()
    return before - np.searchsorted(ignored_match, curve_start)[curve]


def inside_rows_above(problem: CocoProblem) -> tuple[np.ndarray, np.ndarray]:
    """Per (maxDets, area range) and pair: how many detections above the pair's detection on
    its category's curve are among the first maxDets of their image and inside the range;
    and whether the pair's detection is outside the range. Shapes (maxDets * areas, pairs)."""
    det = problem.pairs.det
    within = problem.rank[None, :] < np.array(MAX_DETS)[:, None]
    rows = len(MAX_DETS) * len(AREA_RANGES)
    member = (within[:, None, :] & ~problem.det_outside[None]).reshape(rows, len(problem.rank))
    running = np.zeros((rows, len(problem.rank) + 1), dtype=np.int32)
    np.cumsum(member, axis=1, out=running[:, 1:])
    start = problem.class_start[problem.label[det]]
    outside = np.broadcast_to(problem.det_outside[None, :, det], (len(MAX_DETS), len(AREA_RANGES), len(det))).reshape(
        rows, len(det)
    )
    return running[:, det] - running[:, start], outside


def mean_defined(values: np.ndarray) -> float:
    """COCOeval.summarize's mean over defined (> -1) entries, -1 if there is none."""
    defined = values[values > -1]
    return float(np.mean(defined)) if len(defined) else -1.0


def summary_stats(precision: np.ndarray, recall: np.ndarray) -> list[float]:
    """COCOeval.summarize's 12 numbers (measures.COCO_SUMMARY) from one metric's arrays."""
    stats = []
    for line in COCO_SUMMARY:
        values = precision if line.precision else recall
        if line.threshold is not None:
            values = values[threshold_index(line.threshold)]
        stats.append(mean_defined(values[..., AREA_LABELS.index(line.area), MAX_DETS.index(line.max_dets)]))
    return stats


def coco_metric_result(precision: np.ndarray, recall: np.ndarray, gt: GroundTruth) -> MetricResult:
    main = precision[..., 0, -1]  # area all, maxDets 100: (T, R, K)
    per_threshold = np.array([mean_defined(main[t]) for t in range(len(THRESHOLDS))])
    per_class = np.array([[mean_defined(main[t, :, k]) for t in range(len(THRESHOLDS))] for k in range(main.shape[2])])
    stats = summary_stats(precision, recall)
    return metric_result(per_class, gt.class_ids, gt.class_names, per_threshold, mean=stats[0], stats=stats)
