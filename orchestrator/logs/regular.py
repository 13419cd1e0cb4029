"""The lines that fill a log, recognised and read in bulk, whichever fork printed them.

Most of a log is a few fixed printfs repeated (`lines.Printf`): region statistics per layer
and subdivision, one iteration line, AlexeyAB's `Last accuracy` line. A chunk's lines are sorted
out with array operations on the positions of its commas and newlines: a line is *regular*
when every literal byte of one printf is in place and every field parses (`swar`), and its
values are then read together with those of all other such lines. Lines a handler could still
use are listed as *slow*, for the parser's regular expressions. A regular line is one its
handler's pattern accepts with the same fields, so which way a line goes never changes the
result, only the time it takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.logs import lines as L
from orchestrator.logs.formats import ITERATION_PRINTFS
from orchestrator.logs.swar import Earlier, Windows, choices, decimals, integers, matches, number_run, word

COMMA, NEWLINE, CARRIAGE_RETURN = ord(","), ord("\n"), ord("\r")
#: Every printf read in bulk, grouped by what they feed.
PRINTFS = (*ITERATION_PRINTFS, L.REGION_V3_PRINTF, L.V3_PRINTF, L.LAST_ACCURACY_PRINTF)
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
#: Regular lines keep this far from both ends of the chunk, so that every window read for
#: them (from 16 bytes before a token's end to 16 bytes after a literal) is inside it.
MARGIN = 16
PARSE = {L.INT: integers, L.FIXED: decimals}


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
    """A chunk's lines (`data[starts[i]:ends[i]]`, `ends` at the newlines) sorted out."""

    starts: np.ndarray
    ends: np.ndarray
    slow: np.ndarray
    rows: dict[str, Rows]  # kind -> its regular lines, in line order


@dataclass
class Lines:
    """Where a chunk's lines and commas are, shared by the printf matchers."""

    windows: Windows
    starts: np.ndarray
    ends: np.ndarray  # where each line's text ends (its newline, or a carriage return before it)
    first_bytes: np.ndarray
    commas: np.ndarray  # commas in each line
    comma_marks: np.ndarray  # index in `marks` of each line's first comma
    marks: np.ndarray  # positions of every comma and newline
    readable: np.ndarray  # within the margins, no carriage return


