"""The shape of an evaluation result: the JSON object `orch map --json` prints.

`{"style", "ap_method", "metrics": {name: {"thresholds", "ap", "mean", "per_class",
["stats"]}}}` with plain Python floats so that it can be dumped as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

# pycocotools' own expression, so that threshold values are bit-identical to COCOeval's.
THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
METRICS = ("iou", "giou")


def validate_metrics(metrics: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(metrics)
    unknown = [m for m in chosen if m not in METRICS]
    if unknown or not chosen:
        raise ValueError(f"metrics must be among {METRICS}, got {chosen}")
    return chosen


def metric_result(
    thresholds: np.ndarray, per_class: np.ndarray, class_names: Sequence[str], ap: np.ndarray, mean: float | None = None
) -> dict:
    """One metric's block: AP per threshold, its mean, and per-class AP (classes x thresholds)."""
    return {
        "thresholds": [round(float(t), 10) for t in thresholds],
        "ap": [float(v) for v in ap],
        "mean": float(np.mean(ap)) if mean is None else float(mean),
        "per_class": {name: [float(v) for v in row] for name, row in zip(class_names, per_class)},
    }
