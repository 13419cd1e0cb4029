"""The results store: `results/<run>/metrics.jsonl`, one JSON record per evaluated weights file and split.

Append-only on purpose: a record is written with ONE `write` of a complete line followed by
fsync, under the run's lock, so a killed evaluator leaves either the whole record or nothing,
and readers (status, report, best) never need a lock. If a writer died mid-line anyway (disk
full), readers skip that torn last line with a warning and the next append starts a new line.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import msgspec

from orchestrator.base.errors import OrchError
from orchestrator.metrics.results import MetricResult
from orchestrator.workspace import Workspace

STORE_NAME = "metrics.jsonl"
# The keys before `metrics` identify a record; `IDENTITY_END` lets the index stop reading there.
IDENTITY_END = b', "metrics": '

Key = tuple[str, str, int, float]  # (split, weights path, size, mtime)


@dataclass(frozen=True)
class EvalRecord:
    """One line of metrics.jsonl: a weights file evaluated on a split, successfully or not.

    The fields are in the order of the line's keys, and that order is part of the format: the
    identifying keys come before `metrics` (see record_identity), which a failed record lacks.
    `ap_method` is the engine's (COCO style is always 101point), else orch.yaml's.
    """

    run: str
    split: str
    weights: str  # relative to the workspace root
    size: int
    mtime: float
    iteration: int
    phase: str  # "train", or "warmup": the one-GPU warm-up of a multi-GPU run (its first part)
    also: tuple[str, ...]  # other names of the same model (the `_final` twin of the last checkpoint)
    job: Mapping[str, Any]  # where it ran: {"executor": "local"|"slurm", "id": "<job>_<task>"|None}
    style: str
    ap_method: str
    status: str  # "ok" or "failed"
    thresholds: tuple[float, ...]
    metrics: Mapping[str, MetricResult]  # per matching metric; empty when failed
    darknet_seconds: float | None
    metric_seconds: float | None
    flavor: str
    orch_version: str
    timestamp: str
    attempt: int
    error: str | None
    log_tail: str | None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def key(self) -> Key:
        return (self.split, self.weights, self.size, self.mtime)

    def to_json(self) -> dict[str, Any]:
        """The line's object, keys in field order; a failed record has no `metrics` key."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["thresholds"] = list(self.thresholds)
        out["also"] = list(self.also)
        out["job"] = dict(self.job)
        out["metrics"] = {name: block.to_json() for name, block in self.metrics.items()}
        if not self.metrics:
            del out["metrics"]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalRecord:
        return cls(
            run=data["run"],
            split=data["split"],
            weights=data["weights"],
            size=data["size"],
            mtime=data["mtime"],
            iteration=data["iteration"],
            phase=data.get("phase", "train"),
            also=tuple(data.get("also", ())),
            job=data.get("job") or {"executor": "local", "id": None},
            style=data["style"],
            ap_method=data["ap_method"],
            status=data["status"],
            thresholds=tuple(data["thresholds"]),
            metrics={name: MetricResult.from_json(block) for name, block in (data.get("metrics") or {}).items()},
            darknet_seconds=data.get("darknet_seconds"),
            metric_seconds=data.get("metric_seconds"),
            flavor=data.get("flavor", ""),
            orch_version=data.get("orch_version", ""),
            timestamp=data.get("timestamp", ""),
            attempt=data.get("attempt", 1),
            error=data.get("error"),
            log_tail=data.get("log_tail"),
        )


def store_path(ws: Workspace, run: str) -> Path:
    return ws.results_dir(run) / STORE_NAME


def load_results(ws: Workspace, run: str, per_class: bool = True) -> list[EvalRecord]:
    """Every record of the run in file order (the API status, report and `best` read). Without
    `per_class` the records come without their per-class APs, which msgspec then skips unread:
    status and `best` need the means only (50 runs x 100 records x 80 classes: 0.14 s instead
    of 5 s)."""
    read = json.loads if per_class else _summary_json
    return [EvalRecord.from_json(read(line)) for line in _complete_lines(store_path(ws, run))]


#: A JSON object, decoded by msgspec (several times faster than json.loads on the index's path).
OBJECT_DECODER = msgspec.json.Decoder(dict[str, Any])


class MetricSummary(msgspec.Struct):
    """What a summary reads of a metric block (`per_class` is skipped)."""

    ap: list[float]
    mean: float
    stats: list[float] | None = None


#: A record line as a summary reads it: every field of EvalRecord as written, metrics summed up.
SUMMARY_DECODER = msgspec.json.Decoder(
    msgspec.defstruct(
        "SummaryLine",
        [(f.name, Any, msgspec.UNSET) for f in fields(EvalRecord) if f.name != "metrics"]
        + [("metrics", dict[str, MetricSummary] | None, None)],
    )
)


