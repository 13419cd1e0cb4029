"""pycocotools' annotation-id artefacts: orch computes the intended numbers and names the artefact.

pycocotools keys ground truth by annotation id in two places where ids are not meant to matter:
- `COCO.loadAnns` looks annotations up by id, so where ids repeat every occurrence becomes the
  LAST annotation with that id (its box, image, category, area and crowd flag);
- `COCOeval.evaluateImg` records a match as the matched annotation's id and `accumulate` reads
  that id as "matched" only when it is non-zero, so a detection matched to annotation id 0
  counts as a false positive (while the annotation still cannot be matched again).
orch evaluates every annotation as written. When a ground truth has either artefact, the
commands that print results warn, naming it and what pycocotools would report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from orchestrator.metrics.boxes import GroundTruth
from orchestrator.metrics.results import EvaluationResult


def artefact_warnings(
    gt: GroundTruth, ours: EvaluationResult, evaluate: Callable[[GroundTruth], EvaluationResult]
) -> list[str]:
    """One line per artefact of `gt` (none when its annotations have no ids). `ours` is orch's
    result; `evaluate` scores another ground truth against the same detections, to say what
    pycocotools would report."""
    if gt.ann_ids is None or len(gt.ann_ids) == 0:
        return []
    warnings = []
    zero = int(np.count_nonzero(gt.ann_ids == 0))
    if zero:
        warnings.append(
            f"{zero} ground-truth annotation(s) with id 0: pycocotools counts a detection matched to one as a "
            "false positive (lower AP); orch counts it as a true positive"
        )
    if has_repeated_ids(gt):
        ids, counts = np.unique(gt.ann_ids, return_counts=True)
        repeated = ids[counts > 1]
        pycocotools = evaluate(as_pycocotools_reads(gt))
        warnings.append(
            f"{len(repeated)} annotation id(s) repeated (e.g. {int(repeated[0])}): pycocotools evaluates the last "
            f"annotation with an id in place of each and would report {summary(pycocotools)}; orch: {summary(ours)}"
        )
    return warnings


def has_repeated_ids(gt: GroundTruth) -> bool:
    return gt.ann_ids is not None and len(np.unique(gt.ann_ids)) < len(gt.ann_ids)


def as_pycocotools_reads(gt: GroundTruth) -> GroundTruth:
    """The ground truth as pycocotools' loadAns returns it: each annotation replaced by the last
    annotation with the same id."""
    assert gt.ann_ids is not None
    reversed_ids = gt.ann_ids[::-1]
    _, first_in_reversed = np.unique(reversed_ids, return_index=True)
    last_row = dict(zip(reversed_ids[first_in_reversed].tolist(), (len(gt.ann_ids) - 1 - first_in_reversed).tolist()))
    rows = np.array([last_row[i] for i in gt.ann_ids.tolist()], dtype=np.int64)
    return replace(
        gt,
        image=gt.image[rows],
        label=gt.label[rows],
        boxes=gt.boxes[rows],
        area=gt.area[rows],
        crowd=gt.crowd[rows],
        difficult=gt.difficult[rows],
    )


def summary(result: EvaluationResult) -> str:
    return ", ".join(f"{name} mAP {block.mean:.4f}" for name, block in result.metrics.items())
