"""Readers of the generic formats: COCO ground truth and results json, VOC XML annotations.

Darknet's own files (label files, comp4 and coco_results.json) are read in `darknet`, into the
same tables. Each returns a `GroundTruth` or `Detections` table. Bad input raises OrchError naming the
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
from typing import Any, NoReturn

import msgspec
import numpy as np
from msgspec import UNSET, UnsetType

from orchestrator.base.errors import OrchError
from orchestrator.metrics.align import lookup
from orchestrator.metrics.boxes import Detections, GroundTruth

# ---- detections ----------------------------------------------------------------------------


class _Result(msgspec.Struct, gc=False):
    """One entry of a COCO results list, as the fast path decodes it (other keys are ignored)."""

    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    score: float


_RESULTS = msgspec.json.Decoder(list[_Result])


def coco_results(data: bytes, source: str) -> Detections:
    """Detections from the bytes of a COCO results list, decoded straight into typed entries
    (msgspec: no dict per detection, about 5x faster than the json module on 500k entries) and
    then into columns. Anything the fast path does not take as is (an id written 1.0, a NaN, a
    string, a missing key) goes through coco_detections, which accepts what it can and names
    the first entry it refuses."""
    try:
        detections = result_columns(_RESULTS.decode(data))
    except (msgspec.DecodeError, OverflowError):  # OverflowError: an id beyond 64 bits
        detections = None
    if detections is None or not (np.isfinite(detections.scores).all() and np.isfinite(detections.boxes).all()):
        return coco_detections(parse_json(data.decode("utf-8", errors="replace"), source), source)
    return detections


def result_columns(entries: list[_Result]) -> Detections:
    n = len(entries)
    return Detections(
        image_keys=np.fromiter((e.image_id for e in entries), np.int64, n),
        class_ids=np.fromiter((e.category_id for e in entries), np.int64, n),
        scores=np.fromiter((e.score for e in entries), np.float64, n),
        boxes=np.fromiter(itertools.chain.from_iterable(e.bbox for e in entries), np.float64, 4 * n).reshape(n, 4),
        box_format="xywh",
    )


def coco_detections(entries: Any, source: str) -> Detections:
    """Detections from a parsed COCO results list (`source` names it in errors)."""
    if not isinstance(entries, list):
        raise OrchError("expected a JSON list of detections", source)
    table = Table(entries, "detection entry", source)
    fields = table.fields("image_id", "category_id", "score", "bbox")
    if fields is None:
        raise OrchError(f"detection entry {table.first_bad}: needs image_id, category_id, score and bbox", source)
    image, category, score, bbox = fields
    return Detections(
        image_keys=table.integers(image, "image_id"),
        class_ids=table.integers(category, "category_id"),
        scores=table.numbers(score, "score"),
        boxes=table.boxes(bbox),
        box_format="xywh",
    )


# ---- ground truth --------------------------------------------------------------------------


def read_coco_gt(path: str | os.PathLike) -> GroundTruth:
    """COCO instances json: the images, categories and annotations COCOeval would use.

    Categories are ordered by id (COCOeval's catIds); annotations of unknown images or
    categories are dropped as COCOeval never looks at them; `area` defaults to w*h.
    """
    data = read_bytes(path)
    try:
        columns = instances_columns(_INSTANCES.decode(data))
    except (msgspec.DecodeError, OverflowError):
        columns = None
    if columns is None:  # the json module path accepts what it can, and names what it refuses
        return coco_ground_truth(parse_json(data.decode("utf-8", errors="replace"), path), str(path))
    return ground_truth_of(*columns)


# An absent key is UNSET; a null is a decoding error, left to the json module path like any
# other value this path does not take as is.
class _Image(msgspec.Struct, gc=False):
    id: int
    file_name: str | UnsetType = UNSET


class _Category(msgspec.Struct, gc=False):
    id: int
    name: str | UnsetType = UNSET


class _Annotation(msgspec.Struct, gc=False):
    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    id: int | UnsetType = UNSET
    area: float | UnsetType = UNSET
    iscrowd: int = 0


class _Instances(msgspec.Struct, gc=False):
    """The parts of a COCO instances json the evaluation reads, for the fast path (as _Result)."""

    images: list[_Image]
    categories: list[_Category]
    annotations: list[_Annotation] = []


_INSTANCES = msgspec.json.Decoder(_Instances)


def instances_columns(data: _Instances) -> tuple | None:
    """ground_truth_of's arguments from decoded entries; None when a number is not finite."""
    annotations = data.annotations
    n = len(annotations)
    boxes = np.fromiter(itertools.chain.from_iterable(a.bbox for a in annotations), np.float64, 4 * n).reshape(n, 4)
    area = np.fromiter((math.nan if a.area is UNSET else a.area for a in annotations), np.float64, n)
    area = np.where(np.isnan(area), boxes[:, 2] * boxes[:, 3], area)
    if not (np.isfinite(boxes).all() and np.isfinite(area).all()):
        return None
    has_ids = all(a.id is not UNSET for a in annotations)
    return (
        np.fromiter((im.id for im in data.images), np.int64, len(data.images)),
        [str(im.id) if im.file_name is UNSET else im.file_name for im in data.images],
        np.fromiter((c.id for c in data.categories), np.int64, len(data.categories)),
        [str(c.id) if c.name is UNSET else c.name for c in data.categories],
        np.fromiter((a.image_id for a in annotations), np.int64, n),
        np.fromiter((a.category_id for a in annotations), np.int64, n),
        boxes,
        np.fromiter((a.id for a in annotations), np.int64, n) if has_ids else None,
        area,
        np.fromiter((a.iscrowd != 0 for a in annotations), bool, n),
    )


def coco_ground_truth(data: Any, source: str) -> GroundTruth:
    """Ground truth from a parsed COCO instances dict (`source` names it in errors)."""
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise OrchError("not a COCO ground-truth file: no list of images", source)
    if not isinstance(data.get("categories"), list):
        raise OrchError("not a COCO ground-truth file: no list of categories", source)
    if not isinstance(data.get("annotations", []), list):
        raise OrchError("not a COCO ground-truth file: annotations is not a list", source)
    images = Table(data["images"], "image", source)
    image_ids = images.integers(images.required("id"), "id")
    categories = Table(data["categories"], "category", source)
    category_ids = categories.integers(categories.required("id"), "id")
    annotations = Table(data.get("annotations", []), "annotation", source)
    fields = annotations.fields("image_id", "category_id", "bbox")
    if fields is None:
        raise OrchError(f"annotation {annotations.first_bad}: needs image_id, category_id and bbox", source)
    ann_image, ann_cat, boxes = (
        annotations.integers(fields[0], "image_id"),
        annotations.integers(fields[1], "category_id"),
        annotations.boxes(fields[2]),
    )
    has_ids = all(isinstance(e, dict) and "id" in e for e in annotations.entries)
    ann_ids = annotations.integers(annotations.required("id"), "id") if has_ids else None
    area = annotations.numbers(annotations.optional("area", boxes[:, 2] * boxes[:, 3]), "area")
    crowd = annotations.numbers(annotations.optional("iscrowd", 0), "iscrowd", booleans=True) != 0
    return ground_truth_of(
        image_ids,
        [str(im.get("file_name", im["id"])) for im in data["images"]],
        category_ids,
        [str(c.get("name", c["id"])) for c in data["categories"]],
        ann_image,
        ann_cat,
        boxes,
        ann_ids,
        area,
        crowd,
    )


def ground_truth_of(
    image_ids: np.ndarray,
    image_names: Sequence[str],
    category_ids: np.ndarray,
    category_names: Sequence[str],
    ann_image: np.ndarray,
    ann_cat: np.ndarray,
    boxes: np.ndarray,
    ann_ids: np.ndarray | None,
    area: np.ndarray,
    crowd: np.ndarray,
) -> GroundTruth:
    """The table from a COCO instances json's columns (whichever path read them)."""
    order = np.argsort(category_ids, kind="stable")
    image = lookup(image_ids, ann_image)
    label = lookup(category_ids[order], ann_cat)
    keep = (image >= 0) & (label >= 0)
    return GroundTruth(
        image_names=tuple(image_names),
        image_ids=image_ids,
        class_names=tuple(category_names[i] for i in order),
        class_ids=category_ids[order],
        image=image[keep],
        label=label[keep],
        boxes=boxes[keep],
        box_format="xywh",
        area=area[keep],
        crowd=crowd[keep],
        difficult=np.zeros(int(keep.sum()), dtype=bool),
        ann_ids=None if ann_ids is None else ann_ids[keep],
    )


class Table:
    """The entries of one list of a COCO json (`what` names an entry in errors: "annotation 3").

    Columns are checked as NumPy builds them: a value that is not a number (a string, null, a
    list) gives a non-numeric dtype, a NaN or an infinity a non-finite value, an id such as 2.7
    a non-integral one; each is refused naming the first offending entry.
    """

    def __init__(self, entries: list, what: str, source: str):
        self.entries, self.what, self.source = entries, what, source
        self.first_bad = -1

    def fields(self, *keys: str) -> list[list] | None:
        """The columns of `keys`; None (and `first_bad` set) when an entry lacks one."""
        try:
            return [[entry[key] for entry in self.entries] for key in keys]
        except (KeyError, TypeError, IndexError):
            self.first_bad = next(
                i for i, e in enumerate(self.entries) if not isinstance(e, dict) or any(k not in e for k in keys)
            )
            return None

    def required(self, key: str) -> list:
        column = self.fields(key)
        if column is None:
            raise OrchError(f"{self.what} {self.first_bad}: needs {key}", self.source)
        return column[0]

    def optional(self, key: str, default: Any) -> list:
        """The key's values, `default` (one value, or one per entry) where an entry lacks it."""
        defaults = default if isinstance(default, np.ndarray) else [default] * len(self.entries)
        return [e.get(key, d) for e, d in zip(self.entries, defaults)]

    def numbers(self, values: list, key: str, booleans: bool = False) -> np.ndarray:
        """Finite numbers (float64); true/false count as 1/0 where `booleans` (iscrowd)."""
        array = self._numeric(values, key, "biuf" if booleans else "iuf", booleans).astype(np.float64)
        if not np.isfinite(array).all():
            self.refuse(values, key, "is not a finite number", math.isfinite)
        return array

    def integers(self, values: list, key: str) -> np.ndarray:
        """Integral numbers (int64): an id of 2.7 is refused, not cut to 2."""
        array = self._numeric(values, key, "iuf", False)
        if array.dtype.kind == "f":
            if not (np.isfinite(array) & (array == np.floor(array))).all():
                self.refuse(values, key, "is not an integer", lambda v: float(v).is_integer())
            array = np.array([int(v) for v in values], dtype=np.int64)
        return array.astype(np.int64)

    def _numeric(self, values: list, key: str, kinds: str, booleans: bool) -> np.ndarray:
        """The values as one NumPy array of numbers: a string, null or list among them (or an
        integer beyond 64 bits) makes NumPy choose another dtype, which is refused."""
        array = np.array(values) if values else np.zeros(0, dtype=np.int64)
        if array.dtype.kind not in kinds or array.ndim != 1:
            self.refuse(values, key, "is not a number", lambda v: _is_number(v, booleans))
        return array

    def boxes(self, values: list) -> np.ndarray:
        """`[x, y, w, h]` boxes of 4 finite numbers, shape (n, 4)."""
        try:
            array = np.array(values, dtype=None) if values else np.zeros((0, 4))
        except ValueError:  # ragged
            array = np.zeros(0)
        if array.dtype.kind not in "iuf" or array.shape != (len(values), 4) or not np.isfinite(array).all():
            self.refuse(values, "bbox", "is not 4 finite numbers", _is_box)
        return array.astype(np.float64).reshape(-1, 4)

    def refuse(self, values: list, key: str, problem: str, good: Any) -> NoReturn:
        index = next(i for i, v in enumerate(values) if not _safely(good, v))
        raise OrchError(f"{self.what} {index}: {key} {json.dumps(values[index])} {problem}", self.source)


def _is_number(value: Any, booleans: bool) -> bool:
    if isinstance(value, bool):
        return booleans
    return isinstance(value, float) or (isinstance(value, int) and -(2**63) <= value < 2**63)


def _is_box(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(_is_number(v, False) and math.isfinite(v) for v in value)


def _safely(check: Any, value: Any) -> bool:
    try:
        return bool(check(value))
    except (TypeError, ValueError, OverflowError):
        return False


def read_voc_annotations(
    folder: str | os.PathLike, imageset_file: str | os.PathLike, class_names: Sequence[str] | None = None
) -> GroundTruth:
    """VOC XML annotations (`<folder>/<id>.xml`) of the images listed in an image-set file.

    Without `class_names` the classes are the sorted names found; with them, objects of other
    classes are skipped (voc_eval only looks at the class it evaluates).
    """
    ids = [line.split()[0] for line in read_lines(imageset_file)]
    if not ids:
        raise OrchError("the imageset is empty", str(imageset_file))
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
    """(name, difficult, (xmin, ymin, xmax, ymax)) of each <object>, as voc_eval parses them.

    `difficult` is any non-zero number (py-faster-rcnn tests the integer's truth); corners
    must be finite numbers.
    """
    try:
        root = ET.fromstring(read_text(path))
    except ET.ParseError as exc:
        raise OrchError(f"invalid XML: {exc}", str(path)) from None
    objects = []
    for number, obj in enumerate(root.iter("object"), start=1):
        name, box = obj.findtext("name"), obj.find("bndbox")
        corners = [box.findtext(k) for k in ("xmin", "ymin", "xmax", "ymax")] if box is not None else []
        if name is None or len(corners) != 4 or None in corners:
            raise OrchError(f"object {number} needs name and bndbox xmin/ymin/xmax/ymax", str(path))
        xmin, ymin, xmax, ymax = (_xml_number(text or "", f"object {number}: bndbox", path) for text in corners)
        difficult = _xml_number(obj.findtext("difficult") or "0", f"object {number}: difficult", path) != 0
        objects.append((name.strip(), difficult, (xmin, ymin, xmax, ymax)))
    return objects


def _xml_number(text: str, what: str, path: Path) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OrchError(f"{what} {text.strip()!r} must be a number", str(path)) from None
    if not math.isfinite(value):
        raise OrchError(f"{what} {text.strip()!r} is not a finite number", str(path))
    return value


# ---- files ---------------------------------------------------------------------------------


def read_text(path: str | os.PathLike) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise OrchError("file not found", str(path)) from None
    except OSError as exc:
        raise OrchError(f"cannot read ({exc.strerror})", str(path)) from None


def read_bytes(path: str | os.PathLike) -> bytes:
    try:
        return Path(path).read_bytes()
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
