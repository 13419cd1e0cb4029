"""`orch export tensorboard`: runs' curves as TensorBoard event files, one folder per run.

Step = iteration. Tags: `train/loss`, `train/avg_loss`, `train/lr`, `train/region/<stat>`
(darknet's Region statistics, mean over the yolo layers), `darknet/map50` (darknet's own `-map`
blocks) and `eval/<metric>/<measure>` (orch's evaluation of each checkpoint). Exporting again
adds only the new points: each run folder keeps `orch-export.json`, the steps already written
per tag (the newest one for training curves, every one for evaluations, which may arrive out
of order), and a new event file holds what is new (TensorBoard reads every file of a folder).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from orchestrator.base.fsutil import atomic_write
from orchestrator.views.report.data import FULL, Curve, RunReport, gather, gather_logs
from orchestrator.views.report.page import safe_name
from orchestrator.views.report.tables import csv_name

STATE_FILE = "orch-export.json"
#: Training series and their tags.
TRAIN_TAGS = {"loss": "train/loss", "avg_loss": "train/avg_loss", "rate": "train/lr"}


def export_runs(workspace: Any, runs: Sequence[str] | None, out: Path) -> list[tuple[str, int]]:
    """Export the workspace's runs (default: all); (run, new points) for each."""
    return [export_run(run, Path(out)) for run in gather(workspace, runs, FULL)]


def export_logs(specs: Sequence[str], out: Path) -> list[tuple[str, int]]:
    """Export log files (`FILE` or `NAME=FILE`, joined by name as `orch report --log`)."""
    return [export_run(run, Path(out)) for run in gather_logs(specs, FULL)]


def export_run(run: RunReport, out: Path) -> tuple[str, int]:
    from tensorboardX import SummaryWriter

    folder = out / safe_name(run.name)
    state = load_state(folder)
    new = [(tag, step, value) for tag, step, value in points(run) if is_new(state, tag, step)]
    if new:
        # tensorboardX names event files after the second and the host: a second export within the
        # same second would reopen (and empty) the first file, so each export names its own part
        part = f".part{len(list(folder.glob('events.out.tfevents.*'))) + 1}"
        with SummaryWriter(logdir=str(folder), flush_secs=3600, max_queue=1 << 16, filename_suffix=part) as writer:
            for tag, step, value in new:
                writer.add_scalar(tag, value, global_step=step)
                remember(state, tag, step)
        atomic_write(folder / STATE_FILE, json.dumps(state, sort_keys=True))
    return run.name, len(new)


def points(run: RunReport) -> Iterator[tuple[str, int, float]]:
    """Every (tag, step, value) of a run; NaN values (diverged losses, empty layers) left out."""
    t = run.training
    if t is not None:
        for name, tag in TRAIN_TAGS.items():
            if name in t.curves:
                yield from curve_points(tag, t.curves[name])
        for stat, curve in t.region.items():
            yield from curve_points(f"train/region/{stat}", curve)
        yield from curve_points("darknet/map50", t.darknet_map)
    for checkpoint in run.checkpoints:
        for metric, measures in checkpoint.values.items():
            for measure, value in measures.items():
                yield f"eval/{metric}/{csv_name(measure)}", checkpoint.iteration, value


def curve_points(tag: str, curve: Curve) -> Iterator[tuple[str, int, float]]:
    for step, value in zip(curve.x.tolist(), curve.y.tolist()):
        if math.isfinite(value):
            yield tag, step, value


def is_new(state: dict[str, Any], tag: str, step: int) -> bool:
    done = state.get(tag)
    if done is None:
        return True
    return step not in done if isinstance(done, list) else step > done


def remember(state: dict[str, Any], tag: str, step: int) -> None:
    if tag.startswith("eval/"):
        state.setdefault(tag, []).append(step)
    else:
        state[tag] = max(step, state.get(tag, step))


def load_state(folder: Path) -> dict[str, Any]:
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):  # first export, or a damaged file: export everything again
        return {}
    return state if isinstance(state, dict) else {}
