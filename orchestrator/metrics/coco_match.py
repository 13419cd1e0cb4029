"""pycocotools' greedy matching, for every area range and threshold at once.

COCOeval.evaluateImg walks the detections of an (image, category) in score order; each takes,
among the ground truth not yet taken (crowd boxes can be taken again), the one with the highest
overlap >= threshold, preferring boxes that are not ignored, and on equal overlap the last one
in ground-truth order. What is taken depends on earlier detections, so the walk is sequential
per (image, category) -- but independent across them. We therefore step over the rank of a
detection inside its (image, category) (at most 100 steps) and handle the detections of that
rank in every image, category, area range and threshold in one vectorised step.

Pairs whose overlap is below the lowest threshold can never match and are dropped first,
which is what keeps this cheap: most pairs of a real evaluation do not overlap enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.metrics.pairs import Pairs, segment_starts


@dataclass(frozen=True)
class Matches:
    """Matched (detection, ground truth) pairs per configuration a * thresholds + t."""

    config: np.ndarray
    det: np.ndarray
    gt: np.ndarray


def greedy_matches(pairs: Pairs, overlap: np.ndarray, det_rank: np.ndarray,
                   gt_crowd: np.ndarray, gt_ignore: np.ndarray, thresholds: np.ndarray) -> Matches:
    """Run pycocotools' matching for all area ranges (rows of `gt_ignore`) and thresholds."""
    limits = np.minimum(thresholds, 1 - 1e-10)  # pycocotools: min([t, 1-1e-10])
    useful = overlap >= limits.min()
    det, gt, overlap = pairs.det[useful], pairs.gt[useful], overlap[useful]
    by_rank = np.lexsort((det, det_rank[det]))  # stable: keeps ground-truth order per detection
    det, gt, overlap = det[by_rank], gt[by_rank], overlap[by_rank]
    ranks = det_rank[det]
    n_areas, n_thresholds = gt_ignore.shape[0], len(limits)
    taken = np.zeros((n_areas, n_thresholds, len(gt_crowd)), dtype=bool)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    bounds = np.searchsorted(ranks, np.arange(ranks.max(initial=-1) + 2))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if lo < hi:
            found.append(match_one_rank(det[lo:hi], gt[lo:hi], overlap[lo:hi], limits, taken,
                                        gt_crowd, gt_ignore))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return Matches(empty, empty, empty)
    config, det_idx, gt_idx = (np.concatenate(parts) for parts in zip(*found))
    return Matches(config=config, det=det_idx, gt=gt_idx)


def match_one_rank(det: np.ndarray, gt: np.ndarray, overlap: np.ndarray, limits: np.ndarray,
                   taken: np.ndarray, gt_crowd: np.ndarray, gt_ignore: np.ndarray):
    """Match detections that are each alone in their (image, category) at this rank.

    Arrays are (areas, thresholds, pairs); per detection (segment of pairs) the choice is the
    pair with: not-ignored first, then highest overlap, then last position. Updates `taken`.
    """
    starts = segment_starts(det)
    segment = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(det)]))
    ignored = gt_ignore[:, gt][:, None, :]
    eligible = (overlap >= limits[:, None])[None] & (~taken[:, :, gt] | gt_crowd[gt])
    has_regular = np.logical_or.reduceat(eligible & ~ignored, starts, axis=2)
    candidate = eligible & (ignored != has_regular[:, :, segment])
    best = np.maximum.reduceat(np.where(candidate, overlap, -np.inf), starts, axis=2)
    candidate &= overlap == best[:, :, segment]
    choice = np.maximum.reduceat(np.where(candidate, np.arange(len(det)), -1), starts, axis=2)
    area, threshold, seg = np.nonzero(choice >= 0)
    chosen = choice[area, threshold, seg]
    taken[area, threshold, gt[chosen]] = True
    return area * taken.shape[1] + threshold, det[chosen], gt[chosen]