def _summary_json(line: bytes) -> dict[str, Any]:
    """A record line's object without per-class APs (json.loads for what msgspec refuses:
    NaN or Infinity, which json.dumps writes)."""
    try:
        summary = SUMMARY_DECODER.decode(line)
    except msgspec.DecodeError:
        data = json.loads(line)
        for block in (data.get("metrics") or {}).values():
            block.pop("per_class", None)
        return data
    data = {name: value for name, value in msgspec.structs.asdict(summary).items() if value is not msgspec.UNSET}
    if data.get("metrics") is not None:
        data["metrics"] = {name: msgspec.structs.asdict(block) for name, block in data["metrics"].items()}
    return data


class StoreWriteFailed(OrchError):
    """A record could not be written whole (disk full, quota, read-only): the store was rolled
    back to its previous length, and the pass stops (every later record would fail the same way)."""


def append_record(ws: Workspace, run: str, record: EvalRecord) -> None:
    """Append one record as a single write + fsync (the caller holds the run's lock).

    A record is written whole or not at all: a short or failed write, or a failed fsync (the
    data never reached the disk), cuts the file back to its length before the write."""
    path = store_path(ws, run)
    line = (json.dumps(record.to_json()) + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreWriteFailed(f"cannot open the store: {exc.strerror}", str(path)) from None
    try:
        before = os.fstat(fd).st_size
        if _ends_torn(fd):
            line = b"\n" + line  # never glue a record onto a torn line
        _write_whole(fd, line, before, path, f"the record of {record.weights} ({record.split})")
    finally:
        os.close(fd)


def _write_whole(fd: int, line: bytes, before: int, path: Path, what: str) -> None:
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(errno.ENOSPC, f"only {written} of {len(line)} bytes written")
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, before)
            os.fsync(fd)
        raise StoreWriteFailed(f"{what} was not written ({exc.strerror}); the store is as it was", str(path)) from None


@dataclass
class StoreIndex:
    """What a pass needs to know about the store, built once per pass: O(1) look-ups per file."""

    done: set[Key] = field(default_factory=set)
    failures: Counter = field(default_factory=Counter)
    by_job: dict[str, dict[str, str]] = field(default_factory=dict)  # Slurm job id -> split -> status

    @classmethod
    def load(cls, ws: Workspace, run: str) -> StoreIndex:
        identities = (record_identity(line) for line in _complete_lines(store_path(ws, run)))
        return cls.of_keys(
            (
                (r["split"], r["weights"], r["size"], r["mtime"]),
                r["status"] == "ok",
                (r.get("job") or {}).get("id"),
            )
            for r in identities
        )

    @classmethod
    def of(cls, records: Iterable[EvalRecord]) -> StoreIndex:
        """The index of records already read (`orch status` has them from load_results)."""
        return cls.of_keys((record.key, record.ok, record.job.get("id")) for record in records)

    @classmethod
    def of_keys(cls, keys: Iterable[tuple[Key, bool, str | None]]) -> StoreIndex:
        """The index of (key, succeeded, Slurm job id) triples in store order."""
        index = cls()
        for key, ok, job in keys:
            if ok:
                index.done.add(key)
            else:
                index.failures[key] += 1
            if job is not None:
                index.by_job.setdefault(job, {})[key[0]] = "ok" if ok else "failed"
        return index

    def is_done(self, key: Key) -> bool:
        return key in self.done

    def failed_attempts(self, key: Key) -> int:
        return self.failures.get(key, 0)


def record_identity(line: bytes) -> dict[str, Any]:
    """The identifying keys of a record line without parsing its (large) metrics block.

    Records are written with `metrics` after the identifying keys, and json.dumps escapes every
    quote inside strings, so the first `, "metrics": ` of a line is that key itself. With 80
    classes the metrics block is ~30 kB and parsing it for every record would make a pass over
    thousands of evaluated files slow; cutting there keeps the index cheap.
    """
    cut = line.find(IDENTITY_END)
    if cut >= 0:
        try:
            return OBJECT_DECODER.decode(line[:cut] + b"}")
        except msgspec.DecodeError:  # not cut at the key after all, or NaN: the whole line
            pass
    return json.loads(line)


def _complete_lines(path: Path) -> Iterator[bytes]:
    """Lines of the store, skipping a torn (unterminated) last line with a warning."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    lines = data.split(b"\n")
    if lines[-1]:
        print(f"orch: warning: skipping a torn last line in {path}", file=sys.stderr)
    for number, raw in enumerate(lines[:-1], start=1):
        if not raw.strip():
            continue
        if not raw.startswith(b"{") or not raw.rstrip().endswith(b"}"):
            print(f"orch: warning: skipping a damaged line {number} in {path}", file=sys.stderr)
            continue
        yield raw


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
