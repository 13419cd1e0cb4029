"""pycocotools' greedy matching, for every metric, area range and threshold at once.

COCOeval.evaluateImg walks the detections of an (image, category) in score order; each takes,
among the ground truth not yet taken (crowd boxes can be taken again), the one with the highest
overlap >= threshold, preferring boxes that are not ignored, and on equal overlap the last one
in ground-truth order. What is taken depends on earlier detections, so the walk is sequential
per (image, category) -- but independent across them.

Only pairs whose overlap reaches the lowest threshold can match, and most of them form "stars":
one ground-truth box whose candidates have no other candidate. There the choice cannot depend
on ignore flags or on any other box, so a star is solved in closed form, once for all area
ranges: a detection takes its box at the thresholds it passes and no earlier candidate passed.
The remaining pairs step over the rank of a detection inside its (image, category) (at most 100
steps) and handle the detections of that rank in every image, category, metric, area range and
threshold in one vectorised step.
"""

from __future__ import annotations

import numpy as np

from orchestrator.metrics.pairs import Pairs, segment_starts


def threshold_limits(thresholds: np.ndarray) -> np.ndarray:
    """The value an overlap must reach at each threshold: pycocotools' min([t, 1-1e-10])."""
    return np.minimum(thresholds, 1 - 1e-10)


def greedy_matches(
    pairs: Pairs,
    overlaps: np.ndarray,
    det_rank: np.ndarray,
    gt_crowd: np.ndarray,
    gt_ignore: np.ndarray,
    thresholds: np.ndarray,
) -> np.ndarray:
    """matched[metric, area, threshold, pair]: whether COCOeval matches the pair there.

    `overlaps` is (metrics, pairs); `gt_ignore` (areas, ground truth). Pairs must be ordered
    by detection, then ground truth in input order.
    """
    limits = threshold_limits(thresholds)
    # thresholds passed: overlap >= limits[t] <=> t < level (the same float comparisons)
    levels = np.searchsorted(limits, overlaps, side="right").astype(np.int8)
    n_metrics, n_areas, n_thresholds = len(overlaps), len(gt_ignore), len(limits)
    matched = np.zeros((n_metrics, n_areas, n_thresholds, len(pairs.det)), dtype=bool)
    star = star_pairs(pairs, len(gt_crowd))
    matched[..., star] = star_matches(
        pairs.gt[star], det_rank[pairs.det[star]], levels[:, star], gt_crowd, n_thresholds
    )[:, None]
    rest = np.flatnonzero(~star)
    sequential_matches(
        matched,
        rest,
        pairs.det[rest],
        pairs.gt[rest],
        overlaps[:, rest],
        levels[:, rest],
        det_rank,
        gt_crowd,
        gt_ignore,
    )
    return matched


def star_pairs(pairs: Pairs, n_gt: int) -> np.ndarray:
    """Pairs whose ground truth is only a candidate of detections with no other candidate."""
    per_det = np.bincount(pairs.det)[pairs.det] if len(pairs.det) else np.zeros(0, np.int64)
    shared = np.zeros(n_gt, dtype=bool)
    shared[pairs.gt[per_det > 1]] = True
    return ~shared[pairs.gt]


def star_matches(
    gt: np.ndarray, det_rank: np.ndarray, levels: np.ndarray, gt_crowd: np.ndarray, n_thresholds: int
) -> np.ndarray:
    """(metrics, thresholds, pairs) matches of star pairs.

    A regular box goes to its first candidate (in rank order) passing the threshold: the pair
    matches at thresholds t with (level of earlier candidates) <= t < (its level). A crowd box
    is taken by every candidate that passes.
    """
    order = np.argsort(gt.astype(np.int64) * 128 + det_rank, kind="stable")  # ranks < 100
    base = gt[order].astype(np.int64) * (n_thresholds + 1)
    running = np.maximum.accumulate(base + levels[:, order], axis=1)
    earlier = np.concatenate([np.full((len(levels), 1), -1), running[:, :-1]], axis=1) - base
    earlier = np.where(earlier >= 0, earlier, 0)
    earlier[:, gt_crowd[gt[order]]] = 0
    t = np.arange(n_thresholds)[None, :, None]
    matched = np.empty((len(levels), n_thresholds, len(gt)), dtype=bool)
    matched[:, :, order] = (earlier[:, None, :] <= t) & (t < levels[:, None, order])
    return matched


def sequential_matches(
    matched: np.ndarray,
    index: np.ndarray,
    det: np.ndarray,
    gt: np.ndarray,
    overlaps: np.ndarray,
    levels: np.ndarray,
    det_rank: np.ndarray,
    gt_crowd: np.ndarray,
    gt_ignore: np.ndarray,
) -> None:
    """Walk the ranks for the pairs `index` of `matched` (filled in place)."""
    n_metrics, n_areas, n_thresholds, _ = matched.shape
    taken = np.zeros((n_metrics, n_areas, n_thresholds, len(gt_crowd)), dtype=bool)
    by_rank = np.argsort(det_rank[det].astype(np.int16), kind="stable")  # pairs of a detection stay together
    bounds = np.flatnonzero(np.diff(det_rank[det[by_rank]], prepend=-1, append=-1))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        step = by_rank[lo:hi]
        metric, area, threshold, chosen = match_one_rank(
            det[step], gt[step], overlaps[:, step], levels[:, step], taken, gt_crowd, gt_ignore
        )
        taken[metric, area, threshold, gt[step[chosen]]] = True
        matched[metric, area, threshold, index[step[chosen]]] = True


def match_one_rank(
    det: np.ndarray,
    gt: np.ndarray,
    overlap: np.ndarray,
    levels: np.ndarray,
    taken: np.ndarray,
    gt_crowd: np.ndarray,
    gt_ignore: np.ndarray,
):
    """Match detections that are each alone in their (image, category) at this rank.

    Arrays are (metrics, areas, thresholds, pairs); per detection (segment of pairs) the choice
    is the pair with: not-ignored first, then highest overlap, then last position. Returns
    (metric, area, threshold, pair) of the matches.
    """
    starts = segment_starts(det)
    segment = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(det)]))
    ignored = gt_ignore[:, gt][None, :, None, :]
    passes = np.arange(taken.shape[2])[None, :, None] < levels[:, None, :]
    eligible = passes[:, None] & (~taken[..., gt] | gt_crowd[gt])
    has_regular = np.logical_or.reduceat(eligible & ~ignored, starts, axis=3)
    candidate = eligible & (ignored != has_regular[..., segment])
    value = overlap[:, None, None, :]
    best = np.maximum.reduceat(np.where(candidate, value, -np.inf), starts, axis=3)
    candidate &= value == best[..., segment]
    choice = np.maximum.reduceat(np.where(candidate, np.arange(len(det)), -1), starts, axis=3)
    metric, area, threshold, seg = np.nonzero(choice >= 0)
    return metric, area, threshold, choice[metric, area, threshold, seg]
