"""Metrics engine: VOC and COCO AP at thresholds .50:.05:.95 under every registered overlap
(IoU, GIoU), in one pass.

Rooms (import what you use from its module; this package imports nothing, so that the
vocabulary modules stay free of NumPy for the CLI's start-up):

    overlaps    the overlap registry (name, label, formula); geometry computes the formulas' terms
    measures    thresholds, named measures (mean, ap50, ap75), COCO's 12 summary lines
    boxes       the two tables every reader produces: GroundTruth, Detections
    readers     the generic formats: VOC XML, COCO json (ground truth and results lists)
    evaluators  style -> evaluator (voc.VocEvaluator, coco.CocoEvaluator)
    results     EvaluationResult / MetricResult and their JSON (`orch map --json`)

Darknet's own files (label files, comp4 folders, coco_results.json) are read by the `darknet`
package into the same tables; `darknet.validation` loads a valid list's ground truth once and
scores each `detector valid` output against it. Detections are tied to ground-truth images by
key: a name (str) or a numeric id (int), see `align`.

Why one engine: every threshold and every overlap come from one matching pass over the
detections, vectorised with NumPy over all images and classes (no per-detection Python loop),
so evaluating every checkpoint stays cheap. COCO results equal pycocotools' to 1e-12 for IoU.
"""
