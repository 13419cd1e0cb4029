"""Readers for every ground-truth and detection format the engine accepts.

Each returns a `GroundTruth` or `Detections` table. Bad input raises OrchError naming the
file (and line or entry) so that a user can fix it; paths are used as given (relative to the
current directory or absolute).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from orchestrator.base.errors import OrchError
from orchestrator.darknet.cfg import basecfg
from orchestrator.metrics.align import lookup
from orchestrator.metrics.boxes import Detections, GroundTruth

# Darknet's coco_ids table: COCO category id of each of the 80 classes of coco.names.
DARKNET_COCO_IDS = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    24,
    25,
    27,
    28,
    31,
    32,
    33,
    34,
    35,
    36,
    37,
    38,
    39,
    40,
    41,
    42,
    43,
    44,
    46,
    47,
    48,
    49,
    50,
    51,
    52,
    53,
    54,
    55,
    56,
    57,
    58,
    59,
    60,
    61,
    62,
    63,
    64,
    65,
    67,
    70,
    72,
    73,
    74,
    75,
    76,
    77,
    78,
    79,
    80,
    81,
    82,
    84,
    85,
    86,
    87,
    88,
    89,
    90,
)
# pjreddie darknet fill_truth_detection: find_replace (first occurrence) in this order.
LABEL_PATH_REPLACEMENTS = (
    ("images", "labels"),
    ("JPEGImages", "labels"),
    ("raw", "labels"),
    (".jpg", ".txt"),
    (".png", ".txt"),
    (".JPG", ".txt"),
    (".JPEG", ".txt"),
)


# ---- names ---------------------------------------------------------------------------------


def darknet_image_id(path: str) -> int:
    """Darknet's get_coco_image_id(): atoi of what follows the last `_` (or the last `/`)."""
    tail = path[max(path.rfind("/"), path.rfind("_")) + 1 :]
    digits = ""
    for ch in tail.lstrip():
        if not (ch.isdigit() or (not digits and ch in "+-")):
            break
        digits += ch
    try:
        return int(digits)
    except ValueError:
        return 0


def darknet_label_path(image_path: str) -> str:
    """Label file of an image as pjreddie darknet finds it (first occurrence replaced)."""
    for old, new in LABEL_PATH_REPLACEMENTS:
        image_path = image_path.replace(old, new, 1)
    return image_path


