"""Per-layer region statistics, averaged over the subdivisions of each iteration.

Darknet prints one `Region …`/`v3 (…)` line per layer and subdivision (24+ lines per iteration
for YOLOv3 with 8 subdivisions), always before the iteration line they belong to. Rows are
therefore queued raw, tagged with their iteration when its line arrives, and averaged in bulk
with numpy once per parsed chunk: the per-line cost is one `array.extend`.
"""

from __future__ import annotations

from array import array

import numpy as np

from orchestrator.logs.model import REGION_STATS, new_region_layer

WIDTH = len(REGION_STATS)


class RegionCollector:
    """Queues raw rows per layer and folds them into per-iteration means."""

    def __init__(self) -> None:
        self._rows: dict[str, array] = {}      # layer -> flat raw rows (WIDTH doubles each)
        self._owners: dict[str, array] = {}    # layer -> iteration of each attributed row

    def add(self, layer: str, row: tuple[float, ...]) -> None:
        rows = self._rows.get(layer)
        if rows is None:
            rows = self._rows[layer] = array("d")
            self._owners[layer] = array("q")
        rows.extend(row)

    def attribute(self, iteration: int) -> None:
        """The iteration line arrived: every queued row so far belongs to it."""
        for layer, rows in self._rows.items():
            owners = self._owners[layer]
            waiting = len(rows) // WIDTH - len(owners)
            if waiting:
                owners.extend([iteration] * waiting)

    def fold_into(self, region: dict[str, dict[str, array]]) -> None:
        """Average attributed rows per (layer, iteration) into `region`; keep the rest queued.

        Rows of one iteration are contiguous, so groups are runs of equal owner (a resumed run
        that prints the very same iteration number again is averaged with it, harmlessly).
        """
        for layer, rows in self._rows.items():
            owners = self._owners[layer]
            if not owners:
                continue
            done = len(owners)
            values = np.frombuffer(rows, dtype=np.float64, count=done * WIDTH).reshape(done, WIDTH)
            iterations = np.frombuffer(owners, dtype=np.int64)
            starts = np.flatnonzero(np.r_[True, iterations[1:] != iterations[:-1]])
            means = nan_means(values, starts)
            columns = region.get(layer)
            if columns is None:
                columns = region[layer] = new_region_layer()
            columns["iteration"].frombytes(iterations[starts].tobytes())
            for index, name in enumerate(REGION_STATS):
                columns[name].frombytes(means[:, index].astype(np.float32).tobytes())
            self._rows[layer] = rows[done * WIDTH:]
            self._owners[layer] = array("q")


def nan_means(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Column means of each row group starting at `starts`, ignoring NaN (Darknet prints
    `-nan` for a layer that saw no object in a subdivision); all-NaN groups stay NaN."""
    finite = np.isfinite(values)
    sums = np.add.reduceat(np.where(finite, values, 0.0), starts, axis=0)
    counts = np.add.reduceat(finite, starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
