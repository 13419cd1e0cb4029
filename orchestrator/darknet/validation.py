"""A darknet validation set: its ground truth loaded once, then each `detector valid` output
scored against it.

This is what ongoing evaluation uses: every checkpoint's output is a comp4 folder or a
coco_results.json, always of the images of one valid list. Ground truth comes from darknet's
label files, a VOC XML folder or a COCO json; whatever its source, its images get the two
keys darknet's outputs use (basecfg() of the path for comp4, get_coco_image_id() for the
json) and its classes the names of the .names file darknet was given. Darknet's json names
class i by category coco_ids[i]; label files and VOC XML get those ids, and the json's
categories are translated to a COCO ground truth's own ids (class i <-> its i-th category).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from orchestrator.base.errors import OrchError
from orchestrator.darknet.cfg import basecfg, read_names
from orchestrator.darknet.coco_ids import category_ids, refuse_beyond_table
from orchestrator.darknet.labels import read_darknet_labels, valid_images
from orchestrator.darknet.outputs import image_ids_for, read_comp4_folder, read_darknet_coco_json
from orchestrator.metrics.align import lookup
from orchestrator.metrics.boxes import Detections, GroundTruth
from orchestrator.metrics.evaluators import evaluator
from orchestrator.metrics.overlaps import OVERLAPS
from orchestrator.metrics.readers import read_coco_gt, voc_annotations
from orchestrator.metrics.results import EvaluationResult

PathLike = str | os.PathLike


def load_ground_truth(
    style: str, valid_list: PathLike, names: PathLike | Sequence[str], ground_truth: PathLike | None = None
) -> GroundTruth:
    """Ground truth of the images in `valid_list`.

    `ground_truth`: a VOC annotations folder (XML per image id = basecfg of each listed
    image), a COCO json, or None for darknet's label files. `names` is the .names file (or the
    list of names) darknet used, so class indices of comp4 output line up.
    """
    class_names = read_names(names) if isinstance(names, (str, os.PathLike)) else list(names)
    evaluator(style)  # an unknown style is refused before any file is read
    if style == "coco":  # darknet writes coco_results.json
        refuse_beyond_table(len(class_names), str(names) if isinstance(names, (str, os.PathLike)) else "names")
    if ground_truth is None:
        return read_darknet_labels(valid_list, class_names)
    source = Path(ground_truth)
    if source.is_dir():
        paths = valid_images(valid_list)
        gt = voc_annotations(source, [basecfg(path) for path in paths], class_names)
        return replace(with_darknet_class_ids(gt), image_ids=image_ids_for(paths))
    return with_darknet_names(read_coco_gt(source), class_names, source)


def with_darknet_class_ids(gt: GroundTruth) -> GroundTruth:
    """VOC ground truth whose classes carry the category ids darknet's json gives them, so its
    per-class results are keyed as those of label files (VOC XML itself has no ids)."""
    return replace(gt, class_ids=np.array(category_ids(len(gt.class_names)), dtype=np.int64))


def with_darknet_names(gt: GroundTruth, class_names: Sequence[str], source: Path) -> GroundTruth:
    """COCO ground truth keyed as darknet keys it: images by basecfg() of their file name,
    classes by the .names darknet used (class i <-> the i-th category id).

    Darknet's comp4 files are named after its .names (e.g. `diningtable`), which differ from
    COCO's category names, and its coco_ids table maps class i to the i-th sorted COCO id.
    """
    if len(class_names) != len(gt.class_names):
        raise OrchError(
            f"the names file has {len(class_names)} names but the ground truth {len(gt.class_names)} categories",
            str(source),
        )
    return replace(gt, image_names=tuple(basecfg(name) for name in gt.image_names), class_names=tuple(class_names))


def load_detections(gt: GroundTruth, results: PathLike) -> Detections:
    """A comp4 folder or a darknet coco_results.json, with class ids matching `gt`."""
    path = Path(results)
    if path.is_dir():
        return read_comp4_folder(path, gt.class_names, gt.class_ids)
    refuse_beyond_table(len(gt.class_names), str(path))
    return in_ground_truth_ids(read_darknet_coco_json(path), gt)


def in_ground_truth_ids(detections: Detections, gt: GroundTruth) -> Detections:
    """Json detections with category coco_ids[i] renamed to the ground truth's id of class i.

    Only a COCO ground truth whose ids are not coco_ids[:n] (e.g. 0-based) changes; a category
    darknet never writes for these classes is dropped (no class of the ground truth).
    """
    written = np.array(category_ids(len(gt.class_names)), dtype=np.int64)
    index = lookup(written, detections.class_ids.astype(np.int64))
    keep = index >= 0
    return replace(
        detections,
        image_keys=detections.image_keys[keep],
        class_ids=gt.class_ids[index[keep]],
        scores=detections.scores[keep],
        boxes=detections.boxes[keep],
    )


def evaluate_detections(
    gt: GroundTruth,
    results_folder_or_json: PathLike,
    style: str,
    ap_method: str = "11point",
    metrics: Iterable[str] = tuple(OVERLAPS),
) -> EvaluationResult:
    """Evaluate one detection output against loaded ground truth (see `load_ground_truth`)."""
    chosen = evaluator(style, ap_method)
    return chosen.evaluate(gt, load_detections(gt, results_folder_or_json), metrics)
