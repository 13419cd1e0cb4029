"""g-darknet's own training record, `backup/<prefix>/log.csv`.

Each line holds one iteration: groups `A<iou>,G<giou>,I<iou_loss>,C<cls_loss>,T<cost>,` (one
per yolo layer and subdivision, without saying which layer), then
`BATCH,<iteration>,<max_batches>,<avg_loss>`. It has no loss/rate/time, so those are NaN; the
IoU and GIoU of the groups are averaged into one region layer called `all`.
"""

from __future__ import annotations

import math

from orchestrator.logs.model import REGION_STATS, ParsedLog, new_region_layer

LAYER = "all"


def parse_gdarknet_csv(data: bytes) -> ParsedLog:
    log = ParsedLog(format="g-darknet-csv")
    region = log.region[LAYER] = new_region_layer()
    for number, line in enumerate(data.split(b"\n"), start=1):
        fields = line.strip().split(b",")
        if b"BATCH" not in fields:
            if line.strip():
                log.errors.append({"line": number, "kind": "unparsed", "text": line[:200].decode(errors="replace")})
            continue
        at = fields.index(b"BATCH")
        try:
            iteration, avg_loss = int(fields[at + 1]), float(fields[at + 3])
            means = overlap_means(fields[:at])
        except (IndexError, ValueError):
            log.errors.append({"line": number, "kind": "truncated", "text": line[:200].decode(errors="replace")})
            continue
        log.lines = number
        add_row(log, iteration, avg_loss)
        region["iteration"].append(iteration)
        for name in REGION_STATS:
            region[name].append(means.get(name, math.nan))
    return log


def add_row(log: ParsedLog, iteration: int, avg_loss: float) -> None:
    values = {"iteration": iteration, "avg_loss": avg_loss, "images": -1}
    for name, column in log.series.items():
        column.append(values.get(name, math.nan))


#: log.csv's field letters: A<iou>, G<giou>, I<iou_loss>, C<class_loss> per yolo layer (T<cost> unused).
FIELDS = {b"A": "iou", b"G": "giou", b"I": "iou_loss", b"C": "class_loss"}


def overlap_means(groups: list[bytes]) -> dict[str, float]:
    """Mean over the yolo layers of each field of one line (NaN fields left out);
    ValueError on a damaged number."""
    found: dict[bytes, list[float]] = {letter: [] for letter in FIELDS}
    for field in groups:
        if field[:1] in found:
            value = float(field[1:])
            if not math.isnan(value):
                found[field[:1]].append(value)
    return {FIELDS[letter]: sum(values) / len(values) if values else math.nan for letter, values in found.items()}
