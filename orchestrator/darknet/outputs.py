"""What `darknet detector valid` writes, and readers that turn it into metrics' Detections.

With `eval=coco` in the .data darknet writes one `coco_results.json`; otherwise one
`comp4_det_test_<class>.txt` per class name. The two name images differently: comp4 lines
print basecfg() of the image path, the json the number get_coco_image_id() reads from it (see
coco_ids, which also holds the json's category ids).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from orchestrator.base.errors import OrchError
from orchestrator.darknet.coco_ids import darknet_image_id
from orchestrator.metrics.boxes import Detections
from orchestrator.metrics.readers import coco_results, read_bytes, read_text

COCO_RESULTS = "coco_results.json"
COMP4_PREFIX = "comp4_det_test_"


def comp4_path(folder: Path, class_name: str) -> Path:
    return folder / f"{COMP4_PREFIX}{class_name}.txt"


def output_files(folder: Path) -> list[Path]:
    """Every detector-valid output present in `folder` (json and comp4 files)."""
    return [folder / COCO_RESULTS, *folder.glob(f"{COMP4_PREFIX}*.txt")]


def image_ids_for(names: Sequence[str]) -> np.ndarray:
    """Darknet's json image ids of these images; -1 - index for all when they collide (ambiguous)."""
    ids = np.array([darknet_image_id(n) for n in names], dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        return -1 - np.arange(len(names), dtype=np.int64)
    return ids


def read_comp4_folder(
    folder: str | os.PathLike, class_names: Sequence[str], class_ids: Sequence[int] | np.ndarray | None = None
) -> Detections:
    """The comp4 files of a folder.

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
        path = comp4_path(folder, name)
        if not path.is_file():
            continue
        found += 1
        file_keys, file_values = parse_comp4(path)
        keys.extend(file_keys)
        values.append(file_values)
        labels.append(np.full(len(file_keys), ids[index], dtype=np.int64))
    if not found:
        raise OrchError(f"no {COMP4_PREFIX}<class>.txt file for any class name", str(folder))
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
        except ValueError:
            raise OrchError("expected '<image> <score> <x1> <y1> <x2> <y2>'", f"{path}:{number}") from None
        if not all(math.isfinite(v) for v in row):
            raise OrchError(f"score and box '{' '.join(fields[1:])}' hold a NaN or infinite number", f"{path}:{number}")
        keys.append(fields[0])
        rows.append(row)
    return keys, np.array(rows, dtype=np.float64).reshape(-1, 5)


def read_darknet_coco_json(path: str | os.PathLike) -> Detections:
    """Darknet's `coco_results.json` (or any COCO results list).

    Darknet writes the invalid `\\n]\\n` when it found nothing (it seeks back over the `[\\n` it
    began with): read as no detection. An empty file is not something darknet writes.
    """
    data = read_bytes(path)
    if not data.strip():
        raise OrchError("empty file: not a darknet coco_results.json", str(path))
    return coco_results(b"[]" if data.strip() == b"]" else data, str(path))
