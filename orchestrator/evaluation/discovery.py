"""Finding the weights files of a run that are ready to be evaluated.

Only darknet's checkpoints count (`darknet.weights.checkpoint_of`): never `<base>.backup`, which
changes under our feet. g-darknet puts them one folder deeper in `<backup>/<prefix>/`. A file
modified within `settle_seconds` may still be being written, so it is left for the next pass
instead of feeding darknet half a file.

A multi-GPU run's one-GPU warm-up saves its own checkpoints (`warmup-<run>_<n>.weights`, another
weights base): they are the first part of the run's curve and are evaluated too, with their phase.
Darknet saves `<base>_<max_batches>.weights` and `<base>_final.weights` from the same network at
the end of training: that pair is one model, evaluated once under the numbered name.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from orchestrator.darknet.cfg import basecfg, read_cfg
from orchestrator.darknet.weights import checkpoint_of
from orchestrator.executors.render import TRAIN, WARMUP
from orchestrator.runs import RunManifest, warmup_cfg_path
from orchestrator.workspace import Workspace

#: Bytes compared at both ends of two same-sized weights files (header and last layers).
SAME_MODEL_BYTES = 1 << 16


@dataclass(frozen=True)
class WeightsFile:
    """One checkpoint as seen on disk; (path, size, mtime) identifies what was evaluated."""

    path: str  # relative to the workspace root, as recorded in metrics.jsonl
    iteration: int
    final: bool
    size: int
    mtime: float
    phase: str = TRAIN  # or WARMUP: the one-GPU warm-up of a multi-GPU run
    also: tuple[str, ...] = ()  # other names of the same model (`_final` of the last checkpoint)

    @property
    def label(self) -> str:
        """The results sub-folder: the iteration, or `final` (which may share the last iteration)."""
        name = "final" if self.final else str(self.iteration)
        return f"{WARMUP}-{name}" if self.phase == WARMUP else name

    @property
    def key(self) -> tuple[str, int, float]:
        return (self.path, self.size, self.mtime)


def weights_folders(ws: Workspace, manifest: RunManifest) -> list[Path]:
    """Where the run's checkpoints can be: its backup folder and g-darknet's `<prefix>/` in it."""
    backup = ws.root / manifest.files.get("backup", ws.relative(ws.backup_dir(manifest.name)))
    return [backup, backup / manifest.name]


def discover_weights(
    ws: Workspace, manifest: RunManifest, min_weight_id: int = 0, settle_seconds: float = 0.0, now: float | None = None
) -> list[WeightsFile]:
    """The run's settled checkpoints (warm-up ones included) with iteration >= min_weight_id,
    newest iteration first.

    Newest first is what the user wants to see while training goes on; the older ones follow
    newest-to-oldest so that a backlog fills in from the recent end.
    """
    now = time.time() if now is None else now
    found: list[WeightsFile] = []
    for phase, base, final_iteration in weights_bases(ws, manifest):
        phase_files: list[WeightsFile] = []
        for folder in weights_folders(ws, manifest):
            relative_folder = ws.relative(folder)  # once per folder, not once per file
            for entry in _scan(folder):
                checkpoint = checkpoint_of(entry.name, base)
                if checkpoint is None or not entry.is_file():
                    continue
                stat = entry.stat()
                iteration = final_iteration() if checkpoint.iteration is None else checkpoint.iteration
                if iteration < min_weight_id or now - stat.st_mtime < settle_seconds:
                    continue
                phase_files.append(
                    WeightsFile(
                        path=f"{relative_folder}/{entry.name}",
                        iteration=iteration,
                        final=checkpoint.final,
                        size=stat.st_size,
                        mtime=stat.st_mtime,
                        phase=phase,
                    )
                )
        found += merge_final_twins(ws, phase_files)
    found.sort(key=lambda w: (w.iteration, w.phase == TRAIN, w.final, w.mtime), reverse=True)
    return found


def weights_bases(ws: Workspace, manifest: RunManifest) -> list[tuple[str, str, Callable[[], int]]]:
    """(phase, weights base, the iteration its `_final` stands for) of the run's phases; the
    warm-up's length is read only when a warm-up `_final` is found."""
    warmup_cfg = warmup_cfg_path(ws, manifest.name)
    return [
        (TRAIN, manifest.files["weights_base"], lambda: manifest.max_batches),
        (WARMUP, basecfg(warmup_cfg), lambda: warmup_length(manifest, warmup_cfg)),
    ]


def warmup_length(manifest: RunManifest, warmup_cfg: Path) -> int:
    """The iterations of the run's warm-up: as submitted, else as its cfg says."""
    submitted = [r.warmup for r in manifest.submissions if r.phase == WARMUP and r.warmup is not None]
    if submitted:
        return submitted[-1]
    try:
        return int(read_cfg(warmup_cfg).net.get("max_batches") or 0)
    except (OSError, ValueError):
        return 0


def merge_final_twins(ws: Workspace, files: list[WeightsFile]) -> list[WeightsFile]:
    """One phase's checkpoints with `_final` folded into the numbered checkpoint of the same
    iteration when both hold the same model (that checkpoint then names `_final` in `also`)."""
    finals = [w for w in files if w.final]
    kept = [w for w in files if not w.final]
    for final in finals:
        twin = next((w for w in kept if w.iteration == final.iteration and same_model(ws, w, final)), None)
        if twin is None:
            kept.append(final)
        else:
            kept[kept.index(twin)] = replace(twin, also=(*twin.also, final.path))
    return kept


def same_model(ws: Workspace, one: WeightsFile, other: WeightsFile) -> bool:
    """Same size, same header (version and images seen) and the same bytes at both ends."""
    if one.size != other.size:
        return False
    ends = []
    for weights in (one, other):
        try:
            with open(ws.root / weights.path, "rb") as handle:
                head = handle.read(SAME_MODEL_BYTES)
                handle.seek(max(0, weights.size - SAME_MODEL_BYTES))
                ends.append((head, handle.read()))
        except OSError:
            return False
    return ends[0] == ends[1]


def still_unchanged(ws: Workspace, weights: WeightsFile) -> bool:
    """The second look: a file whose size or mtime moved since discovery is still being written."""
    try:
        stat = (ws.root / weights.path).stat()
    except FileNotFoundError:
        return False
    return stat.st_size == weights.size and stat.st_mtime == weights.mtime


def _scan(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []
