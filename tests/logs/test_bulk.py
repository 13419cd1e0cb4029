"""The bulk path (regular lines read with arrays) gives exactly what the line-by-line path gives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import REFDATA
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.logs.model import ParsedLog, StagedAppends
from orchestrator.logs.parser import HANDLED, LogParser, as_shown
from orchestrator.logs.regular import sort_lines

from .generated import gdarknet_log, hank_ai_log

LOGS = REFDATA / "logs"
REAL_LOGS = sorted(p for p in LOGS.rglob("*") if p.suffix in (".log", ".txt"))

REGION = (
    b"Region %d Avg IOU: %s, Class: 0.620637, Obj: 0.995631, No Obj: 0.004994, .5R: 1.000000, .75R: %s,  count: %d\n"
)
ITERATION = b"%d: %s, %s avg, 0.001000 rate, 0.196614 seconds, %d images\n"


def parse(data: bytes, bulk: bool, pieces: int = 1) -> ParsedLog:
    """Feed whole lines in `pieces` chunks, like the cache does, and keep the partial line."""
    parser = LogParser(bulk=bulk)
    cut = data.rfind(b"\n") + 1
    bounds = np.linspace(0, cut, pieces + 1).astype(int)
    for start, end in zip(bounds[:-1], bounds[1:]):
        start, end = data.rfind(b"\n", 0, start) + 1, data.rfind(b"\n", 0, end) + 1
        parser.feed(data[start:end])
    return parser.result(data[cut:])


def assert_identical(fast: ParsedLog, slow: ParsedLog) -> None:
    """Bit for bit: columns compared as bytes (NaN payloads and signs included)."""
    assert {k: v.tobytes() for k, v in fast.series.items()} == {k: v.tobytes() for k, v in slow.series.items()}
    assert list(fast.region) == list(slow.region)
    for layer, columns in slow.region.items():
        assert {k: v.tobytes() for k, v in fast.region[layer].items()} == {
            k: v.tobytes() for k, v in columns.items()
        }, layer
    assert repr((fast.summary(), fast.map_points, fast.lines)) == repr((slow.summary(), slow.map_points, slow.lines))


def generated_log() -> bytes:
    """pjreddie YOLOv3 lines with NaN losses and IoUs, a resume, resize lines, odd values
    (negative, long, leading zeros) and a truncated last line."""
    out = [b"yolov3\nLearning Rate: 0.001, Momentum: 0.9, Decay: 0.0005\n"]
    iteration = 0
    for step in range(400):
        iteration = iteration + 1 if step % 97 else max(1, iteration - 5)
        if step % 97 == 0 and step:
            out.append(b"Learning Rate: 0.001, Momentum: 0.9, Decay: 0.0005\n")
        if step % 10 == 0:
            out.append(b"Resizing\n%d\n" % (320 + 32 * (step % 10)))
        out.append(b"Loaded: 0.000034 seconds\n")
        for sub in range(2):
            for layer in (82, 94, 106):
                iou = b"-nan" if (step + layer + sub) % 7 == 0 else b"0.%06d" % (step * 7919 % 10**6)
                r75 = b"nan" if step % 13 == 0 else b"0.500000"
                out.append(REGION % (layer, iou, r75, (step + sub) % 9))
        loss = b"-nan" if 150 <= step < 153 else b"%d.%06d" % (step % 3000, step * 31 % 10**6)
        avg = b"nan" if 150 <= step < 155 else b"-%d.121626" % (step % 2) if step % 50 == 7 else b"123456789.000001"
        out.append(ITERATION % (iteration, loss, avg, 64 * iteration * 10 ** (step % 11)))
    out.append(b"Region 82 Avg IOU: 0.5, Class: 0.6, Obj")  # truncated
    return b"".join(out)


@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_refdata_logs_bulk_equals_line_by_line(path):
    data = path.read_bytes()
    assert_identical(parse(data, bulk=True), parse(data, bulk=False))
    assert_identical(parse(data, bulk=True, pieces=7), parse(data, bulk=False))


@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_values_staged_and_appended_every_few_kilobytes_land_in_order(path, monkeypatch):
    """Bulk-read values wait in numpy pieces before their columns grow (StagedAppends); flushed
    after every few of them, in the middle of chunks, the columns are those of the reference."""
    monkeypatch.setattr(StagedAppends, "FLUSH_BYTES", 4096)
    data = path.read_bytes()
    assert_identical(parse(data, bulk=True, pieces=7), parse(data, bulk=False))


@pytest.mark.parametrize("make", [gdarknet_log, hank_ai_log], ids=["g-darknet", "hank-ai"])
def test_generated_fork_logs_bulk_equals_line_by_line(make):
    data = make()[:400_000]
    slow = parse(data, bulk=False)
    assert_identical(parse(data, bulk=True), slow)
    assert_identical(parse(data, bulk=True, pieces=5), slow)
    assert slow.iterations > 500 and slow.format == ("g-darknet" if make is gdarknet_log else "hank-ai")


def test_fork_lines_are_read_in_bulk():
    """g-darknet's v3 lines, hank-ai's iteration lines (both variants, every unit) and
    AlexeyAB's iteration and `Last accuracy` lines all take the bulk path."""
    for data, kinds in (
        (gdarknet_log()[:300_000], ("region", "iteration")),
        (hank_ai_log(), ("iteration",)),
        ((LOGS / "alexeyab-tiny-yolov3-map-crlf.log").read_bytes()[-300_000:], ("iteration", "accuracy")),
    ):
        shown = as_shown(data[data.find(b"\n") + 1 : data.rfind(b"\n") + 1])  # whole lines
        chunk = sort_lines(shown, HANDLED)
        lines = shown.split(b"\n")
        for kind in kinds:
            start = {"region": b"v3 (", "accuracy": b" Last accuracy"}.get(kind)
            wanted = sum(1 for line in lines if (line.startswith(start) if start else b" images" in line))
            assert len(chunk.rows[kind].lines) == wanted, kind


