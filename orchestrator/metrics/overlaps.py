"""The overlap registry: how a detection and a ground-truth box are compared for matching.

Each overlap is one formula over a `PairGeometry` (intersection, union, enclosing box, centres,
computed once per pair in the convention of the evaluator: VOC's +1 pixel widths or COCO's
corner + size). Everything that names the matching metrics -- the evaluators, `eval.metrics`
in orch.yaml, the `--metric` choices, `orch status` columns and the report's curves -- reads
this table, so a new overlap (DIoU: ``iou - share(centre distance², enclosing diagonal²)``) is
one function and one entry here.

This module is imported by the CLI at start-up to build its choices, so it must not import
NumPy: the formulas only use arithmetic operators and the geometry's own methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from orchestrator.metrics.geometry import PairGeometry


@dataclass(frozen=True)
class Overlap:
    """A matching metric: its key (JSON, CLI, orch.yaml), its label for people, its formula."""

    name: str
    label: str
    formula: Callable[[PairGeometry], np.ndarray]


def iou(g: PairGeometry) -> np.ndarray:
    """Intersection over union (for a COCO crowd box: over the detection's area)."""
    return g.iou


def giou(g: PairGeometry) -> np.ndarray:
    """Generalised IoU: IoU less the share of the enclosing box that neither box covers.

    The penalty uses the true union also for crowd boxes, so a detection inside a crowd region
    keeps its full overlap and is ignored as pycocotools would ignore it.
    """
    return g.iou - g.share(g.hull - g.union, g.hull)


OVERLAPS: dict[str, Overlap] = {o.name: o for o in (Overlap("iou", "IoU", iou), Overlap("giou", "GIoU", giou))}
#: The overlap that ranks weights where one must be chosen (report's best weights, per-class grid).
PRIMARY = "iou"


def validate_overlaps(names: Iterable[str]) -> tuple[str, ...]:
    """`names` as a tuple, refused (ValueError) when empty or when one is not registered."""
    chosen = tuple(names)
    unknown = [n for n in chosen if n not in OVERLAPS]
    if unknown or not chosen:
        raise ValueError(f"metrics must be among {tuple(OVERLAPS)}, got {chosen}")
    return chosen
