"""Precision/recall curves from true-positive events, shared by the VOC and COCO evaluators.

Both references build a precision/recall curve per (threshold, class) by cumulating true and
false positives over detections sorted by score. Precision only rises at a true positive, so
every quantity they read off the curve (11-point, 101-point and all-point AP) is a maximum
over true-positive rows. We therefore only compute precision at those rows ("hits"), for all
curves at once, with the exact floating point formula of each reference.

Rows are numbered consecutively inside a curve ("segment"); a segment starts at
`segment_start_row[s]`. Ignored rows (VOC difficult, COCO ignore) count neither as true nor
false positives.
"""

from __future__ import annotations

import numpy as np

from orchestrator.metrics.pairs import segment_starts


def hit_precisions(
    hit_segment: np.ndarray,
    hit_row: np.ndarray,
    ignored_segment: np.ndarray,
    ignored_row: np.ndarray,
    segment_start_row: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Ordinal (1-based count of hits so far) and precision of each hit.

    Hits must be sorted by (segment, row); ignored rows may come in any order. The precision
    formula is voc_eval's ``tp / max(tp + fp, eps)`` (COCO counts its rows from match events
    in coco.accumulate).
    """
    stride = int(max(hit_row.max(initial=0), ignored_row.max(initial=0), segment_start_row.max(initial=0))) + 1
    first_hit = np.searchsorted(hit_segment, hit_segment, side="left")
    ordinal = np.arange(len(hit_segment)) - first_hit + 1
    ignored_keys = np.sort(ignored_segment.astype(np.int64) * stride + ignored_row)
    base = hit_segment.astype(np.int64) * stride
    start_row = segment_start_row[hit_segment]
    ignored_before = np.searchsorted(ignored_keys, base + hit_row) - np.searchsorted(ignored_keys, base + start_row)
    tp = ordinal.astype(np.float64)
    fp = (hit_row - start_row - (ordinal - 1) - ignored_before).astype(np.float64)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return ordinal, precision


def hits_needed(recall_levels: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """Smallest hit count k with ``k / positives >= level``, as the references compare it.

    The references compare the float recall ``tp / npos`` with each level, so the rounding of
    that division decides borderline cases; the estimate from ceil() is corrected both ways.
    Shape (len(positives), len(recall_levels)); positives must be > 0.
    """
    npos = positives.astype(np.float64)[:, None]
    k = np.ceil(recall_levels[None, :] * npos)
    for _ in range(2):
        k = np.where((k - 1 >= 0) & ((k - 1) / npos >= recall_levels), k - 1, k)
        k = np.where(k / npos < recall_levels, k + 1, k)
    return k.astype(np.int64)


def interpolated_precision(
    hit_segment: np.ndarray, precision: np.ndarray, n_segments: int, needed: np.ndarray
) -> np.ndarray:
    """Max precision over the hits of each segment whose ordinal is >= needed[s, r].

    This is the interpolated precision at recall level r (0 where no such hit exists), as
    pycocotools reads it with searchsorted and voc_eval's 11-point rule with a mask. Done for
    all segments at once: the maxima of the chunks between consecutive levels (one reduceat),
    then a running maximum from the highest level down.
    """
    seg_first = np.searchsorted(hit_segment, np.arange(n_segments), side="left")
    seg_end = np.searchsorted(hit_segment, np.arange(n_segments), side="right")
    starts = np.minimum(seg_first[:, None] + np.maximum(needed, 1) - 1, seg_end[:, None])
    bounds = np.concatenate([starts, seg_end[:, None]], axis=1)
    padded = np.append(precision, 0.0)
    chunk_max = np.maximum.reduceat(padded, bounds.ravel()).reshape(bounds.shape)[:, :-1]
    chunk_max[bounds[:, :-1] == bounds[:, 1:]] = 0.0
    return np.maximum.accumulate(chunk_max[:, ::-1], axis=1)[:, ::-1]


def suffix_max_per_segment(hit_segment: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Precision envelope at every hit: the max precision of this and all later hits of its
    segment (the monotone curve all-point AP integrates). One accumulate per segment."""
    envelope = np.empty_like(precision)
    starts = segment_starts(hit_segment)
    for lo, hi in zip(starts, np.r_[starts[1:], len(precision)].astype(np.int64)):
        envelope[lo:hi] = np.maximum.accumulate(precision[lo:hi][::-1])[::-1]
    return envelope
