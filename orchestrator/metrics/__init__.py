"""Metrics engine: VOC and COCO AP at thresholds .50:.05:.95 under IoU and GIoU, in one pass.

Evaluators (plain functions, results are the JSON object `orch map --json` prints)::

    evaluate_voc(gt, detections, *, ap_method="11point"|"all", metrics=("iou", "giou")) -> dict
    evaluate_coco(gt, detections, *, metrics=("iou", "giou")) -> dict

Readers producing `gt` (GroundTruth) and `detections` (Detections)::

    read_voc_annotations(folder, imageset_file, class_names=None)
    read_coco_gt(path)
    read_darknet_labels(valid_list_file, class_names)
    read_comp4_folder(folder, class_names)
    read_darknet_coco_json(path)

Detections are tied to ground-truth images by key: comp4 lines name the image file stem,
Darknet's COCO json the number after the last `_` of the file name (see `align`).

For evaluating many checkpoints of one dataset, load the ground truth once and reuse it::

    gt = load_ground_truth(style, valid_list, names, ground_truth=None)
    result = evaluate_detections(gt, results_folder_or_json, style, ap_method, metrics)

`ground_truth` is a VOC XML folder (style voc), a COCO json (style coco), or None for Darknet
label files next to the images of `valid_list`. `results_folder_or_json` is a comp4 folder or a
Darknet `coco_results.json`; either works with either style.

Why one engine: every threshold and both metrics come from one matching pass over the
detections, vectorised with NumPy over all images and classes (no per-detection Python loop),
so evaluating every checkpoint stays cheap. COCO results equal pycocotools' to 1e-12 for IoU.
"""

from orchestrator.darknet.cfg import read_names
from orchestrator.metrics.boxes import Detections, GroundTruth
from orchestrator.metrics.coco import evaluate_coco
from orchestrator.metrics.dataset import evaluate_detections, load_detections, load_ground_truth
from orchestrator.metrics.readers import (
    read_coco_gt,
    read_comp4_folder,
    read_darknet_coco_json,
    read_darknet_labels,
    read_voc_annotations,
)
from orchestrator.metrics.voc import evaluate_voc

__all__ = [
    "Detections",
    "GroundTruth",
    "evaluate_coco",
    "evaluate_detections",
    "evaluate_voc",
    "load_detections",
    "load_ground_truth",
    "read_coco_gt",
    "read_comp4_folder",
    "read_darknet_coco_json",
    "read_darknet_labels",
    "read_names",
    "read_voc_annotations",
]
