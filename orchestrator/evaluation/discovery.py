"""Finding the weights files of a run that are ready to be evaluated.

Only darknet's checkpoints count (`darknet.weights.checkpoint_of`): never `<base>.backup`, which
changes under our feet. g-darknet puts them one folder deeper in `<backup>/<prefix>/`. A file modified within `settle_seconds` may still be being
written, so it is left for the next pass instead of feeding darknet half a file.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.darknet.weights import checkpoint_of
from orchestrator.runs import RunManifest
from orchestrator.workspace import Workspace


@dataclass(frozen=True)
class WeightsFile:
    """One checkpoint as seen on disk; (path, size, mtime) identifies what was evaluated."""

    path: str  # relative to the workspace root, as recorded in metrics.jsonl
    iteration: int
    final: bool
    size: int
    mtime: float

    @property
    def label(self) -> str:
        """The results sub-folder: the iteration, or `final` (which may share the last iteration)."""
        return "final" if self.final else str(self.iteration)

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
    """The run's settled checkpoints with iteration >= min_weight_id, newest iteration first.

    Newest first is what the user wants to see while training goes on; the older ones follow
    newest-to-oldest so that a backlog fills in from the recent end.
    """
    now = time.time() if now is None else now
    base = manifest.files["weights_base"]
    found: list[WeightsFile] = []
    for folder in weights_folders(ws, manifest):
        relative_folder = ws.relative(folder)  # once per folder, not once per file
        for entry in _scan(folder):
            checkpoint = checkpoint_of(entry.name, base)
            if checkpoint is None or not entry.is_file():
                continue
            stat = entry.stat()
            iteration = manifest.max_batches if checkpoint.iteration is None else checkpoint.iteration
            if iteration < min_weight_id or now - stat.st_mtime < settle_seconds:
                continue
            found.append(
                WeightsFile(
                    path=f"{relative_folder}/{entry.name}",
                    iteration=iteration,
                    final=checkpoint.final,
                    size=stat.st_size,
                    mtime=stat.st_mtime,
                )
            )
    found.sort(key=lambda w: (w.iteration, w.final, w.mtime), reverse=True)
    return found


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
