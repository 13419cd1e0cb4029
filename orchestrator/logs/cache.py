"""Incremental parsing: a log grows by appends, so only the new bytes are ever read twice.

The cache of one log file holds the byte offset reached (always at a line end), the parser
with its state and series, and a fingerprint of the bytes around that offset. A log that was
truncated or replaced (shorter, or different bytes where the old ones were) is re-read from
the start; anything unreadable in the cache is treated the same way, never as an error.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from orchestrator.fsutil import atomic_write
from orchestrator.logs.model import ParsedLog
from orchestrator.logs.parser import LogParser

#: Bump when the parser's state or output changes shape: old caches are then ignored.
CACHE_VERSION = 1
#: Bytes read per step: large enough to amortise Python per-chunk work, small enough for RAM.
CHUNK_BYTES = 8 << 20
#: Bytes compared at the start of the file and just before the cached offset.
FINGERPRINT_BYTES = 4096


@dataclass
class CacheEntry:
    version: int
    offset: int
    head: bytes
    before_offset: bytes
    parser: LogParser


def parse_file(path: Path, cache_path: Path | None = None) -> ParsedLog:
    """Parse a log, resuming from `cache_path` when it still describes the file's start."""
    entry = load_entry(cache_path) if cache_path is not None else None
    with open(path, "rb") as handle:
        if entry is None or not still_valid(entry, handle):
            entry = CacheEntry(CACHE_VERSION, 0, b"", b"", LogParser())
        start = entry.offset
        partial = feed_whole_lines(entry, handle)
        if cache_path is not None and entry.offset != start:
            entry.head = read_at(handle, 0, FINGERPRINT_BYTES)
            entry.before_offset = bytes_before(handle, entry.offset)
            atomic_write(cache_path, pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
    return entry.parser.result(partial)


def feed_whole_lines(entry: CacheEntry, handle: BinaryIO) -> bytes:
    """Feed everything after `entry.offset` up to the last newline; return the partial line
    after it, which is left for the next call (the writer may still be in the middle of it)."""
    handle.seek(entry.offset)
    partial = b""
    while block := handle.read(CHUNK_BYTES):
        data = partial + block
        cut = data.rfind(b"\n") + 1
        if cut:
            entry.parser.feed(data[:cut])
            entry.offset += cut
        partial = data[cut:]
    return partial


def still_valid(entry: CacheEntry, handle: BinaryIO) -> bool:
    """The file still starts with what was parsed: not shorter, same bytes at both ends."""
    size = handle.seek(0, 2)
    return (size >= entry.offset
            and read_at(handle, 0, len(entry.head)) == entry.head
            and bytes_before(handle, entry.offset) == entry.before_offset)


def bytes_before(handle: BinaryIO, offset: int) -> bytes:
    start = max(0, offset - FINGERPRINT_BYTES)
    return read_at(handle, start, offset - start)


def read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)


def load_entry(cache_path: Path) -> CacheEntry | None:
    """The cached state, or None when missing, from another version, or unreadable."""
    try:
        entry = pickle.loads(cache_path.read_bytes())
    except Exception:  # missing, damaged or written by other code: costs one full re-read
        return None
    return entry if isinstance(entry, CacheEntry) and entry.version == CACHE_VERSION else None
