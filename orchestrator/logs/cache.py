"""Incremental parsing: a log grows by appends, so only the new bytes are ever read twice.

The cache of one log file is a small pickle (`cache_path`) and a folder next to it. The pickle
holds the byte offset reached (always at a line end), a fingerprint of the bytes around it,
the parser's state without its columns, and how many values of each column are saved. The
folder holds each column (series and region statistics) as a raw file that only grows: picking
up an append reads each file in one call and writes only the new values, never the millions
already saved.

Columns are written before the pickle that counts them, which is replaced atomically, so a
crash in between leaves the previous cache intact. A log that was truncated or replaced
(shorter, or different bytes where the old ones were) is re-read from the start; anything
missing, short or unreadable in the cache is treated the same way, never as an error.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from orchestrator.base.fsutil import atomic_write
from orchestrator.logs.model import ParsedLog
from orchestrator.logs.parser import LogParser

#: Bump when the parser's state or output changes shape: old caches are then ignored.
CACHE_VERSION = 2
#: Bytes read per step: large enough to amortise per-chunk work, small enough for RAM.
CHUNK_BYTES = 16 << 20
#: Bytes compared at the start of the file and just before the cached offset.
FINGERPRINT_BYTES = 4096


@dataclass
class CacheEntry:
    version: int
    offset: int
    head: bytes
    before_offset: bytes
    parser: LogParser
    saved: list[int]  # values of each column of `parser.log.columns()` in the column files


def parse_file(path: Path, cache_path: Path | None = None) -> ParsedLog:
    """Parse a log, resuming from `cache_path` when it still describes the file's start."""
    entry = load_entry(cache_path) if cache_path is not None else None
    with open(path, "rb") as handle:
        if entry is None or not still_valid(entry, handle):
            entry = CacheEntry(CACHE_VERSION, 0, b"", b"", LogParser(), [])
        start = entry.offset
        partial = feed_whole_lines(entry, handle)
        if cache_path is not None and entry.offset != start:
            entry.head = read_at(handle, 0, FINGERPRINT_BYTES)
            entry.before_offset = bytes_before(handle, entry.offset)
            save_entry(cache_path, entry)
    return entry.parser.result(partial)


def feed_whole_lines(entry: CacheEntry, handle: BinaryIO) -> bytes:
    """Feed everything after `entry.offset` up to the last newline; return the partial line
    after it, which is left for the next call (the writer may still be in the middle of it)."""
    handle.seek(entry.offset)
    partial = b""
    while block := handle.read(CHUNK_BYTES):
        cut = block.rfind(b"\n") + 1
        if cut:
            data = b"".join((partial, memoryview(block)[:cut]))  # one copy
            entry.parser.feed(data)
            entry.offset += len(data)
            partial = block[cut:]
        else:
            partial += block
    return partial


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


def column_folder(cache_path: Path) -> Path:
    return cache_path.with_name(cache_path.name + ".columns")


def load_entry(cache_path: Path) -> CacheEntry | None:
    """The cached state with its columns, or None when missing, from another version,
    or unreadable."""
    try:
        entry = pickle.loads(cache_path.read_bytes())
        if not isinstance(entry, CacheEntry) or entry.version != CACHE_VERSION:
            return None
        read_columns(column_folder(cache_path), entry.parser.log.columns(), entry.saved)
    except Exception:  # missing, damaged, short or written by other code: one full re-read
        return None
    return entry


def read_columns(folder: Path, columns: list[array], saved: list[int]) -> None:
    if len(columns) != len(saved):
        raise ValueError("column count differs from the saved counts")
    for index, (column, count) in enumerate(zip(columns, saved)):
        with open(folder / str(index), "rb") as handle:
            column.fromfile(handle, count)  # EOFError when the file is short


def save_entry(cache_path: Path, entry: CacheEntry) -> None:
    """Append the new values of every column to its file, then replace the pickle."""
    folder = column_folder(cache_path)
    if not entry.saved:  # a first parse or a re-read: nothing in the folder is of use
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    columns = entry.parser.log.columns()
    saved = entry.saved + [0] * (len(columns) - len(entry.saved))
    for index, (column, count) in enumerate(zip(columns, saved)):
        write_from(folder / str(index), column, count)
    entry.saved = [len(column) for column in columns]
    state = dataclasses.replace(entry, parser=entry.parser.without_columns())
    atomic_write(cache_path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def write_from(path: Path, column: array, count: int) -> None:
    """Write the values of `column` after the first `count` at their place in the file, and
    cut the file there (whatever followed belonged to no saved pickle)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        new, position = memoryview(column).cast("B")[count * column.itemsize :], count * column.itemsize
        while new:
            written = os.pwrite(descriptor, new, position)
            new, position = new[written:], position + written
        os.ftruncate(descriptor, len(column) * column.itemsize)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
