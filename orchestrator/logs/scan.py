"""The compiled line scanner (`scan.c`): the printfs of `lines` turned into its programs, and
its results as arrays; also escapes removed and lines holding a text found.

A log is hundreds of megabytes of a few printfs repeated; numpy operations over a chunk
reached about half the disk speed asked of the parser, a loop in C reaches it with room to
spare and reads like the printf it matches. The library is a plain shared object built by
setuptools next to this file (`pip install`); it is called through ctypes, which releases
the GIL for the call.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import numpy as np
from numpy.ctypeslib import ndpointer

from orchestrator.base.errors import OrchError
from orchestrator.logs.lines import FIXED, INT, Printf

#: A line's status when it is none of the printfs (printf indices are >= 0), as scan.c sets it.
WITH_COMMA, WITHOUT_COMMA, WITH_RETURN = -1, -2, -3

LIBRARY_NAME = "_scan"
#: `Programs.scan` makes room for a line per this many bytes, then counts if that was short.
LINE_BYTES = 24
#: Lines `lines_with` makes room for at first (failure markers: none in a healthy chunk).
LINES_WITH_ROOM = 64
#: Opcodes of a printf program (scan.c's enum).
END, LITERAL, INTEGER, DECIMAL, CHOICE = b"E", b"L", b"I", b"F", b"C"


@dataclass(frozen=True)
class Scan:
    """A chunk's lines: `data[starts[i]:ends[i]]` (`ends` at the newlines), `status[i]` the
    index of the printf line i is, or one of the negative statuses, `heads[i]` its first 8
    bytes as a little-endian word (zeros past its end); `fields[k]` holds the fields of the
    k-th printf line (int64, decimals as the bits of their float64); `others` is the lines
    that are no printf, each with its newline."""

    starts: np.ndarray
    ends: np.ndarray
    status: np.ndarray
    heads: np.ndarray
    fields: np.ndarray
    others: bytes


class Programs:
    """Printfs compiled for scan.c: one program each, fields numbered in printf order."""

    def __init__(self, printfs: tuple[Printf, ...]) -> None:
        programs = [program(printf.parts) for printf in printfs]
        self.code = b"".join(programs)
        self.offsets = np.cumsum([0, *map(len, programs[:-1])]).astype(np.int64)
        self.count = len(printfs)
        self.width = max(len(printf.parts) // 2 for printf in printfs)
        #: A printf line has at least this many bytes, newline included: it bounds the rows.
        self.shortest = min(shortest_line(printf.parts) for printf in printfs)

    def scan(self, data: bytes) -> Scan:
        """Sort out the lines of `data` (whole lines, the last one ending with a newline).
        The per-line arrays are sized for lines of LINE_BYTES on average, a bound most logs
        stay under (one scan, no counting pass); a chunk of shorter lines is counted and
        scanned again."""
        scan = self._scan(data, len(data) // LINE_BYTES + 1) or self._scan(data, data.count(b"\n"))
        if scan is None:
            raise RuntimeError("scan_lines found more lines than newlines")
        return scan

    def _scan(self, data: bytes, most_lines: int) -> Scan | None:
        most_rows = min(most_lines, len(data) // self.shortest + 1)
        starts, ends = np.empty(most_lines, dtype=np.int64), np.empty(most_lines, dtype=np.int64)
        status, heads = np.empty(most_lines, dtype=np.int32), np.empty(most_lines, dtype=np.uint64)
        fields = np.empty((most_rows, self.width), dtype=np.int64)
        others = np.empty(len(data), dtype=np.uint8)
        rows, others_size = ctypes.c_int64(), ctypes.c_int64()
        lines = library().scan_lines(
            data,
            len(data),
            self.code,
            self.offsets,
            self.count,
            self.width,
            most_rows,
            most_lines,
            starts,
            ends,
            status,
            heads,
            fields,
            rows,
            others,
            others_size,
        )
        if lines < 0:
            return None
        return Scan(
            starts[:lines],
            ends[:lines],
            status[:lines],
            heads[:lines],
            fields[: rows.value],
            others[: others_size.value].tobytes(),
        )


def program(parts: tuple) -> bytes:
    """A printf's parts (literals alternating with `(name, kind)` fields) as scan.c's program."""
    code = bytearray()
    for index, part in enumerate(parts):
        if index % 2 == 0:
            if part:
                code += LITERAL + bytes([len(part)]) + part
            continue
        column, kind = index // 2, part[1]
        if isinstance(kind, tuple):
            code += CHOICE + bytes([column, len(kind)]) + b"".join(bytes([len(word)]) + word for word in kind)
        else:
            code += {INT: INTEGER, FIXED: DECIMAL}[kind] + bytes([column])
    return bytes(code + END)


def shortest_line(parts: tuple) -> int:
    """The fewest bytes a line of this printf can have: its literals, a byte per field, the newline."""
    return sum(map(len, parts[0::2])) + len(parts[1::2]) + 1


def field_column(fields: np.ndarray, column: int, kind: object) -> np.ndarray:
    """One field of the rows read, as the type its kind reads as (decimals as float64)."""
    values = np.ascontiguousarray(fields[:, column])
    return values.view(np.float64) if kind == FIXED else values


def strip_escapes(data: bytes) -> bytes:
    """`data` without terminal escapes (xterm titles, colour and other control sequences)."""
    if b"\x1b" not in data:
        return data
    out = np.empty(len(data), dtype=np.uint8)
    return out[: library().strip_escapes(data, len(data), out)].tobytes()


def lines_with(text: bytes, needle: bytes) -> np.ndarray:
    """Where the lines of `text` that hold `needle` start (one per line, in order)."""
    starts = np.empty(LINES_WITH_ROOM, dtype=np.int64)
    count = library().lines_with(text, len(text), needle, len(needle), starts, len(starts))
    if count > len(starts):  # more than expected (a damaged log): again, with room for all
        starts = np.empty(count, dtype=np.int64)
        library().lines_with(text, len(text), needle, len(needle), starts, len(starts))
    return starts[:count]


@functools.cache
def library() -> ctypes.CDLL:
    """scan.c, loaded once, with the argument types of its functions."""
    path = Path(__file__).with_name(LIBRARY_NAME + EXTENSION_SUFFIXES[0])
    try:
        loaded = ctypes.CDLL(str(path))
    except OSError as error:
        raise OrchError("the log scanner is not built; reinstall orch (pip install -e .)", str(path)) from error
    int64s, int32s = ndpointer(np.int64, flags="C"), ndpointer(np.int32, flags="C")
    words, data = ndpointer(np.uint64, flags="C"), ndpointer(np.uint8, flags="C")
    count = ctypes.POINTER(ctypes.c_int64)
    loaded.scan_lines.restype = ctypes.c_int64
    loaded.scan_lines.argtypes = [
        *(ctypes.c_char_p, ctypes.c_int64),  # data, size
        *(ctypes.c_char_p, int64s, ctypes.c_int32, ctypes.c_int32),  # the programs
        *(ctypes.c_int64, ctypes.c_int64),  # room for rows, for lines
        *(int64s, int64s, int32s, words),  # per line: starts, ends, status, heads
        *(ndpointer(np.int64, ndim=2, flags="C"), count, data, count),  # fields, rows, others, its size
    ]
    loaded.strip_escapes.restype = ctypes.c_int64
    loaded.strip_escapes.argtypes = [ctypes.c_char_p, ctypes.c_int64, data]
    loaded.lines_with.restype = ctypes.c_int64
    loaded.lines_with.argtypes = [
        ctypes.c_char_p,
        ctypes.c_int64,
        ctypes.c_char_p,
        ctypes.c_int64,
        int64s,
        ctypes.c_int64,
    ]
    return loaded
