"""Readers of the generic formats: COCO ground truth and results json, VOC XML annotations.

Darknet's own files (label files, comp4 and coco_results.json) are read in `darknet`, into the
same tables. Each returns a `GroundTruth` or `Detections` table. Bad input raises OrchError naming the
file (and line or entry) so that a user can fix it; paths are used as given (relative to the
current directory or absolute).
"""

from __future__ import annotations

import itertools
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.base.errors import OrchError
from orchestrator.metrics.align import lookup
from orchestrator.metrics.boxes import Detections, GroundTruth

# ---- detections ----------------------------------------------------------------------------


def coco_detections(entries: Any, source: str) -> Detections:
    """Detections from a parsed COCO results list (`source` names it in errors)."""
    if not isinstance(entries, list):
        raise OrchError("expected a JSON list of detections", source)
    try:
        n = len(entries)
        image = np.fromiter((e["image_id"] for e in entries), dtype=np.int64, count=n)
        category = np.fromiter((e["category_id"] for e in entries), dtype=np.int64, count=n)
        scores = np.fromiter((e["score"] for e in entries), dtype=np.float64, count=n)
        if any(len(e["bbox"]) != 4 for e in entries):
            raise ValueError
        boxes = np.fromiter(
            itertools.chain.from_iterable(e["bbox"] for e in entries), dtype=np.float64, count=4 * n
        ).reshape(n, 4)
    except (KeyError, TypeError, ValueError):
        raise OrchError(
            f"detection entry {first_bad_detection(entries)} needs image_id, category_id, score and a 4-number bbox",
            source,
        ) from None
    return Detections(image_keys=image, class_ids=category, scores=scores, boxes=boxes, box_format="xywh")


def first_bad_detection(entries: list) -> int:
    for i, e in enumerate(entries):
        try:
            int(e["image_id"]), int(e["category_id"]), float(e["score"])
            if len([float(v) for v in e["bbox"]]) != 4:
                return i
        except (KeyError, TypeError, ValueError):
            return i
    return -1


# ---- ground truth --------------------------------------------------------------------------


def read_coco_gt(path: str | os.PathLike) -> GroundTruth:
    """COCO instances json: the images, categories and annotations COCOeval would use.

    Categories are ordered by id (COCOeval's catIds); annotations of unknown images or
    categories are dropped as COCOeval never looks at them; `area` defaults to w*h.
    """
    return coco_ground_truth(parse_json(read_text(path), path), str(path))


def coco_ground_truth(data: Any, source: str) -> GroundTruth:
    """Ground truth from a parsed COCO instances dict (`source` names it in errors)."""
    try:
        images = data["images"]
        categories = sorted(data["categories"], key=lambda c: c["id"])
        annotations = data.get("annotations", [])
        image_ids = np.array([im["id"] for im in images], dtype=np.int64)
        image_names = tuple(str(im.get("file_name", im["id"])) for im in images)
        class_ids = np.array([c["id"] for c in categories], dtype=np.int64)
        class_names = tuple(str(c.get("name", c["id"])) for c in categories)
        ann_image = np.array([a["image_id"] for a in annotations], dtype=np.int64)
        ann_cat = np.array([a["category_id"] for a in annotations], dtype=np.int64)
        boxes = np.array([a["bbox"] for a in annotations], dtype=np.float64).reshape(-1, 4)
        area = np.array([a.get("area", b[2] * b[3]) for a, b in zip(annotations, boxes)], dtype=np.float64)
        crowd = np.array([bool(a.get("iscrowd", 0)) for a in annotations], dtype=bool)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise OrchError(f"not a COCO ground-truth file ({exc.__class__.__name__}: {exc})", source) from None

    image = lookup(image_ids, ann_image)
    label = lookup(class_ids, ann_cat)
    keep = (image >= 0) & (label >= 0)
    return GroundTruth(
        image_names=image_names,
        image_ids=image_ids,
        class_names=class_names,
        class_ids=class_ids,
        image=image[keep],
        label=label[keep],
        boxes=boxes[keep],
        box_format="xywh",
        area=area[keep],
        crowd=crowd[keep],
        difficult=np.zeros(int(keep.sum()), dtype=bool),
    )


def read_voc_annotations(
    folder: str | os.PathLike, imageset_file: str | os.PathLike, class_names: Sequence[str] | None = None
) -> GroundTruth:
    """VOC XML annotations (`<folder>/<id>.xml`) of the images listed in an image-set file.

    Without `class_names` the classes are the sorted names found; with them, objects of other
    classes are skipped (voc_eval only looks at the class it evaluates).
    """
    ids = [line.split()[0] for line in read_lines(imageset_file)]
    return voc_annotations(folder, ids, class_names)


def voc_annotations(
    folder: str | os.PathLike, ids: Sequence[str], class_names: Sequence[str] | None = None
) -> GroundTruth:
    """VOC XML annotations `<folder>/<id>.xml` of the given image ids (see above)."""
    objects = [parse_voc_xml(Path(folder) / f"{image_id}.xml") for image_id in ids]
    names = list(class_names) if class_names is not None else sorted({obj[0] for objs in objects for obj in objs})
    index = {name: i for i, name in enumerate(names)}
    rows = [
        (i, index[name], difficult, box)
        for i, objs in enumerate(objects)
        for name, difficult, box in objs
        if name in index
    ]
    boxes = np.array([r[3] for r in rows], dtype=np.float64).reshape(-1, 4)
    return GroundTruth(
        image_names=tuple(ids),
        image_ids=np.arange(len(ids)),  # VOC images have no numeric id: their position
        class_names=tuple(names),
        class_ids=np.arange(len(names)),
        image=np.array([r[0] for r in rows], dtype=np.int64),
        label=np.array([r[1] for r in rows], dtype=np.int64),
        boxes=boxes,
        box_format="xyxy",
        area=(boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1),
        crowd=np.zeros(len(rows), dtype=bool),
        difficult=np.array([r[2] for r in rows], dtype=bool),
    )


def parse_voc_xml(path: Path) -> list[tuple[str, bool, tuple[float, float, float, float]]]:
    """(name, difficult, (xmin, ymin, xmax, ymax)) of each <object>, as voc_eval parses them."""
    try:
        root = ET.fromstring(read_text(path))
    except ET.ParseError as exc:
        raise OrchError(f"invalid XML: {exc}", str(path)) from None
    objects = []
    for number, obj in enumerate(root.iter("object"), start=1):
        try:
            name = obj.findtext("name").strip()  # type: ignore[union-attr]
            difficult = int(obj.findtext("difficult") or 0) == 1
            box = obj.find("bndbox")
            xmin, ymin, xmax, ymax = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))  # type: ignore[union-attr,arg-type]
        except (AttributeError, TypeError, ValueError):
            raise OrchError(f"object {number} needs name and bndbox xmin/ymin/xmax/ymax", str(path)) from None
        objects.append((name, difficult, (xmin, ymin, xmax, ymax)))
    return objects


# ---- files ---------------------------------------------------------------------------------


def read_text(path: str | os.PathLike) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise OrchError("file not found", str(path)) from None
    except OSError as exc:
        raise OrchError(f"cannot read ({exc.strerror})", str(path)) from None


def read_lines(path: str | os.PathLike) -> list[str]:
    """The non-blank lines of a list file (names, image set, valid list), stripped."""
    return [line.strip() for line in read_text(path).splitlines() if line.strip()]


def parse_json(text: str, path: str | os.PathLike) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise OrchError(f"invalid JSON: {exc.msg}", f"{path}:{exc.lineno}") from None