@pytest.mark.parametrize("pieces", [1, 3, 50])
def test_generated_log_with_nans_and_truncated_line(pieces):
    data = generated_log()
    fast, slow = parse(data, bulk=True, pieces=pieces), parse(data, bulk=False)
    assert_identical(fast, slow)
    assert slow.iterations == 400 and slow.restarts and slow.errors[-1]["kind"] == "truncated"
    assert [e["kind"] for e in slow.errors].count("nan-loss") == 1


def test_regular_lines_are_read_in_bulk():
    """Every region and iteration line of the generated log takes the bulk path, the chunk's
    first and last lines included; only the banners are left to the handlers."""
    data = generated_log()
    lines = data.split(b"\n")
    chunk = sort_lines(data[: data.rfind(b"\n") + 1], HANDLED)
    assert len(chunk.rows["region"].lines) == 400 * 6 and len(chunk.rows["iteration"].lines) == 400
    assert {lines[i][:8] for i in chunk.slow.tolist()} == {b"Learning"}


def mutated(line: bytes, position: int, byte: int, kind: int) -> bytes:
    """One byte of a line replaced, deleted or inserted (never its newline)."""
    if len(line) < 2:
        return line
    at = position % (len(line) - 1)
    if kind == 0:
        return line[:at] + bytes([byte]) + line[at + 1 :]
    if kind == 1:
        return line[:at] + line[at + 1 :]
    return line[:at] + bytes([byte]) + line[at:]


def outcome(data: bytes, bulk: bool) -> str | type:
    """The parse as comparable text, or the exception it raised: a line the regular
    expressions accept but `float()` refuses must fail the same way on both paths."""
    try:
        log = parse(data, bulk)
    except ValueError as error:
        return type(error)
    return repr(
        (
            {k: v.tobytes() for k, v in log.series.items()},
            {layer: {k: v.tobytes() for k, v in c.items()} for layer, c in log.region.items()},
            log.summary(),
            log.map_points,
            log.errors,
            log.lines,
        )
    )


LINE_BYTES = st.sampled_from(b"0123456789.,:- \tnaRrx\x00\r%()=esdL")


def fork_lines() -> dict[str, list[bytes]]:
    """200 lines of each fork's log (what the bulk path reads), newline included."""
    crlf = (LOGS / "alexeyab-tiny-yolov3-map-crlf.log").read_bytes()
    before_map = crlf[: crlf.index(b" mean average precision (mAP@")].rsplit(b"\n", 100)[0]
    sources = {
        "pjreddie": generated_log(),
        "g-darknet": gdarknet_log()[:60_000],
        "hank-ai": hank_ai_log()[:60_000],
        "alexeyab": crlf[crlf.index(b"Last accuracy") - 2000 :][:60_000],
        # an mAP block (per-class APs, the mAP line) in the middle, iteration lines around it
        "alexeyab-map": crlf[len(before_map) + 1 :][:60_000],
    }
    return {name: [line + b"\n" for line in data.split(b"\n")[:200]] for name, data in sources.items()}


FORK_LINES = fork_lines()


@settings(max_examples=400, deadline=None)
@given(
    fork=st.sampled_from(sorted(FORK_LINES)),
    edits=st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 200), LINE_BYTES, st.integers(0, 2)), min_size=1, max_size=8
    ),
)
def test_damaged_regular_lines_go_the_same_way(fork, edits):
    lines = list(FORK_LINES[fork])
    for line_index, position, byte, kind in edits:
        index = line_index % len(lines)
        lines[index] = mutated(lines[index], position, byte, kind)
    data = b"".join(lines)
    assert outcome(data, bulk=True) == outcome(data, bulk=False)


def test_an_infinite_statistic_is_left_out_of_the_means_however_the_log_is_cut():
    """A one-row group is its own mean, but an `inf` in it is dropped as in any other group:
    the first iteration's IOU is NaN whether its chunk also holds a two-row group or not."""
    region = b"Region 82 Avg IOU: %s, Class: 0.5, Obj: 0.5, No Obj: 0.1, .5R: 0.5, .75R: 0.5,  count: 1\n"
    iteration = b"%d: 1.0, 1.0 avg, 0.001000 rate, 1.0 seconds, 64 images\n"
    data = region % b"inf" + iteration % 1 + region % b"0.4" + region % b"0.4" + iteration % 2
    for pieces in (1, 2):
        iou = list(parse(data, bulk=True, pieces=pieces).region["82"]["iou"])
        assert math.isnan(iou[0]) and iou[1] == pytest.approx(0.4)
