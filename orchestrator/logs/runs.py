"""A run's training logs: every job's file under `logs/<run>/`, in job order, merged.

A run is trained by several jobs (warm-up phase, multi-GPU phase, requeues after preemption),
each writing its own log and resuming from the newest weights, so the same iterations can
appear twice. The merged log keeps every row; `latest_rows` picks, for plotting, the rows
that were not redone by a later job.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from orchestrator.base.errors import OrchError
from orchestrator.base.progress import Progress
from orchestrator.logs.cache import parse_file, progress_file, stream_file
from orchestrator.logs.gdarknet_csv import parse_gdarknet_csv
from orchestrator.logs.model import (
    ParsedLog,
    SeriesEnds,
    new_region_layer,
    new_series,
    write_csv_header,
    write_csv_rows,
)

#: Where the per-log caches live inside `results/<run>/`.
CACHE_FOLDER = "logcache"


def run_log_files(workspace: Any, run: str, job_ids: Sequence[str] = ()) -> list[Path]:
    """The run's log files in job order: the order of its jobs (run.yaml's, passed in by
    callers that hold the manifest: `<jobid>.log`, `local-<n>.log`), other files after
    them by mtime."""
    folder = workspace.logs_dir(run)
    files = [p for p in folder.glob("*.log") if p.is_file()] if folder.is_dir() else []
    order = {name: index for index, name in enumerate(submitted_log_names(job_ids))}
    return sorted(files, key=lambda p: (order.get(p.stem, len(order)), p.stat().st_mtime, p.name))


def submitted_log_names(job_ids: Sequence[str]) -> list[str]:
    """Log file stems of the jobs (Slurm's and the local executor's), in submission order."""
    names = []
    for job in job_ids:
        names += [job, f"local-{job}"]
    return names


def cache_path(workspace: Any, run: str, log: Path) -> Path:
    return workspace.results_dir(run) / CACHE_FOLDER / f"{log.name}.json"


def parse_run(workspace: Any, run: str, job_ids: Sequence[str] = ()) -> ParsedLog | None:
    """All of a run's logs parsed (incrementally) and merged; None when it has no log yet."""
    files = run_log_files(workspace, run, job_ids)
    if not files:
        return None
    return merge_logs([(p.name, parse_file(p, cache_path(workspace, run, p))) for p in files])


def parse_paths(paths: list[Path]) -> ParsedLog:
    """Log files named by the user, in the order given (`orch log FILE…`); g-darknet's
    `log.csv` is recognised by its name. No cache: these may live anywhere."""
    paths = existing(paths)
    with bytes_progress(paths) as progress:
        logs = [(path.name, parse_path(path, continuing(progress))) for path in paths]
    return logs[0][1] if len(logs) == 1 else merge_logs(logs)


def stream_paths(paths: list[Path], on_series: Callable[[dict[str, array]], None]) -> ParsedLog:
    """`parse_paths` in bounded memory: the series rows of each chunk go to `on_series` as
    they are parsed, and are not kept; the log returned has the events, merged as
    `merge_logs` merges them, and no columns."""
    logs = []
    paths = existing(paths)
    progress = bytes_progress(paths)
    for path in paths:
        ends = SeriesEnds()

        def take(series: dict[str, array], ends: SeriesEnds = ends) -> None:
            ends.add(series)
            on_series(series)

        if path.suffix == ".csv":
            log = parse_gdarknet_csv(path.read_bytes())
            take(log.series)
            log = dataclasses.replace(log, series=new_series(), region={})
        else:
            log = stream_file(path, take, continuing(progress))
        logs.append((path.name, log, ends))
    progress.close()
    if len(logs) == 1:
        return logs[0][1]
    merged, previous = ParsedLog(series=new_series()), None
    for name, log, ends in logs:
        add_log_events(merged, name, log, previous, int(ends.first["iteration"]) if ends.first else None)
        previous = int(ends.last["iteration"]) if ends.last else previous
    return merged


def summarize_paths(paths: list[Path]) -> dict[str, Any]:
    """`orch log --json`'s summary of the files, without keeping their columns."""
    ends = SeriesEnds()
    return stream_paths(paths, ends.add).summary_with(ends)


