"""The lines every fork may print besides its iteration line (`formats`), one pattern each.

Only lines that carry data get a pattern; the parser chooses which pattern to try from the
line's first byte, so uninteresting lines (`Loaded:`, layer tables, progress counters) never
meet a regular expression. The region line that fills a pjreddie log also has its printf
format spelled out (`REGION_V3_PRINTF`), so that `regular` can read it in bulk.
"""

from __future__ import annotations

import re

NUMBER = rb"[-+]?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)"
#: Field kinds of a printf format: `%d` and `%f` (read in bulk by `swar`).
INT, FIXED = "%d", "%f"

#: Start-up banner printed by every fork when darknet (re)starts: marks a resumed run.
BANNER = b"Learning Rate:"

#: pjreddie YOLOv3: `Region 82 Avg IOU: …, Class: …, Obj: …, No Obj: …, .5R: …, .75R: …,  count: N`.
REGION_V3 = re.compile(
    rb"Region (\d+) Avg IOU: ([^,]+), Class: ([^,]+), Obj: ([^,]+), No Obj: ([^,]+), "
    rb"\.5R: ([^,]+), \.75R: ([^,]+),\s*count: (\d+)"
)

#: REGION_V3's printf, fields named after the region statistics they feed.
REGION_V3_PRINTF = (
    b"Region ",
    ("layer", INT),
    b" Avg IOU: ",
    ("iou", FIXED),
    b", Class: ",
    ("class", FIXED),
    b", Obj: ",
    ("obj", FIXED),
    b", No Obj: ",
    ("noobj", FIXED),
    b", .5R: ",
    ("recall50", FIXED),
    b", .75R: ",
    ("recall75", FIXED),
    b",  count: ",
    ("count", INT),
    b"",
)

#: YOLOv2: `Region Avg IOU: …, Class: …, Obj: …, No Obj: …, Avg Recall: …,  count: N`.
REGION_V2 = re.compile(
    rb"Region Avg IOU: ([^,]+), Class: ([^,]+), Obj: ([^,]+), No Obj: ([^,]+), "
    rb"Avg Recall: ([^,]+),\s*count: (\d+)"
)

#: g-darknet / AlexeyAB: `v3 (giou loss, Normalizer: (iou: x, cls: y) Region 82 Avg (IOU: a,
#: GIOU: b), Class: …, Obj: …, No Obj: …, .5R: …, .75R: …, count: N[, …loss = …]`.
#: The second overlap (GIOU, CIOU, DIOU) and the class/obj block are absent in some forks.
V3 = re.compile(
    rb"v3 \((\w+) loss, Normalizer: \(([^)]*)\) Region (\d+) Avg \(IOU: ([^,)]+)"
    rb"(?:, (\w+): ([^,)]+))?\)"
    rb"(?:, Class: ([^,]+), Obj: ([^,]+), No Obj: ([^,]+), \.5R: ([^,]+), \.75R: ([^,]+))?"
    rb",\s*count: (\d+)"
)
NORMALIZER_ITEM = re.compile(rb"(\w+): (" + NUMBER + rb")")

#: AlexeyAB `-map`: `class_id = 0, name = fire, ap = 49.98%`.
CLASS_AP = re.compile(rb"class_id = (\d+), name = (.*?), ap = (" + NUMBER + rb")%")
#: AlexeyAB `-map`: ` mean average precision (mAP@0.50) = 0.446338, or 44.63 %`.
MAP = re.compile(rb"\s*mean average precision \(mAP@([\d.]+)\) = (" + NUMBER + rb")")
#: AlexeyAB ` Last accuracy mAP@0.5 = 44.63 %, best = 48.12 %` and hank-ai
#: `-> last accuracy mAP@0.50=42.67%, best=78.32%`.
LAST_ACCURACY = re.compile(rb"(?i)last accuracy mAP@([\d.]+) ?= ?(" + NUMBER + rb") ?%, best ?= ?(" + NUMBER + rb") ?%")

#: Terminal control sequences: xterm title `ESC ] … BEL` and ANSI colours `ESC [ … m`.
TERMINAL_ESCAPES = re.compile(rb"\x1b\][^\x07\n]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[A-Za-z]")

#: Markers of failures, searched over whole chunks (bytes.find), each with the kind reported.
ERROR_MARKERS = (
    (b"Darknet error location:", "darknet-error"),
    (b"Couldn't open file:", "missing-file"),
    (b"CUDA Error", "cuda-error"),
    (b"CUDA status Error", "cuda-error"),
    (b"Segmentation fault", "crash"),
    (b"out of memory", "out-of-memory"),
)