def image_ids_for(names: Sequence[str]) -> np.ndarray:
    """Darknet COCO ids of images; -1 - index for all when they collide (ambiguous)."""
    ids = np.array([darknet_image_id(n) for n in names], dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        return -1 - np.arange(len(names), dtype=np.int64)
    return ids


# ---- detections ----------------------------------------------------------------------------


def read_comp4_folder(
    folder: str | os.PathLike, class_names: Sequence[str], class_ids: Sequence[int] | None = None
) -> Detections:
    """`comp4_det_test_<class>.txt` files of `darknet detector valid`.

    Lines are `<image> <score> <x1> <y1> <x2> <y2>` (1-based pixels). A missing class file
    means no detection of that class, but a folder with none of them is an error. Detections
    get `class_ids[i]` for class i (default: the index).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise OrchError("detections folder not found", str(folder))
    ids = list(range(len(class_names))) if class_ids is None else list(class_ids)
    keys: list[str] = []
    labels: list[np.ndarray] = []
    values: list[np.ndarray] = []
    found = 0
    for index, name in enumerate(class_names):
        path = folder / f"comp4_det_test_{name}.txt"
        if not path.is_file():
            continue
        found += 1
        file_keys, file_values = parse_comp4(path)
        keys.extend(file_keys)
        values.append(file_values)
        labels.append(np.full(len(file_keys), ids[index], dtype=np.int64))
    if not found:
        raise OrchError("no comp4_det_test_<class>.txt file for any class name", str(folder))
    table = np.concatenate(values) if values else np.zeros((0, 5))
    return Detections(
        image_keys=np.array(keys, dtype=object),
        class_ids=np.concatenate(labels),
        scores=table[:, 0],
        boxes=table[:, 1:5],
        box_format="xyxy",
    )


def parse_comp4(path: Path) -> tuple[list[str], np.ndarray]:
    keys, rows = [], []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.rsplit(None, 5)
        try:
            if len(fields) != 6:
                raise ValueError
            row = [float(v) for v in fields[1:]]
            if not all(math.isfinite(v) for v in row):
                raise ValueError
        except ValueError:
            raise OrchError("expected '<image> <score> <x1> <y1> <x2> <y2>'", f"{path}:{number}") from None
        keys.append(fields[0])
        rows.append(row)
    return keys, np.array(rows, dtype=np.float64).reshape(-1, 5)


def read_darknet_coco_json(path: str | os.PathLike) -> Detections:
    """Darknet's `coco_results.json` (or any COCO results list).

    Darknet writes the invalid `\\n]\\n` when it found nothing: read as no detection.
    """
    text = read_text(path)
    if text.strip() in ("", "]"):
        entries: list[Any] = []
    else:
        entries = parse_json(text, path)
    return coco_detections(entries, str(path))


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
        image_names = tuple(basecfg(str(im.get("file_name", im["id"]))) for im in images)
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
        image_ids=image_ids_for(ids),
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
            coords = tuple(
                float(box.findtext(k))
                for k in ("xmin", "ymin", "xmax", "ymax")  # type: ignore[union-attr,arg-type]
            )
        except (AttributeError, TypeError, ValueError):
            raise OrchError(f"object {number} needs name and bndbox xmin/ymin/xmax/ymax", str(path)) from None
        objects.append((name, difficult, coords))
    return objects


def read_darknet_labels(valid_list_file: str | os.PathLike, class_names: Sequence[str]) -> GroundTruth:
    """Ground truth from Darknet label files of the images in a valid list.

    Each image's label file is found as Darknet finds it; lines are `<class> <cx> <cy> <w>
    <h>` relative to the image, whose size is read from the image header (Pillow opens
    lazily, nothing is decoded). Boxes become COCO xywh pixels (`x = (cx - w/2) * W`), which
    is Darknet's own json convention; VOC-style evaluation shifts them by +1 like comp4.
    """
    paths = read_lines(valid_list_file)
    rows: list[tuple[int, int, float, float, float, float]] = []
    for image_index, image_path in enumerate(paths):
        width, height = image_size(image_path)
        for label, cx, cy, w, h in parse_label_file(darknet_label_path(image_path), len(class_names)):
            rows.append((image_index, label, (cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height))
    table = np.array(rows, dtype=np.float64).reshape(-1, 6)
    n = len(class_names)
    class_ids = np.array(DARKNET_COCO_IDS if n == len(DARKNET_COCO_IDS) else range(n))
    names = [basecfg(p) for p in paths]
    return GroundTruth(
        image_names=tuple(names),
        image_ids=image_ids_for(paths),
        class_names=tuple(class_names),
        class_ids=class_ids,
        image=table[:, 0].astype(np.int64),
        label=table[:, 1].astype(np.int64),
        boxes=table[:, 2:6],
        box_format="xywh",
        area=table[:, 4] * table[:, 5],
        crowd=np.zeros(len(rows), dtype=bool),
        difficult=np.zeros(len(rows), dtype=bool),
    )


def image_size(path: str) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except OSError as exc:
        raise OrchError(f"cannot read the image size ({exc.__class__.__name__})", path) from None


def parse_label_file(path: str, n_classes: int) -> list[tuple[int, float, float, float, float]]:
    rows = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) != 5:
                raise ValueError
            label = int(fields[0])
            cx, cy, w, h = (float(v) for v in fields[1:])
            if not 0 <= label < n_classes:
                raise ValueError
        except ValueError:
            raise OrchError(f"expected '<class 0..{n_classes - 1}> <cx> <cy> <w> <h>'", f"{path}:{number}") from None
        rows.append((label, cx, cy, w, h))
    return rows


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
