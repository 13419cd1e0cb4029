"""Per-layer region statistics, averaged over the subdivisions of each iteration.

Darknet prints one `Region …`/`v3 (…)` line per layer and subdivision (24+ lines per iteration
for YOLOv3 with 8 subdivisions), always before the iteration line they belong to. Rows are
therefore queued raw, tagged with their iteration when its line arrives (one by one, or many
at once when `regular` read them in bulk), and averaged with numpy once per parsed chunk.
"""

from __future__ import annotations

from array import array

import numpy as np

from orchestrator.logs.model import REGION_STATS, StagedAppends, new_region_layer

WIDTH = len(REGION_STATS)


class RegionCollector:
    """Queues raw rows per layer and folds them into per-iteration means."""

    def __init__(self, waiting: dict[str, array] | None = None) -> None:
        """`waiting`: rows queued before their iteration line, as `waiting()` gave them."""
        self._rows: dict[str, array] = {}  # layer -> flat raw rows (WIDTH doubles each)
        self._owners: dict[str, array] = {}  # layer -> series row of each attributed row
        for layer, rows in (waiting or {}).items():
            self._layer(layer).extend(rows)

    def waiting(self) -> dict[str, array]:
        """The rows not attributed to an iteration line yet (all of them after `fold_into`)."""
        return {layer: rows[len(self._owners[layer]) * WIDTH :] for layer, rows in self._rows.items()}

    def add(self, layer: str, row: tuple[float, ...]) -> None:
        self._layer(layer).extend(row)

    def add_many(self, layers: np.ndarray, rows: np.ndarray, owners: np.ndarray) -> None:
        """Rows read in bulk (line order), with the series row each belongs to, -1 for rows
        whose iteration line is still to come. Rows waiting from before must have been
        attributed first (`attribute`), so that owners stay a prefix of each layer's rows."""
        first_seen = np.sort(np.unique(layers, return_index=True)[1])
        for layer in layers[first_seen].tolist():  # in order of appearance, like `add`
            mine = layers == layer
            self._layer(str(layer)).frombytes(rows[mine].tobytes())
            attributed = owners[mine]
            self._owners[str(layer)].frombytes(attributed[attributed >= 0].tobytes())

    def _layer(self, layer: str) -> array:
        rows = self._rows.get(layer)
        if rows is None:
            rows = self._rows[layer] = array("d")
            self._owners[layer] = array("q")
        return rows

    def attribute(self, series_row: int) -> None:
        """The iteration line (row `series_row` of the series) arrived: every queued row so
        far belongs to it. Rows, not iteration numbers: a resumed run may repeat a number."""
        for layer, rows in self._rows.items():
            owners = self._owners[layer]
            waiting = len(rows) // WIDTH - len(owners)
            if waiting:
                owners.extend([series_row] * waiting)

    def fold_into(self, region: dict[str, dict[str, array]], iterations: array, staged: StagedAppends) -> None:
        """Average attributed rows per (layer, iteration line) into `region` (through `staged`),
        naming each by its number from the series column `iterations`; keep unattributed rows
        queued. Rows of one iteration line are contiguous, so groups are runs of equal owner."""
        for layer, rows in self._rows.items():
            owners = self._owners[layer]
            if not owners:
                continue
            done = len(owners)
            values = np.frombuffer(rows, dtype=np.float64, count=done * WIDTH).reshape(done, WIDTH)
            owner_rows = np.frombuffer(owners, dtype=np.int64)
            starts = np.flatnonzero(np.r_[True, owner_rows[1:] != owner_rows[:-1]])
            means = nan_means(values, starts)
            numbers = np.frombuffer(iterations, dtype=np.int64)[owner_rows[starts]]
            columns = region.get(layer)
            if columns is None:
                columns = region[layer] = new_region_layer()
            staged.add(columns["iteration"], numbers)
            for index, name in enumerate(REGION_STATS):
                staged.add(columns[name], means[:, index])
            self._rows[layer] = rows[done * WIDTH :]
            self._owners[layer] = array("q")


def region_rows(fields: dict[str, np.ndarray]) -> np.ndarray:
    """Rows (n x WIDTH, float64) from columns named after REGION_STATS; absent ones are NaN."""
    count = len(next(iter(fields.values())))
    return np.column_stack(
        [fields[name].astype(np.float64) if name in fields else np.full(count, np.nan) for name in REGION_STATS]
    )


def nan_means(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Column means of each row group starting at `starts`, ignoring NaN and infinities
    (Darknet prints `-nan` for a layer that saw no object in a subdivision); groups with no
    finite value are NaN."""
    finite = np.isfinite(values)
    if len(starts) == len(values):  # one row per group (no subdivisions): the finite rows
        return np.where(finite, values, np.nan)
    sums = np.add.reduceat(np.where(finite, values, 0.0), starts, axis=0)
    counts = np.add.reduceat(finite, starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
