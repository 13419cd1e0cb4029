"""Incremental parsing: a log grows by appends, so only the new bytes are ever read twice.

The cache of one log file is a small JSON file (`cache_path`), a column file and a points file
next to it. The JSON holds the byte offset reached (always at a line end), a fingerprint of
the bytes around it, the parser's explicit state (`ParserState`), what was read besides the
columns and mAP points (events), how many values each save appended to each column and how
many bytes of the points file are saved. It holds plain values only: loading it never runs
code, whoever wrote the file. The column file holds the columns' raw values (series and
region statistics), one segment per save: picking up an append writes only the new values
(one write, one fsync), never the millions already saved. The points file holds the mAP
points, a JSON line each, appended the same way: `orch status` needs neither.

Columns and points are written before the JSON that counts them, which is replaced atomically, so a
crash in between leaves the previous cache intact. A log that was truncated or replaced
(shorter, or different bytes where the old ones were) is re-read from the start; anything
missing, short or unreadable in the cache is treated the same way, never as an error.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from orchestrator.base.fsutil import atomic_write
from orchestrator.logs.model import ParsedLog, SeriesEnds, new_region_layer
from orchestrator.logs.parser import LogParser, ParserState, Prepared

#: Bump when the parser's state or output changes shape: old caches are then ignored.
CACHE_VERSION = 7
#: ParsedLog fields saved in the JSON (the columns go to the column file, the mAP points to
#: the points file).
LOG_FIELDS = ("format", "lines", "last_accuracy", "loss_settings", "restarts", "gaps", "errors")
#: Bytes read per step: large enough to amortise per-chunk work, small enough for RAM.
CHUNK_BYTES = 4 << 20
#: Saves appended to the column file before it is rewritten as one (the JSON lists them).
MAX_SEGMENTS = 32
#: Bytes compared at the start of the file and just before the cached offset.
FINGERPRINT_BYTES = 4096


@dataclass
class CacheEntry:
    version: int
    offset: int
    head: bytes
    before_offset: bytes
    parser: LogParser
    segments: list[list[int]]  # per save, values appended to each column of `parser.log.columns()`
    ends: SeriesEnds = field(default_factory=SeriesEnds)
    #: Saved values of each column that are not in `parser.log`'s columns (none when loaded).
    unloaded: list[int] = field(default_factory=list)
    #: Bytes of the points file saved, and how many of `parser.log.map_points` are in it.
    points_bytes: int = 0
    points_in_memory: int = 0

    @property
    def saved(self) -> list[int]:
        """Values of each column in the column file."""
        columns = max(map(len, self.segments), default=0)
        return [sum(segment[i] for segment in self.segments if i < len(segment)) for i in range(columns)]


def parse_file(
    path: Path, cache_path: Path | None = None, on_progress: Callable[[int], None] | None = None
) -> ParsedLog:
    """Parse a log, resuming from `cache_path` when it still describes the file's start;
    `on_progress` hears the bytes parsed so far after each chunk."""
    entry, partial = update(path, cache_path, True, on_progress)
    return entry.parser.result(partial)


def progress_file(path: Path, cache_path: Path) -> tuple[ParsedLog, SeriesEnds]:
    """What `orch status` needs of a log, cheaply: the cache brought up to date without
    reading its columns (new values are appended to them), the log's events and the ends of
    its series. The log returned has only the new rows in its columns (all of them when the
    cache was due to be compacted)."""
    entry, partial = update(path, cache_path, False)
    return entry.parser.result(partial), entry.ends


def update(
    path: Path, cache_path: Path | None, with_columns: bool, on_progress: Callable[[int], None] | None = None
) -> tuple[CacheEntry, bytes]:
    """Parse what the cache has not seen and save it; the partial last line comes back."""
    entry = load_entry(cache_path, with_columns) if cache_path is not None else None
    with open(path, "rb") as handle:
        if entry is None or not still_valid(entry, handle):
            entry = CacheEntry(CACHE_VERSION, 0, b"", b"", LogParser(), [])
        start, rows = entry.offset, entry.parser.log.iterations
        entry.offset, partial = feed_whole_lines(entry.parser, handle, entry.offset, on_progress)
        entry.ends.add(entry.parser.log.series, rows)
        if cache_path is not None and entry.offset != start:
            entry.head = read_at(handle, 0, FINGERPRINT_BYTES)
            entry.before_offset = bytes_before(handle, entry.offset)
            save_entry(cache_path, entry)
    return entry, partial


def stream_file(
    path: Path, on_series: Callable[[dict[str, array]], None], on_progress: Callable[[int], None] | None = None
) -> ParsedLog:
    """Parse a log chunk by chunk, handing each chunk's series rows to `on_series` instead of
    keeping them: memory stays bounded whatever the log's length. No cache. `on_progress`
    hears the bytes parsed so far after each chunk."""
    parser = LogParser()

    def after_each(offset: int) -> None:
        on_series(parser.drain().series)
        if on_progress is not None:
            on_progress(offset)

    with open(path, "rb") as handle:
        _, partial = feed_whole_lines(parser, handle, 0, after_each)
    return parser.result(partial)


def feed_whole_lines(
    parser: LogParser, handle: BinaryIO, offset: int, after_each: Callable[[int], None] | None = None
) -> tuple[int, bytes]:
    """Feed everything after `offset` up to the last newline (calling `after_each` with the
    offset reached after each chunk); return the offset reached and the partial line after
    it, which is left for the next call (the writer may still be in the middle of it).

    While the parser takes in one chunk, a worker thread reads and prepares the next one
    (`LogParser.prepare`, compiled code that releases the GIL): on two cores that hides most
    of the scanning. One chunk is prepared ahead, no more, so memory stays bounded."""
    handle.seek(offset)
    whole_lines = WholeLines(handle)
    chunks = iter(whole_lines)

    def read_and_prepare() -> Prepared | None:
        data = next(chunks, None)
        return None if data is None else parser.prepare(data)

    with ThreadPoolExecutor(max_workers=1) as worker:
        ahead = worker.submit(read_and_prepare)
        while (prepared := ahead.result()) is not None:
            ahead = worker.submit(read_and_prepare)
            parser.take(prepared)
            offset += prepared.size
            if after_each is not None:
                after_each(offset)
    return offset, whole_lines.partial


class WholeLines:
    """A file read from its current position in chunks of whole lines (CHUNK_BYTES at a
    time, or more for a longer line); what follows the last newline read is `partial`."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.partial = b""

    def __iter__(self) -> Iterator[bytes]:
        while block := self._handle.read(CHUNK_BYTES):
            cut = block.rfind(b"\n") + 1
            if cut:
                data = b"".join((self.partial, memoryview(block)[:cut]))  # one copy
                self.partial = block[cut:]
                yield data
            else:
                self.partial += block