def sort_lines(data: bytes, handled: np.ndarray) -> SortedChunk:
    """Find the regular lines of `data` (whole lines) and read them; `handled[b]` says whether
    a line starting with byte `b` has a handler, i.e. whether a line not regular is slow."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    marks = np.flatnonzero((buffer == COMMA) | (buffer == NEWLINE))
    newline_marks = np.flatnonzero(buffer[marks] == NEWLINE)
    ends = marks[newline_marks]
    starts = np.r_[0, ends[:-1] + 1]
    comma_marks = np.r_[0, newline_marks[:-1] + 1]
    with_return, shown_ends = np.zeros(len(ends), dtype=bool), ends
    if b"\r" in data:  # the handlers see what a terminal shows: the text after the last \r
        returns = np.flatnonzero(buffer == CARRIAGE_RETURN)
        line_of = np.searchsorted(ends, returns)
        crlf = returns == ends[line_of] - 1  # a CRLF line end: the text ends before it
        with_return[line_of[~crlf]] = True
        shown_ends = ends.copy()
        shown_ends[line_of[crlf]] -= 1
    readable = (starts >= MARGIN) & (ends + MARGIN <= len(data)) & ~with_return
    lines = Lines(
        Windows(data), starts, shown_ends, buffer[starts], newline_marks - comma_marks, comma_marks, marks, readable
    )
    found = [read_regular(printf.parts, lines) for printf in PRINTFS]
    by_kind = {}
    for kind in KINDS:
        by_kind[kind] = merged([(i, found[i]) for i, printf in enumerate(PRINTFS) if printf.kind == kind])
    maybe = handled[lines.first_bytes]
    for rows in by_kind.values():
        maybe[rows.lines] = False
    maybe = np.flatnonzero(maybe)
    slow = with_return
    slow[maybe] |= ~inert(lines, maybe)
    return SortedChunk(starts, ends, np.flatnonzero(slow), by_kind)


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


def inert(lines: Lines, which: np.ndarray) -> np.ndarray:
    """Which of the lines `which` (indices) their handler provably finds nothing in."""
    first = lines.first_bytes[which]
    head = lines.windows.at(lines.starts[which])
    no_comma = lines.commas[which] == 0
    second = word(head, 1) & 0xFF
    second_is_digit = (second >= ord("0")) & (second <= ord("9"))
    indented = first == ord(" ")
    useful_indented = second_is_digit & ~no_comma
    for prefix in INDENTED:
        useful_indented |= matches(head, 0, prefix)
    inert = ((first >= ord("0")) & (first <= ord("9")) | (first == ord("R"))) & no_comma | indented & ~useful_indented
    for byte, prefix in HANDLER_PREFIXES.items():
        inert |= (first == byte) & ~matches(head, 0, prefix[:16])
    return inert


def earlier_words(windows: Windows, ends: np.ndarray) -> Earlier:
    """For a subset of the tokens ending at `ends`, the word 8 bytes before each end."""
    return words_at(windows, ends - 16)


def words_at(windows: Windows, positions: np.ndarray) -> Earlier:
    """For a subset of `positions`, the 8 bytes at each."""
    return lambda subset: word(windows.at(positions[subset]), 0)


def literal_fits(lines: Lines, at: np.ndarray, windows: np.ndarray, literal: bytes) -> np.ndarray:
    """Whether `literal` is at `at` (`windows` holds the bytes from `at - 8`); beyond 16
    bytes the rest is compared 16 bytes at a time."""
    fits = matches(windows, 8, literal[:16])
    for offset in range(16, len(literal), 16):
        fits &= matches(lines.windows.at(at + offset), 0, literal[offset : offset + 16])
    return fits


def read_regular(parts: tuple, lines: Lines) -> Rows:
    """The lines that are exactly the printf `parts` (literals alternating with named fields),
    and their fields. Each literal is found from the comma it contains, from the newline when
    it ends the line, or else where the field before it stops being a number. One window per
    literal holds it and the word ending the field before it."""
    literals, fields = parts[0::2], parts[1::2]
    lead = literals[0][:1]
    first_byte_fits = (
        (lines.first_bytes == lead[0]) if lead else (lines.first_bytes >= ord("0")) & (lines.first_bytes <= ord("9"))
    )
    commas = sum(literal.count(b",") for literal in literals)
    candidates = np.flatnonzero(first_byte_fits & (lines.commas == commas) & lines.readable)
    starts = lines.starts[candidates]
    head = lines.windows.at(starts - 8)
    fits = literal_fits(lines, starts, head, literals[0])
    field_start, comma, values = starts + len(literals[0]), 0, {}
    for index, (literal, (name, kind)) in enumerate(zip(literals[1:], fields), start=1):
        if b"," in literal:
            at = lines.marks[lines.comma_marks[candidates] + comma] - literal.index(b",")
            comma += literal.count(b",")
        elif index == len(literals) - 1:
            at = lines.ends[candidates] - len(literal)
        else:  # the first 8 bytes of the field are in the head window when the line starts so
            if index == 1 and len(literals[0]) <= 8:
                first = word(head, 8 + len(literals[0]))
            else:
                first = word(lines.windows.at(field_start), 0)
            at = field_start + number_run(first, words_at(lines.windows, field_start + 8))
        windows = lines.windows.at(at - 8)
        fits &= (at > field_start) & literal_fits(lines, at, windows, literal)
        parse = choices(kind) if isinstance(kind, tuple) else PARSE[kind]
        values[name], parsed = parse(word(windows, 0), at - field_start, earlier_words(lines.windows, at))
        fits &= parsed
        field_start = at + len(literal)
    keep = np.flatnonzero(fits)
    return Rows(candidates[keep], np.zeros(keep.size, dtype=np.int64), {n: v[keep] for n, v in values.items()})
