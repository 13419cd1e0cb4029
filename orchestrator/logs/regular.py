"""The lines that fill a log, recognised and read in bulk, whichever fork printed them.

Most of a log is a few fixed printfs repeated (`lines.Printf`): region statistics per layer
and subdivision, one iteration line, AlexeyAB's `Last accuracy` line. The compiled scanner
(`scan`) sorts a chunk's lines out in one pass: a line is *regular* when every literal byte of
one printf is in place and every field parses, and its values are read there. Lines a
handler could still use are listed as *slow*, for the parser's regular expressions. A regular
line is one its handler's pattern accepts with the same fields, so which way a line goes
never changes the result, only the time it takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.logs import lines as L
from orchestrator.logs.formats import ITERATION_PRINTFS
from orchestrator.logs.scan import WITH_RETURN, WITHOUT_COMMA, Programs, field_column

#: Every printf read in bulk, grouped by what they feed.
PRINTFS = (*ITERATION_PRINTFS, L.REGION_V3_PRINTF, L.V3_PRINTF, L.LAST_ACCURACY_PRINTF)
PROGRAMS = Programs(PRINTFS)
KINDS = (L.ITERATION, L.REGION, L.ACCURACY)
#: What a line must start with for its handler (chosen by its first byte) to find anything.
#: Lines starting with a digit (iteration lines) must also hold a comma; lines starting with
#: a space are AlexeyAB's indented iteration, mAP and `Last accuracy` lines.
HANDLER_PREFIXES = {
    ord("R"): b"Region ",
    ord("v"): b"v3 (",
    ord("c"): b"class_id = ",
    ord("L"): L.BANNER,
}
INDENTED = (b" mean average", b" Last accuracy")


@dataclass
class Rows:
    """Regular lines: their indices in the chunk, the printf each matched (index in PRINTFS)
    and their fields (a field a printf has not is NaN, or -1 for integers)."""

    lines: np.ndarray
    printf: np.ndarray
    fields: dict[str, np.ndarray]

    def part(self, rows: slice) -> Rows:
        return Rows(self.lines[rows], self.printf[rows], {name: f[rows] for name, f in self.fields.items()})


@dataclass
class SortedChunk:
    """A chunk's lines (`data[starts[i]:ends[i]]`, `ends` at the newlines) sorted out;
    `others` holds the lines that are not regular (indices `other_lines`), each with its
    newline: the only lines a failure can be reported in."""

    starts: np.ndarray
    ends: np.ndarray
    slow: np.ndarray
    rows: dict[str, Rows]  # kind -> its regular lines, in line order
    others: bytes
    other_lines: np.ndarray


def sort_lines(data: bytes, handled: np.ndarray) -> SortedChunk:
    """Find the regular lines of `data` (whole lines) and read them; `handled[b]` says whether
    a line starting with byte `b` has a handler, i.e. whether a line not regular is slow."""
    scan = PROGRAMS.scan(data)
    regular = np.flatnonzero(scan.status >= 0)  # the k-th holds the k-th row of fields
    printf_of_row = scan.status[regular]
    found = []
    for index, printf in enumerate(PRINTFS):
        rows = np.flatnonzero(printf_of_row == index)
        fields = scan.fields[rows]
        columns = {name: field_column(fields, column, kind) for column, (name, kind) in enumerate(printf.parts[1::2])}
        found.append(Rows(regular[rows], np.zeros(rows.size, dtype=np.int64), columns))
    by_kind = {}
    for kind in KINDS:
        by_kind[kind] = merged([(i, found[i]) for i, printf in enumerate(PRINTFS) if printf.kind == kind])
    others = np.flatnonzero(scan.status < 0)
    maybe = others[handled[scan.heads[others] & 0xFF]]
    slow = scan.status == WITH_RETURN  # the handlers see what a terminal shows: the text after the last \r
    slow[maybe] |= ~inert(scan.heads[maybe], scan.status[maybe] == WITHOUT_COMMA)
    return SortedChunk(scan.starts, scan.ends, np.flatnonzero(slow), by_kind, scan.others, others)


def merged(found: list[tuple[int, Rows]]) -> Rows:
    """The rows of several printfs as one, in line order, each printf's `finish` applied."""
    parts = []
    for index, rows in found:
        finish = PRINTFS[index].finish
        fields = finish(rows.fields) if finish is not None and rows.lines.size else rows.fields
        parts.append(Rows(rows.lines, np.full(rows.lines.size, index), fields))
    parts = [rows for rows in parts if rows.lines.size] or parts[:1]
    if len(parts) == 1:
        return parts[0]
    names = dict.fromkeys(name for rows in parts for name in rows.fields)
    lines = np.concatenate([rows.lines for rows in parts])
    order = np.argsort(lines, kind="stable")
    fields = {name: np.concatenate([filled(rows, name) for rows in parts])[order] for name in names}
    return Rows(lines[order], np.concatenate([rows.printf for rows in parts])[order], fields)


def filled(rows: Rows, name: str) -> np.ndarray:
    field = rows.fields.get(name)
    return field if field is not None else np.full(rows.lines.size, np.nan)


def worth_sorting(data: bytes) -> bool:
    """Whether `data` may hold regular lines at all: every printf read in bulk has a comma."""
    return b"," in data


def inert(heads: np.ndarray, no_comma: np.ndarray) -> np.ndarray:
    """Which lines their handler provably finds nothing in, from their first 8 bytes (`heads`,
    little-endian words) and whether they hold no comma. Longer prefixes are checked on
    their first 8 bytes: a line passing that goes to its handler, which checks the rest."""
    first, second = heads & 0xFF, (heads >> np.uint64(8)) & 0xFF
    second_is_digit = (second >= ord("0")) & (second <= ord("9"))
    useful_indented = second_is_digit & ~no_comma
    for prefix in INDENTED:
        useful_indented |= starts_with(heads, prefix)
    inert = ((first >= ord("0")) & (first <= ord("9")) | (first == ord("R"))) & no_comma
    inert |= (first == ord(" ")) & ~useful_indented
    for byte, prefix in HANDLER_PREFIXES.items():
        inert |= (first == byte) & ~starts_with(heads, prefix)
    return inert


def starts_with(heads: np.ndarray, prefix: bytes) -> np.ndarray:
    """Which lines begin with the first 8 bytes of `prefix`, from their `heads`."""
    head = prefix[:8]
    mask = np.uint64((1 << 8 * len(head)) - 1)
    return heads & mask == np.uint64(int.from_bytes(head, "little"))
