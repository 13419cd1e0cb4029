"""Logs of the forks without a real log here (g-darknet, hank-ai), printed from the real pjreddie
log's numbers: its `Region` lines as g-darknet's `v3 (giou loss, …)` lines, its iteration lines as
hank-ai's (iteration number in ANSI colour). Used by the tests and by benchmarks/bench_logs.py."""

from __future__ import annotations

import re
from pathlib import Path

LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"

REGION = re.compile(
    rb"Region (\d+) Avg IOU: ([^,]+), Class: ([^,]+), Obj: ([^,]+), No Obj: ([^,]+), "
    rb"\.5R: ([^,]+), \.75R: ([^,]+),  count: (\d+)"
)
ITERATION = re.compile(rb"(\d+): ([^,]+), ([^,]+) avg, ([^,]+) rate, ([^,]+) seconds, (\d+) images")
UNITS = ((86400, b"days"), (3600, b"hours"), (60, b"minutes"), (1, b"seconds"))


def pjreddie_log() -> bytes:
    return (LOGS / "pjreddie-yolov3-voc.log").read_bytes()


def as_gdarknet(line: re.Match) -> bytes:
    layer, iou, cls, obj, noobj, r50, r75, count = line.groups()
    return (
        b"v3 (giou loss, Normalizer: (iou: 0.500000, cls: 1.000000) Region %s Avg (IOU: %s, GIOU: %s), "
        b"Class: %s, Obj: %s, No Obj: %s, .5R: %s, .75R: %s, count: %s"
        % (layer, iou, iou, cls, obj, noobj, r50, r75, count)
    )


def as_hank_ai(line: re.Match) -> bytes:
    """hank-ai's line, with `last=…, best=…` every other iteration (newer versions print them)."""
    iteration, loss, avg, rate, seconds, images = line.groups()
    left = (6000 - int(iteration)) * 40
    size, unit = next((size, unit) for size, unit in UNITS if left >= size or size == 1)
    unit = unit if left // size != 1 else unit[:-1]
    scores = b", last=42.67%, best=78.32%" if int(iteration) % 2 else b""
    return (
        b"\x1b[1;37m%s\x1b[0m: loss=%.3f, avg loss=%.3f%s, rate=%s, %.3f milliseconds, %s images, time remaining=%d %s"
        % (
            iteration,
            float(loss),
            float(avg),
            scores,
            rate,
            float(seconds) * 1000,
            images,
            left // size,
            unit,
        )
    )


def gdarknet_log() -> bytes:
    return REGION.sub(as_gdarknet, pjreddie_log())


def hank_ai_log() -> bytes:
    lines = [ITERATION.sub(as_hank_ai, line) for line in pjreddie_log().split(b"\n") if ITERATION.match(line)]
    return b"\n".join(lines) + b"\n-> last accuracy mAP@0.50=42.67%, best=78.32%\n"