def write_series_csv(paths: list[Path], out: TextIO) -> None:
    """`orch log --csv`: the files' series rows written as they are parsed."""
    paths = existing(paths)  # before any output: a missing file writes nothing
    write_csv_header(out)
    stream_paths(paths, lambda series: write_csv_rows(out, series))


def existing(paths: list[Path]) -> list[Path]:
    for path in paths:
        if not path.is_file():
            raise OrchError("no such log file", str(path))
    return paths


def parse_path(path: Path, on_progress: Callable[[int], None] | None = None) -> ParsedLog:
    return parse_gdarknet_csv(path.read_bytes()) if path.suffix == ".csv" else parse_file(path, None, on_progress)


def bytes_progress(paths: list[Path]) -> Progress:
    """Progress over the bytes of log files (a bar only for files that take a while)."""
    return Progress("parsing logs", sum(path.stat().st_size for path in paths), "B")


def continuing(progress: Progress) -> Callable[[int], None]:
    """A byte counter for the next file that continues the total where the earlier files ended."""
    before = progress.done
    return lambda count: progress.update(before + count)


def merge_logs(logs: list[tuple[str, ParsedLog]]) -> ParsedLog:
    """Concatenate job logs; the start of each later job that has iterations is a restart.
    Events keep their line numbers and gain the file they come from."""
    merged = ParsedLog(series=new_series())
    for name, log in logs:
        previous = merged.series["iteration"][-1] if merged.iterations else None
        add_log_events(merged, name, log, previous, log.series["iteration"][0] if log.iterations else None)
        for column, values in log.series.items():
            merged.series[column].extend(values)
        for layer, columns in log.region.items():
            target = merged.region.setdefault(layer, new_region_layer())
            for column, values in columns.items():
                target[column].extend(values)
    return merged


def add_log_events(merged: ParsedLog, name: str, log: ParsedLog, previous: int | None, first: int | None) -> None:
    """Merge one job log's events (not its columns) into `merged`: `previous` is the last
    iteration before it, `first` its own first iteration."""
    if previous is not None and first is not None:
        merged.restarts.append({"file": name, "line": None, "iteration": first, "previous": previous})
    if merged.format == "unknown":
        merged.format = log.format
    merged.lines += log.lines
    for events, merged_events in (
        (log.restarts, merged.restarts),
        (log.gaps, merged.gaps),
        (log.errors, merged.errors),
        (log.map_points, merged.map_points),
    ):
        merged_events.extend({**event, "file": name} for event in events)
    merged.last_accuracy = log.last_accuracy or merged.last_accuracy
    merged.loss_settings = merged.loss_settings or log.loss_settings


def latest_rows(iterations: array | np.ndarray) -> np.ndarray:
    """Mask of the rows no later row redoes: a resumed job going back from 1234 to 1201
    supersedes the earlier 1201…1234, so curves stay functions of the iteration."""
    values = np.asarray(iterations, dtype=np.int64)
    if values.size == 0:
        return np.zeros(0, dtype=bool)
    later_minimum = np.minimum.accumulate(values[::-1])[::-1]
    return values < np.r_[later_minimum[1:], np.iinfo(np.int64).max]


def run_progress(workspace: Any, run: str, job_ids: Sequence[str] = ()) -> dict[str, Any] | None:
    """Latest iteration and average loss of a run (for `orch status`), from the incremental
    caches without reading their columns: the cost of the new bytes only. None before any
    iteration."""
    merged, ends = ParsedLog(series=new_series()), SeriesEnds()
    for path in run_log_files(workspace, run, job_ids):
        log, file_ends = progress_file(path, cache_path(workspace, run, path))
        previous = int(ends.last["iteration"]) if ends.last else None
        add_log_events(merged, path.name, log, previous, int(file_ends.first["iteration"]) if file_ends.first else None)
        if file_ends.last:
            ends = SeriesEnds(ends.iterations + file_ends.iterations, ends.first or file_ends.first, file_ends.last)
    if ends.last is None:
        return None
    return {
        "iteration": ends.last["iteration"],
        "avg_loss": ends.last["avg_loss"],
        "loss": ends.last["loss"],
        "rate": ends.last["rate"],
        "format": merged.format,
        "restarts": len(merged.restarts),
        "errors": len(merged.errors),
    }