def still_valid(entry: CacheEntry, handle: BinaryIO) -> bool:
    """The file still starts with what was parsed: not shorter, same bytes at both ends."""
    size = handle.seek(0, 2)
    return (
        size >= entry.offset
        and read_at(handle, 0, len(entry.head)) == entry.head
        and bytes_before(handle, entry.offset) == entry.before_offset
    )


def bytes_before(handle: BinaryIO, offset: int) -> bytes:
    start = max(0, offset - FINGERPRINT_BYTES)
    return read_at(handle, start, offset - start)


def read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)


def padded(counts: list[int], length: int) -> list[int]:
    """Counts of the first columns, 0 for the layers that appeared since."""
    return counts + [0] * (length - len(counts))


def column_file(cache_path: Path) -> Path:
    return cache_path.with_name(cache_path.name + ".columns")


def load_entry(cache_path: Path, with_columns: bool = True) -> CacheEntry | None:
    """The cached state with its columns (or without: `unloaded` counts them; with them all
    the same once the column file has MAX_SEGMENTS segments, so that the save after this
    load rewrites it as one), or None when missing, from another version, or unreadable."""
    try:
        entry = entry_from_json(json.loads(cache_path.read_bytes()))
        if entry is None:
            return None
        if with_columns or len(entry.segments) >= MAX_SEGMENTS:
            read_columns(column_file(cache_path), entry.parser.log.columns(), entry.segments)
            entry.parser.log.map_points = read_points(points_file(cache_path), entry.points_bytes)
            entry.points_in_memory = len(entry.parser.log.map_points)
        else:  # the values must all be there, since new ones are written after them
            entry.unloaded = entry.saved
            columns = entry.parser.log.columns()
            if column_file(cache_path).stat().st_size < sum(c.itemsize * n for c, n in zip(columns, entry.unloaded)):
                return None
            if entry.points_bytes and points_file(cache_path).stat().st_size < entry.points_bytes:
                return None
    except Exception:  # missing, damaged, short or written by other code: one full re-read
        return None
    return entry


def entry_to_json(entry: CacheEntry) -> dict[str, Any]:
    state = entry.parser.state()
    log = entry.parser.log
    return {
        "version": entry.version,
        "offset": entry.offset,
        "head": encoded(entry.head),
        "before_offset": encoded(entry.before_offset),
        "segments": entry.segments,
        "points_bytes": entry.points_bytes,
        "ends": dataclasses.asdict(entry.ends),
        "log": {name: getattr(log, name) for name in LOG_FIELDS} | {"region_layers": list(log.region)},
        "parser": {
            "last_iteration": state.last_iteration,
            "banner_seen": state.banner_seen,
            "in_nan_streak": state.in_nan_streak,
            "pending_class_ap": state.pending_class_ap,
            "waiting_regions": {layer: encoded(rows.tobytes()) for layer, rows in state.waiting_regions.items()},
        },
    }


