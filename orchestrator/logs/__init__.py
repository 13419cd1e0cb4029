"""Darknet training logs: parse every fork's output, incrementally, and merge a run's jobs.

- `parse_file(path, cache_path=None)`: one log, resuming from its cache when given;
- `parse_bytes(data)`: a log held in memory;
- `parse_paths(paths)`: files given by the user, in that order, merged;
- `summarize_paths(paths)`, `write_series_csv(paths, out)`: the same streamed in bounded memory
  (`orch log`, `orch log --csv`); `stream_paths(paths, on_series)` underneath;
- `parse_run(workspace, run, job_ids)`: every job log of a run, cached under `results/<run>/`, merged;
- `run_progress(workspace, run, job_ids)`: latest iteration / avg loss for `orch status`.
"""

from orchestrator.logs.cache import parse_file
from orchestrator.logs.gdarknet_csv import parse_gdarknet_csv
from orchestrator.logs.model import SERIES_COLUMNS, ParsedLog
from orchestrator.logs.parser import parse_bytes
from orchestrator.logs.runs import (
    latest_rows,
    merge_logs,
    parse_paths,
    parse_run,
    run_log_files,
    run_progress,
    stream_paths,
    summarize_paths,
    write_series_csv,
)

__all__ = [
    "SERIES_COLUMNS",
    "ParsedLog",
    "latest_rows",
    "merge_logs",
    "parse_bytes",
    "parse_file",
    "parse_gdarknet_csv",
    "parse_paths",
    "parse_run",
    "run_log_files",
    "run_progress",
    "stream_paths",
    "summarize_paths",
    "write_series_csv",
]
