"""The lines every fork may print besides its iteration line (`formats`), one pattern each.

Only lines that carry data get a pattern; the parser chooses which pattern to try from the
line's first byte, so uninteresting lines (`Loaded:`, layer tables, progress counters) never
meet a regular expression. The lines that fill logs (region statistics, AlexeyAB's `Last
accuracy`) also have their printf spelled out (`Printf`), so that `regular` reads them in bulk.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NUMBER = rb"[-+]?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)"
#: Field kinds of a printf format: `%d` and decimals (`%f`, `%.3f`…), read in bulk by `scan`;
#: a tuple of words is a field that must be one of them (read as its index).
INT, FIXED = "%d", "%f"
#: What a printf's line feeds: the series, the region statistics, the last accuracy.
ITERATION, REGION, ACCURACY = "iteration", "region", "accuracy"

Fields = dict[str, np.ndarray]


@dataclass(frozen=True)
class Printf:
    """A line printed by one fixed printf: literal text alternating with named `(field, kind)`
    pairs (`parts`), starting and ending with a literal (possibly empty). The bulk path reads
    the lines that are exactly this, which its handler's pattern reads the same way; `finish`
    turns the fields read into the columns the handler would have produced."""

    kind: str
    name: str
    parts: tuple
    finish: Callable[[Fields], Fields] | None = None


#: Start-up banner printed by every fork when darknet (re)starts: marks a resumed run.
BANNER = b"Learning Rate:"

#: pjreddie YOLOv3: `Region 82 Avg IOU: …, Class: …, Obj: …, No Obj: …, .5R: …, .75R: …,  count: N`.
REGION_V3 = re.compile(
    rb"Region (\d+) Avg IOU: ([^,]+), Class: ([^,]+), Obj: ([^,]+), No Obj: ([^,]+), "
    rb"\.5R: ([^,]+), \.75R: ([^,]+),\s*count: (\d+)"
)

#: The statistics block that pjreddie's and g-darknet's region lines share.
CLASS_TO_RECALL = (
    ("class", FIXED),
    b", Obj: ",
    ("obj", FIXED),
    b", No Obj: ",
    ("noobj", FIXED),
    b", .5R: ",
    ("recall50", FIXED),
    b", .75R: ",
    ("recall75", FIXED),
)

#: REGION_V3's printf, fields named after the region statistics they feed.
REGION_V3_PRINTF = Printf(
    REGION,
    "region",
    (
        b"Region ",
        ("layer", INT),
        b" Avg IOU: ",
        ("iou", FIXED),
        b", Class: ",
        *CLASS_TO_RECALL,
        b",  count: ",
        ("count", INT),
        b"",
    ),
)

#: YOLOv2: `Region Avg IOU: …, Class: …, Obj: …, No Obj: …, Avg Recall: …,  count: N`.
REGION_V2 = re.compile(
    rb"Region Avg IOU: ([^,]+), Class: ([^,]+), Obj: ([^,]+), No Obj: ([^,]+), "
    rb"Avg Recall: ([^,]+),\s*count: (\d+)"
)

#: g-darknet / AlexeyAB: `v3 (giou loss, Normalizer: (iou: x, cls: y) Region 82 Avg (IOU: a,
#: GIOU: b), Class: …, Obj: …, No Obj: …, .5R: …, .75R: …, count: N[, …loss = …]`.
#: The second overlap (GIOU, CIOU, DIOU) and the class/obj block are absent in some forks;
#: g-darknet ends the line with `, loss = …, class_loss = …, iou_loss = …` (the loss components).
V3 = re.compile(
    rb"v3 \((\w+) loss, Normalizer: \(([^)]*)\) Region (\d+) Avg \(IOU: ([^,)]+)"
    rb"(?:, (\w+): ([^,)]+))?\)"
    rb"(?:, Class: ([^,]+), Obj: ([^,]+), No Obj: ([^,]+), \.5R: ([^,]+), \.75R: ([^,]+))?"
    rb",\s*count: (\d+)"
    rb"(?:(?:, (?:total_)?loss = [^,]+)?, class_loss = ([^,]+), iou_loss = ([^,\s]+))?"
)
NORMALIZER_ITEM = re.compile(rb"(\w+): (" + NUMBER + rb")")
#: V3 as g-darknet prints it (GIoU, every block present), for the bulk path.
V3_PRINTF = Printf(
    REGION,
    "v3",
    (
        b"v3 (",
        ("loss_kind", (b"mse", b"iou", b"giou", b"diou", b"ciou")),
        b" loss, Normalizer: (iou: ",
        ("iou_normalizer", FIXED),
        b", cls: ",
        ("cls_normalizer", FIXED),
        b") Region ",
        ("layer", INT),
        b" Avg (IOU: ",
        ("iou", FIXED),
        b", GIOU: ",
        ("giou", FIXED),
        b"), Class: ",
        *CLASS_TO_RECALL,
        b", count: ",
        ("count", INT),
        b"",
    ),
)

#: AlexeyAB `-map`: `class_id = 0, name = fire, ap = 49.98%`.
CLASS_AP = re.compile(rb"class_id = (\d+), name = (.*?), ap = (" + NUMBER + rb")%")
#: AlexeyAB `-map`: ` mean average precision (mAP@0.50) = 0.446338, or 44.63 %`.
MAP = re.compile(rb"\s*mean average precision \(mAP@([\d.]+)\) = (" + NUMBER + rb")")
#: AlexeyAB ` Last accuracy mAP@0.5 = 44.63 %, best = 48.12 %` and hank-ai
#: `-> last accuracy mAP@0.50=42.67%, best=78.32%`.
LAST_ACCURACY = re.compile(rb"(?i)last accuracy mAP@([\d.]+) ?= ?(" + NUMBER + rb") ?%, best ?= ?(" + NUMBER + rb") ?%")
#: AlexeyAB prints one per iteration once mAP is computed: read in bulk, the last one kept.
LAST_ACCURACY_PRINTF = Printf(
    ACCURACY,
    "alexeyab",
    (b" Last accuracy mAP@", ("iou_threshold", FIXED), b" = ", ("map", FIXED), b" %, best = ", ("best", FIXED), b" % "),
)

#: Markers of failures, searched over whole chunks (bytes.find), each with the kind reported.
ERROR_MARKERS = (
    (b"Darknet error location:", "darknet-error"),
    (b"Couldn't open file:", "missing-file"),
    (b"CUDA Error", "cuda-error"),
    (b"CUDA status Error", "cuda-error"),
    (b"Segmentation fault", "crash"),
    (b"out of memory", "out-of-memory"),
    (b"\x00", "damaged"),  # NUL bytes: a block of the file lost in a crash or a full disk
)
