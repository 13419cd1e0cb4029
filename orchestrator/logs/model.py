"""What a parsed training log is: plain columns plus the few events worth knowing about.

Columns are `array.array` rather than lists because a 500k-iteration log yields millions of
numbers: arrays are written to and read from files in one call (the incremental cache) and
convert to numpy (the report) without copying element by element, and they grow cheaply as a
log grows.
"""

from __future__ import annotations

import csv
import math
from array import array
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

#: Columns of the per-iteration series, in the order `orch log --csv` prints them.
SERIES_COLUMNS = ("iteration", "loss", "avg_loss", "rate", "seconds", "images")
#: Every column kept: the CSV ones plus the time left that AlexeyAB and hank-ai estimate.
ALL_COLUMNS = SERIES_COLUMNS + ("hours_left",)

#: Per-layer region statistics (means over the subdivisions of one iteration).
REGION_STATS = (
    "iou",
    "giou",
    "ciou",
    "diou",
    "class",
    "obj",
    "noobj",
    "recall50",
    "recall75",
    "count",
    "class_loss",
    "iou_loss",
)


def new_series() -> dict[str, array]:
    """Empty per-iteration columns; iteration and images are integers, the rest doubles."""
    return {name: array("q" if name in ("iteration", "images") else "d") for name in ALL_COLUMNS}


class StagedAppends:
    """Values bound for array columns, kept as compact numpy pieces and appended in one go
    (`flush`, or once FLUSH_BYTES are staged). An array grown chunk by chunk is copied whole at
    most of its reallocations (CPython over-allocates arrays by 1/16): for a 300 MB log that
    cost more than parsing it."""

    FLUSH_BYTES = 64 << 20

    def __init__(self) -> None:
        self._pieces: dict[int, tuple[array, list[np.ndarray]]] = {}
        self._bytes = 0

    def add(self, column: array, values: np.ndarray) -> None:
        piece = values.astype(column.typecode)  # a copy: the chunk's arrays are not kept alive
        self._pieces.setdefault(id(column), (column, []))[1].append(piece)
        self._bytes += piece.nbytes
        if self._bytes > self.FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        for column, pieces in self._pieces.values():
            column.frombytes(np.concatenate(pieces).tobytes())
        self._pieces.clear()
        self._bytes = 0


def new_region_layer() -> dict[str, array]:
    """Empty columns for one region/yolo layer: the iteration plus every statistic (single
    precision: Darknet prints 6 decimals, and a long log has millions of these)."""
    layer: dict[str, array] = {"iteration": array("q")}
    layer.update({name: array("f") for name in REGION_STATS})
    return layer


@dataclass
class ParsedLog:
    """Everything read from one log (or several merged), ready for `orch log` and the report.

    `restarts` are places where training resumed (the iteration went backwards, or jumped after
    a new start-up banner); `gaps` are jumps without a restart (lines lost from the log).
    `errors` carry the 1-based line number so a user can open the log at the right place.
    """

    format: str = "unknown"
    lines: int = 0
    series: dict[str, array] = field(default_factory=new_series)
    region: dict[str, dict[str, array]] = field(default_factory=dict)
    map_points: list[dict[str, Any]] = field(default_factory=list)
    last_accuracy: dict[str, Any] | None = None
    loss_settings: dict[str, Any] | None = None
    restarts: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def iterations(self) -> int:
        return len(self.series["iteration"])

    def row(self, index: int) -> dict[str, float | int]:
        """One row of the series as a dict (index may be negative)."""
        return row_of(self.series, index)

    def columns(self) -> list[array]:
        """Every column, the series first, then each region layer: an order that only grows
        at its end as layers appear, so the cache can keep one growing file per column."""
        return [*self.series.values(), *(column for layer in self.region.values() for column in layer.values())]

    def summary(self) -> dict[str, Any]:
        """The JSON summary `orch log --json` prints."""
        return self.summary_with(SeriesEnds.of(self.series))

    def summary_with(self, ends: SeriesEnds) -> dict[str, Any]:
        """The summary, the series told by its `ends` (a log streamed without its columns)."""
        return {
            "format": self.format,
            "iterations": ends.iterations,
            "first": json_safe(ends.first) if ends.first else None,
            "last": json_safe(ends.last) if ends.last else None,
            "restarts": self.restarts,
            "gaps": self.gaps,
            "map": [
                {"iteration": p["iteration"], "map": p["map"], "iou_threshold": p["iou_threshold"]}
                for p in self.map_points
            ],
            "last_accuracy": self.last_accuracy,
            "loss_settings": self.loss_settings,
            "errors": self.errors,
        }


@dataclass
class SeriesEnds:
    """How many rows a series has, and its first and last: all the summary needs of it."""

    iterations: int = 0
    first: dict[str, float | int] | None = None
    last: dict[str, float | int] | None = None

    @classmethod
    def of(cls, series: dict[str, array]) -> SeriesEnds:
        ends = cls()
        ends.add(series)
        return ends

    def add(self, series: dict[str, array], start: int = 0) -> None:
        """The rows of `series` from `start` on, which follow those already counted."""
        count = len(series["iteration"]) - start
        if count > 0:
            self.first = self.first or row_of(series, start)
            self.last = row_of(series, -1)
            self.iterations += count


def row_of(series: dict[str, array], index: int) -> dict[str, float | int]:
    return {name: series[name][index] for name in ALL_COLUMNS}


def write_csv_header(out: TextIO) -> None:
    csv.writer(out, lineterminator="\n").writerow(SERIES_COLUMNS)


def write_csv_rows(out: TextIO, series: dict[str, array]) -> None:
    """Rows of `orch log --csv`: floats in their shortest exact form, NaN as `nan`."""
    csv.writer(out, lineterminator="\n").writerows(zip(*(series[name] for name in SERIES_COLUMNS)))


def json_safe(row: dict[str, float | int]) -> dict[str, float | int | None]:
    """JSON has no NaN: a diverged loss is reported as null instead of an invalid document."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
