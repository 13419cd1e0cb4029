"""Grouping helpers: which detections compete for which ground truth.

Both evaluators only compare a detection with the ground truth of its own image and class
(its "group"). Listing exactly those pairs keeps memory linear in what is compared instead of
images x detections x ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pairs:
    """Detection/ground-truth pairs of the same group, ordered by detection then by ground
    truth in input order (the order both references scan ground truth in)."""

    det: np.ndarray
    gt: np.ndarray


def group_keys(image: np.ndarray, label: np.ndarray, n_labels: int) -> np.ndarray:
    return image.astype(np.int64) * n_labels + label.astype(np.int64)


def pairs_by_group(det_groups: np.ndarray, gt_groups: np.ndarray) -> Pairs:
    """All (detection, ground truth) index pairs sharing a group key, detection-major."""
    gt_order = np.argsort(gt_groups, kind="stable")
    sorted_groups = gt_groups[gt_order]
    first = np.searchsorted(sorted_groups, det_groups, side="left")
    counts = np.searchsorted(sorted_groups, det_groups, side="right") - first
    det = np.repeat(np.arange(len(det_groups)), counts)
    offsets = np.arange(len(det)) - np.repeat(np.cumsum(counts) - counts, counts)
    return Pairs(det=det, gt=gt_order[np.repeat(first, counts) + offsets])


def segment_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Indices where a run of equal keys begins in a sorted array."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def rank_within_groups(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rank (0, 1, ...) of each element inside its group, following `order`.

    `order` must list the elements group by group (e.g. from a lexsort whose last key is
    the group). Returns the rank indexed by element.
    """
    ranks = np.empty(len(order), dtype=np.int64)
    sorted_groups = groups[order]
    starts = segment_starts(sorted_groups)
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    ranks[order] = np.arange(len(order)) - run_start
    return ranks


def dense_rank(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Rank of each value in ascending order, equal values sharing a rank; and the number of
    distinct values. Turns float sort keys into small integers that combine exactly."""
    order = np.argsort(values)  # equal values get equal ranks: stability is not needed
    sorted_values = values[order]
    is_new = np.r_[True, sorted_values[1:] != sorted_values[:-1]] if len(values) else np.zeros(0, bool)
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.cumsum(is_new) - 1
    return ranks, int(is_new.sum())


def stable_order(keys: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """Indices sorting by `keys` (most significant first, each in [0, size)), ties kept in
    index order. Keys are combined into one int64 -- several times faster than np.lexsort on
    half a million rows -- and, when the index fits beside them, the index too: the keys are
    then unique and a plain sort of values (SIMD where the CPU has it) is stable for free.
    lexsort only when the key would overflow."""
    n = len(keys[0])
    key_range = np.prod([float(max(s, 1)) for s in sizes])
    if key_range >= 2.0**62:
        return np.lexsort([np.arange(n)] + keys[::-1])
    combined = np.zeros(n, dtype=np.int64)
    for key, size in zip(keys, sizes):
        combined = combined * max(size, 1) + key
    if key_range * max(n, 1) >= 2.0**62:
        return np.argsort(combined, kind="stable")
    combined = combined * n + np.arange(n)
    return np.sort(combined) % max(n, 1)
