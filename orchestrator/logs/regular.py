"""The two lines that fill a pjreddie log, recognised and read in bulk.

A YOLOv3 pjreddie log is one `Region …` line per layer and subdivision plus one `N: loss, …`
line per iteration, each from a fixed printf (`lines.REGION_V3_PRINTF`, `formats.PJREDDIE_PRINTF`).
A chunk's lines are sorted out with array operations on the positions of its commas and
newlines: a line is *regular* when every literal byte of its format is in place and every field
parses (`swar`), and its values are then read together with those of all other regular lines.
Lines a handler could still use are listed as *slow*, for the parser's regular expressions.
A regular line is one its regular expression accepts with the same fields, so which way a line
goes never changes the result, only the time it takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.logs import lines as L
from orchestrator.logs.formats import PJREDDIE_PRINTF
from orchestrator.logs.swar import Earlier, Windows, digit_run, fixed_point, integers, matches, word

COMMA, NEWLINE, CARRIAGE_RETURN = ord(","), ord("\n"), ord("\r")
DIGITS = np.arange(ord("0"), ord("9") + 1)
#: First bytes whose handlers' patterns all contain a comma (ITERATION, HANK_ITERATION,
#: REGION_V3, REGION_V2): such a line without a comma is inert (`Resizing`, `448`).
NEED_A_COMMA = np.array([ord("R"), *DIGITS])
#: An `L` line is only of use when it is the banner (`Loaded: …` is not).
BANNER_START = L.BANNER[:16]
#: Regular lines keep this far from both ends of the chunk, so that every window read for
#: them (from 16 bytes before a token's end to 16 bytes after a literal) is inside it.
MARGIN = 16
PARSE = {L.INT: integers, L.FIXED: fixed_point}
#: Literals of the two printfs, one of which any chunk with a regular line contains: without
#: them (AlexeyAB, hank-ai) a chunk is not worth sorting.
SIGNS = (b" Avg IOU: ", b" avg, ")


@dataclass
class Rows:
    """The regular lines of one format: their indices in the chunk and their fields."""

    lines: np.ndarray
    fields: dict[str, np.ndarray]


@dataclass
class SortedChunk:
    """A chunk's lines (`data[starts[i]:ends[i]]`, `ends` at the newlines) sorted out."""

    starts: np.ndarray
    ends: np.ndarray
    slow: np.ndarray
    region: Rows
    iterations: Rows

    def irregular(self) -> np.ndarray:
        """Mask of the lines that are not regular."""
        mask = np.ones(len(self.ends), dtype=bool)
        mask[self.region.lines] = False
        mask[self.iterations.lines] = False
        return mask


@dataclass
class Excerpt:
    """Some of a chunk's lines joined into `text`: each run of consecutive lines starts at
    `offsets[k]` in it and is line `first_lines[k]` of the chunk."""

    text: bytes
    offsets: np.ndarray
    first_lines: np.ndarray

    @classmethod
    def whole(cls, data: bytes) -> Excerpt:
        return cls(data, np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))

    def line_of(self, position: int) -> int:
        """The chunk's index of the line holding `text[position]`."""
        run = int(np.searchsorted(self.offsets, position, side="right")) - 1
        start = int(self.offsets[run])
        return int(self.first_lines[run]) + self.text.count(b"\n", start, position)


def excerpt(data: bytes, ends: np.ndarray, keep: np.ndarray) -> Excerpt:
    """The lines of `data` (newlines at `ends`) where `keep` is True, whole lines joined."""
    if keep.all():
        return Excerpt.whole(data)
    edges = np.flatnonzero(np.diff(np.r_[False, keep, False].view(np.int8)))
    first, stop = edges[0::2], edges[1::2]  # runs of kept lines: [first, stop)
    begins = np.r_[0, ends[:-1] + 1][first]
    finishes = ends[stop - 1] + 1
    text = b"".join([data[a:b] for a, b in zip(begins.tolist(), finishes.tolist())])
    return Excerpt(text, np.r_[0, np.cumsum(finishes - begins)[:-1]], first)


