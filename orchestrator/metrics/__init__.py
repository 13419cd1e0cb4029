"""Metrics engine: VOC and COCO AP at thresholds .50:.05:.95 under IoU and GIoU, in one pass.

Evaluators (plain functions, results are the JSON object `orch map --json` prints)::

    evaluate_voc(gt, detections, *, ap_method="11point"|"all", metrics=("iou", "giou")) -> dict
    evaluate_coco(gt, detections, *, metrics=("iou", "giou")) -> dict

Readers of the generic formats producing `gt` (GroundTruth) and `detections` (Detections)::

    read_voc_annotations(folder, imageset_file, class_names=None)
    read_coco_gt(path)

Darknet's own files (label files, comp4 folders, coco_results.json) are read by the `darknet`
package into the same tables; `darknet.validation` loads a valid list's ground truth once and
scores each `detector valid` output against it. Detections are tied to ground-truth images by
key: a name (str) or a numeric id (int), see `align`.

Why one engine: every threshold and both metrics come from one matching pass over the
detections, vectorised with NumPy over all images and classes (no per-detection Python loop),
so evaluating every checkpoint stays cheap. COCO results equal pycocotools' to 1e-12 for IoU.
"""

from orchestrator.metrics.boxes import Detections, GroundTruth
from orchestrator.metrics.coco import evaluate_coco
from orchestrator.metrics.readers import read_coco_gt, read_voc_annotations
from orchestrator.metrics.voc import evaluate_voc

__all__ = [
    "Detections",
    "GroundTruth",
    "evaluate_coco",
    "evaluate_voc",
    "read_coco_gt",
    "read_voc_annotations",
]
