"""The compiled scanner against Python's own reading: numbers exactly as `float()`/`int()` read
printf's text, nothing else accepted; escapes removed exactly as a regular expression does."""

from __future__ import annotations

import math
import re
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.logs.lines import FIXED, INT, Printf
from orchestrator.logs.scan import (
    LINES_WITH_ROOM,
    WITH_COMMA,
    WITH_RETURN,
    WITHOUT_COMMA,
    Programs,
    field_column,
    lines_with,
    strip_escapes,
)

#: One line per token: `x <token>, <int>; <word>`.
PROGRAMS = Programs(
    (
        Printf(
            "test", "test", (b"x ", ("number", FIXED), b", ", ("count", INT), b"; ", ("unit", (b"hour", b"hours")), b"")
        ),
    )
)
#: What Darknet's printf writes, as the scanner must accept it: `%d` and `%f`-like decimals.
DECIMAL = re.compile(rb"-?(?:nan|\d+(?:\.\d+)?)")
INTEGER = re.compile(rb"0|[1-9]\d*")
#: The escapes a terminal would act on, as the parser removed them before the scanner existed.
TERMINAL_ESCAPES = re.compile(rb"\x1b\][^\x07\n]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[A-Za-z]")


def read_one(line: bytes) -> tuple[float, int, int] | None:
    scan = PROGRAMS.scan(line + b"\n")
    assert len(scan.status) == 1
    if scan.status[0] < 0:
        return None
    columns = [field_column(scan.fields, column, kind) for column, kind in enumerate((FIXED, INT, INT))]
    return float(columns[0][0]), int(columns[1][0]), int(columns[2][0])


def same_float(a: float, b: float) -> bool:
    return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))


TOKENS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15).flatmap(
        lambda value: st.sampled_from([b"%f" % value, b"%.3f" % value, b"%.1f" % value, b"%.0f" % value, b"%d" % value])
    ),
    st.text("0123456789.-nae+x ", min_size=0, max_size=20).map(str.encode),
)


@settings(max_examples=3000, deadline=None)
@given(token=TOKENS, count=st.text("0123456789-x", min_size=0, max_size=18).map(str.encode))
def test_numbers_are_read_exactly_as_python_reads_printf_text(token, count):
    line = b"x " + token + b", " + count + b"; hours"
    read = read_one(line)
    expected = DECIMAL.fullmatch(token) and len(token) <= 16 and INTEGER.fullmatch(count) and len(count) <= 16
    assert (read is not None) == bool(expected), line
    if read is not None:
        assert same_float(read[0], float(token)) and read[1] == int(count) and read[2] == 1


def test_choices_comma_and_carriage_return_statuses():
    assert read_one(b"x 1.5, 3; hour") == (1.5, 3, 0)
    assert read_one(b"x 1.5, 3; hourss") is None and read_one(b"x 1.5, 3; hour ") is None
    assert math.isnan(read_one(b"x -nan, 0; hour")[0])
    scan = PROGRAMS.scan(b"x 1.5, 3; hour\r\nno comma\nwith, comma\nx 1\r5, 3; hour\n")
    assert scan.status.tolist() == [0, WITHOUT_COMMA, WITH_COMMA, WITH_RETURN]
    assert scan.starts.tolist() == [0, 16, 25, 37] and scan.ends.tolist() == [15, 24, 36, 51]
    assert scan.heads[1] == int.from_bytes(b"no comma", "little")
    assert scan.heads[3] == int.from_bytes(b"x 1\r5, 3", "little")
    assert scan.others == b"no comma\nwith, comma\nx 1\r5, 3; hour\n"
    assert PROGRAMS.scan(b"ab\n").heads[0] == int.from_bytes(b"ab", "little")  # zeros past the end


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from([b"\x1b", b"[", b"]", b"\x07", b"\\", b"\n", b"0", b"1;", b"?", b"m", b"A", b"x"])))
def test_escapes_are_removed_exactly_as_the_regular_expression_removes_them(pieces):
    data = b"".join(pieces)
    assert strip_escapes(data) == TERMINAL_ESCAPES.sub(b"", data)


def test_lines_with_a_text_one_per_line_however_many():
    text = b"ok\nout of memory, out of memory\nfine\nlast out of memory"
    assert lines_with(text, b"out of memory").tolist() == [3, 37]
    assert lines_with(text, b"absent").tolist() == []
    many = b"\x00\n" * (LINES_WITH_ROOM * 3)  # more than the first call makes room for
    assert lines_with(many, b"\x00").tolist() == list(range(0, len(many), 2))


def test_a_chunk_of_lines_shorter_than_expected_is_counted_and_scanned_again():
    short = b"x 1.5, 3; hour\n" + b"\n" * 200 + b"x 2.5, 4; hours\n"  # 202 lines in 231 bytes
    scan = PROGRAMS.scan(short)
    assert len(scan.status) == 202 and scan.status[[0, -1]].tolist() == [0, 0]
    assert field_column(scan.fields, 0, FIXED).tolist() == [1.5, 2.5]
    assert field_column(scan.fields, 2, INT).tolist() == [0, 1]  # hour, hours