@dataclass
class Lines:
    """Where a chunk's lines and commas are, shared by the format matchers."""

    windows: Windows
    starts: np.ndarray
    ends: np.ndarray
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
    with_return = np.zeros(len(ends), dtype=bool)
    if b"\r" in data:  # the handlers see what a terminal shows: the text after the last \r
        with_return[np.searchsorted(ends, np.flatnonzero(buffer == CARRIAGE_RETURN))] = True
    readable = (starts >= MARGIN) & (ends + MARGIN <= len(data)) & ~with_return
    lines = Lines(
        Windows(data), starts, ends, buffer[starts], newline_marks - comma_marks, comma_marks, marks, readable
    )
    region = read_regular(L.REGION_V3_PRINTF, lines)
    iterations = read_regular(PJREDDIE_PRINTF, lines)
    slow = handled[lines.first_bytes] & ~inert(lines) | with_return
    slow[region.lines] = False
    slow[iterations.lines] = False
    return SortedChunk(starts, ends, np.flatnonzero(slow), region, iterations)


def worth_sorting(data: bytes) -> bool:
    """Whether `data` may hold regular lines at all (two substring searches)."""
    return any(sign in data for sign in SIGNS)


def inert(lines: Lines) -> np.ndarray:
    """Lines whose handler provably finds nothing in them."""
    no_comma = np.isin(lines.first_bytes, NEED_A_COMMA) & (lines.commas == 0)
    maybe_banner = np.flatnonzero(lines.first_bytes == ord("L"))
    not_banner = np.zeros(len(lines.starts), dtype=bool)
    not_banner[maybe_banner] = ~matches(lines.windows.at(lines.starts[maybe_banner]), 0, BANNER_START)
    return no_comma | not_banner


def earlier_words(windows: Windows, ends: np.ndarray) -> Earlier:
    """For a subset of the tokens ending at `ends`, the word 8 bytes before each end."""
    return lambda subset: word(windows.at(ends[subset] - 16), 0)


def read_regular(printf: tuple, lines: Lines) -> Rows:
    """The lines that are exactly `printf` (literals of at most 16 bytes alternating with
    named fields), and their fields. Each literal is found from the comma it contains, from
    the newline when it ends the line, or else after the digits of the line's first field.
    One window per literal holds it and the word ending the field before it."""
    literals, fields = printf[0::2], printf[1::2]
    lead = literals[0][:1]
    first_byte_fits = (lines.first_bytes == lead[0]) if lead else np.isin(lines.first_bytes, DIGITS)
    commas = sum(b"," in literal for literal in literals)
    candidates = np.flatnonzero(first_byte_fits & (lines.commas == commas) & lines.readable)
    starts = lines.starts[candidates]
    head = lines.windows.at(starts)
    fits = matches(head, 0, literals[0])
    field_start, comma, values = starts + len(literals[0]), 0, {}
    for index, (literal, (name, kind)) in enumerate(zip(literals[1:], fields), start=1):
        if b"," in literal:
            at = lines.marks[lines.comma_marks[candidates] + comma] - literal.index(b",")
            comma += 1
        elif index == len(literals) - 1:
            at = lines.ends[candidates] - len(literal)
        elif index == 1:
            at = field_start + digit_run(word(head, len(literals[0])))
        else:
            raise ValueError(f"no way to find {literal!r} in a line")
        windows = lines.windows.at(at - 8)
        fits &= (at > field_start) & matches(windows, 8, literal)
        values[name], parsed = PARSE[kind](word(windows, 0), at - field_start, earlier_words(lines.windows, at))
        fits &= parsed
        field_start = at + len(literal)
    if fits.all():
        return Rows(candidates, values)
    keep = np.flatnonzero(fits)
    return Rows(candidates[keep], {name: column[keep] for name, column in values.items()})