def entry_from_json(saved: dict[str, Any]) -> CacheEntry | None:
    """The entry with empty columns of the saved layers (`read_columns` fills them), or None
    when written by another version."""
    if saved.get("version") != CACHE_VERSION:
        return None
    fields = saved["log"]
    log = ParsedLog(**{name: fields[name] for name in LOG_FIELDS})
    log.region = {str(layer): new_region_layer() for layer in fields["region_layers"]}
    parser = saved["parser"]
    last = parser["last_iteration"]
    state = ParserState(
        last_iteration=None if last is None else int(last),
        banner_seen=bool(parser["banner_seen"]),
        in_nan_streak=bool(parser["in_nan_streak"]),
        pending_class_ap={str(k): float(v) for k, v in parser["pending_class_ap"].items()},
        waiting_regions={layer: array("d", decoded(rows)) for layer, rows in parser["waiting_regions"].items()},
    )
    return CacheEntry(
        CACHE_VERSION,
        int(saved["offset"]),
        decoded(saved["head"]),
        decoded(saved["before_offset"]),
        LogParser(log=log, state=state),
        [[int(count) for count in segment] for segment in saved["segments"]],
        SeriesEnds(**saved["ends"]),
        points_bytes=int(saved["points_bytes"]),
    )


def encoded(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decoded(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def points_file(cache_path: Path) -> Path:
    return cache_path.with_name(cache_path.name + ".points")


def read_points(path: Path, size: int) -> list[dict[str, Any]]:
    """The mAP points saved: the first `size` bytes of the points file, a JSON line each."""
    if not size:
        return []
    with open(path, "rb") as handle:
        text = handle.read(size)
    if len(text) != size:
        raise EOFError(f"{path} is short")
    return [json.loads(line) for line in text.splitlines()]


def write_at(path: Path, pieces: list[memoryview], position: int) -> int:
    """Write `pieces` into `path` from `position` on, cut the file there and flush it to disk
    (what followed belonged to no saved JSON); returns the position reached."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for piece in pieces:
            while piece:
                written = os.pwrite(descriptor, piece, position)
                piece, position = piece[written:], position + written
        os.ftruncate(descriptor, position)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return position


def read_columns(path: Path, columns: list[array], segments: list[list[int]]) -> None:
    """Fill `columns` from the column file: each segment holds the values one save appended
    to each column (a prefix of the columns: layers only ever appear at the end)."""
    if max(map(len, segments), default=0) != len(columns):
        raise ValueError("column count differs from the saved counts")
    with open(path, "rb") as handle:
        for segment in segments:
            for column, count in zip(columns, segment):
                column.fromfile(handle, count)  # EOFError when the file is short


def save_entry(cache_path: Path, entry: CacheEntry) -> None:
    """Append the new values of every column to the column file as one segment (one fsync),
    then replace the JSON; past MAX_SEGMENTS, the file is rewritten as one segment."""
    columns = entry.parser.log.columns()
    saved = padded(entry.saved, len(columns))
    if len(entry.segments) >= MAX_SEGMENTS and not entry.unloaded:
        entry.segments, saved = [], [0] * len(columns)
    in_memory = [count - unloaded for count, unloaded in zip(saved, padded(entry.unloaded, len(columns)))]
    pieces = [memoryview(column).cast("B")[count * column.itemsize :] for column, count in zip(columns, in_memory)]
    position = sum(count * column.itemsize for column, count in zip(columns, saved))
    path = column_file(cache_path)
    if path.is_dir():  # a column folder written by an earlier version of this cache
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_at(path, pieces, position)
    entry.segments.append([len(column) - count for column, count in zip(columns, in_memory)])
    save_points(points_file(cache_path), entry)
    atomic_write(cache_path, json.dumps(entry_to_json(entry)))


def save_points(path: Path, entry: CacheEntry) -> None:
    """Append the new mAP points to the points file, a JSON line each: an AlexeyAB log with
    `-map` has thousands, which `orch status` then neither reads nor rewrites. A log without
    any has no points file."""
    points = entry.parser.log.map_points
    new = points[entry.points_in_memory :]
    if new:
        lines = "".join(json.dumps(point) + "\n" for point in new).encode()
        entry.points_bytes = write_at(path, [memoryview(lines)], entry.points_bytes)
        entry.points_in_memory = len(points)
