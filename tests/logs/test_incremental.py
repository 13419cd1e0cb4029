"""Incremental parsing equals a full parse after random appends, cuts and replacements."""

from __future__ import annotations

import json
import os

from conftest import REFDATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.logs import cache as cache_module
from orchestrator.logs import parse_bytes, parse_file
from orchestrator.logs.model import ParsedLog

LOGS = REFDATA / "logs"
SAMPLE_LINES = (
    b"Learning Rate: 0.001, Momentum: 0.9, Decay: 0.0005\n",
    b"Region 82 Avg IOU: 0.5, Class: 0.6, Obj: 0.7, No Obj: 0.01, .5R: 0.5, .75R: -nan,  count: 2\n",
    b"Region 94 Avg IOU: -nan, Class: -nan, Obj: -nan, No Obj: 0.02, .5R: -nan, .75R: -nan,  count: 0\n",
    b" (next mAP calculation at 1000 iterations) \x1b]2;7/10: loss=1.2\x07\r\n",
    b"class_id = 0, name = fire, ap = 49.98%   \t (TP = 47, FP = 156) \r\n",
    b" mean average precision (mAP@0.50) = 0.446338, or 44.63 % \r\n",
    b" Last accuracy mAP@0.5 = 44.63 %, best = 48.12 % \r\n",
    b"2: -nan, -nan avg, 0.000010 rate, 0.2 seconds, 6000 images\n",
    b"Darknet error location: ./src/parser.c, parse_yolo(), line #458\n",
)


def sample_log(choices: list[int]) -> bytes:
    """A log mixing every line kind, iterations counting up with occasional resumes."""
    out, iteration = [], 0
    for step, choice in enumerate(choices):
        out.append(SAMPLE_LINES[choice % len(SAMPLE_LINES)])
        iteration = iteration + 1 if choice % 5 else max(1, iteration - 3)
        out.append(
            b"%d: %d.5, %d.25 avg, 0.001000 rate, 1.5 seconds, %d images\n" % (iteration, step, step, 64 * iteration)
        )
    return b"".join(out)


def canonical(log: ParsedLog) -> str:
    """Everything parsed, as text (repr keeps NaN comparable)."""
    return repr(
        (
            log.summary(),
            {k: list(v) for k, v in log.series.items()},
            {layer: {k: list(v) for k, v in cols.items()} for layer, cols in log.region.items()},
            log.map_points,
            log.lines,
        )
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choices=st.lists(st.integers(0, 50), min_size=1, max_size=60), cuts=st.lists(st.floats(0, 1), max_size=6))
def test_random_appends_equal_full_parse(tmp_path_factory, choices, cuts):
    folder = tmp_path_factory.mktemp("inc")
    data = sample_log(choices)
    log_path, cache = folder / "1.log", folder / "cache.json"
    log_path.write_bytes(b"")
    written = 0
    for cut in sorted(int(c * len(data)) for c in cuts) + [len(data)]:
        with open(log_path, "ab") as handle:
            handle.write(data[written:cut])
        written = max(written, cut)
        assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(data[:written]))


def test_cache_reads_only_new_bytes(tmp_path, monkeypatch):
    from orchestrator.logs import cache as cache_module

    real = (LOGS / "pjreddie-yolov3-voc.log").read_bytes()
    log_path, cache = tmp_path / "7.log", tmp_path / "c.json"
    log_path.write_bytes(real[:1_000_000])
    parse_file(log_path, cache)
    fed: list[int] = []
    original = cache_module.LogParser.feed
    monkeypatch.setattr(
        cache_module.LogParser, "feed", lambda self, data: (fed.append(len(data)), original(self, data))
    )
    log_path.write_bytes(real)
    result = parse_file(log_path, cache)
    assert sum(fed) < len(real) - 990_000  # only the appended part (from the last newline)
    assert result.iterations == 6000 and result.row(-1)["avg_loss"] == 0.752329


def test_truncated_or_replaced_log_is_reread(tmp_path):
    real = (LOGS / "pjreddie-yolov3-voc.log").read_bytes()
    log_path, cache = tmp_path / "7.log", tmp_path / "c.json"
    log_path.write_bytes(real)
    assert parse_file(log_path, cache).iterations == 6000
    log_path.write_bytes(real[:50_000])  # truncated
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real[:50_000]))
    other = real[:50_000].replace(b"avg, 0.00", b"avg, 0.01")  # replaced, same size
    log_path.write_bytes(other)
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(other))


def test_append_writes_only_the_new_values(tmp_path, monkeypatch):
    from orchestrator.logs import cache as cache_module

    real = (LOGS / "pjreddie-yolov3-voc.log").read_bytes()
    cut = real.index(b"\n", 2_000_000) + 1
    log_path, cache = tmp_path / "7.log", tmp_path / "c.json"
    log_path.write_bytes(real[:cut])
    parse_file(log_path, cache)
    written: list[int] = []
    pwrite = cache_module.os.pwrite
    monkeypatch.setattr(
        cache_module.os, "pwrite", lambda fd, data, at: (written.append(len(data)), pwrite(fd, data, at))[1]
    )
    log_path.write_bytes(real)
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))
    saved = (tmp_path / "c.json.columns").stat().st_size
    assert 0 < sum(written) < 0.25 * saved  # the last 1200 iterations of 6000
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))


def test_short_or_missing_column_file_costs_a_reread(tmp_path):
    real = (LOGS / "pjreddie-yolov3-voc.log").read_bytes()[:300_000]
    log_path, cache = tmp_path / "7.log", tmp_path / "c.json"
    log_path.write_bytes(real)
    parse_file(log_path, cache)
    columns = tmp_path / "c.json.columns"
    size = columns.stat().st_size
    with open(columns, "ab") as handle:  # longer: only the saved part
        handle.write(b"\1" * 80)
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))
    os.truncate(columns, size - 8)  # short
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))
    columns.unlink()  # gone
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))


def test_map_points_file_appended_and_checked(tmp_path):
    """mAP points go to their own file, appended to: `orch status` neither reads nor rewrites
    them. A longer file counts only its saved part; a short or missing one, a re-read."""
    real = (LOGS / "alexeyab-tiny-yolov3-map-crlf.log").read_bytes()
    cut = real.index(b"\n", len(real) // 2) + 1
    log_path, cache, points = tmp_path / "7.log", tmp_path / "c.json", tmp_path / "c.json.points"
    log_path.write_bytes(real[:cut])
    half = parse_file(log_path, cache)
    assert half.map_points and points.read_bytes().count(b"\n") == len(half.map_points)
    log_path.write_bytes(real)
    cache_module.progress_file(log_path, cache)  # appends the second half's points unread
    assert points.read_bytes().count(b"\n") == len(parse_bytes(real).map_points)
    with open(points, "ab") as handle:
        handle.write(b'{"iteration": 1}\n')
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))
    os.truncate(points, points.stat().st_size - 30)
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))
    points.unlink()
    assert cache_module.progress_file(log_path, cache)[1].iterations == parse_bytes(real).iterations
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))


def test_many_appends_keep_the_cache_exact(tmp_path):
    """Past the segment limit the column file is rewritten as one segment."""
    real = (LOGS / "pjreddie-yolov3-voc.log").read_bytes()[:400_000]
    log_path, cache = tmp_path / "7.log", tmp_path / "c.json"
    log_path.write_bytes(b"")
    cuts = [real.index(b"\n", 5_000 * step) + 1 for step in range(1, 70)] + [len(real)]
    for cut in cuts:
        log_path.write_bytes(real[:cut])
        parse_file(log_path, cache)
        assert len(json.loads(cache.read_text())["segments"]) <= cache_module.MAX_SEGMENTS
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))


def test_status_pickups_compact_the_column_file_too(tmp_path):
    """`orch status` appends a segment per pickup without reading the columns; once there are
    MAX_SEGMENTS of them it reads them once and rewrites the file as one segment."""
    real = (LOGS / "pjreddie-yolov3-voc.log").read_bytes()[:400_000]
    log_path, cache = tmp_path / "7.log", tmp_path / "c.json"
    cuts = [real.index(b"\n", 5_000 * step) + 1 for step in range(1, 70)] + [len(real)]
    for cut in cuts:
        log_path.write_bytes(real[:cut])
        assert cache_module.progress_file(log_path, cache)[1].iterations == parse_bytes(real[:cut]).iterations
        assert len(json.loads(cache.read_text())["segments"]) <= cache_module.MAX_SEGMENTS
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))


def test_damaged_cache_costs_a_reread(tmp_path):
    log_path, cache = tmp_path / "7.log", tmp_path / "c.json"
    log_path.write_bytes(b"1: 1.0, 1.0 avg, 0.1 rate, 1.0 seconds, 64 images\n")
    cache.write_bytes(b"not json")
    assert parse_file(log_path, cache).iterations == 1


def test_cache_is_plain_json_and_a_planted_pickle_runs_nothing(tmp_path):
    """The cache holds values, not objects: a pickle put in its place (here one that would
    create a file when unpickled) is an unreadable cache, re-read from the log."""
    log_path, cache = tmp_path / "7.log", tmp_path / "c.json"
    log_path.write_bytes(b"1: 1.0, 1.0 avg, 0.1 rate, 1.0 seconds, 64 images\n")
    parse_file(log_path, cache)
    assert json.loads(cache.read_text())["offset"] == log_path.stat().st_size
    planted = tmp_path / "planted"
    cache.write_bytes(b"cos\nsystem\n(S'touch %s'\ntR." % str(planted).encode())
    assert parse_file(log_path, cache).iterations == 1
    assert not planted.exists()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choices=st.lists(st.integers(0, 50), min_size=1, max_size=60), steps=st.lists(st.booleans(), max_size=8))
def test_status_pickups_without_columns_keep_the_cache_exact(tmp_path_factory, choices, steps):
    """`progress_file` (what orch status pays) appends to the cache without reading it; a
    later full parse from that cache equals a parse of the whole log, and the ends it
    reports are the log's."""
    folder = tmp_path_factory.mktemp("progress")
    data = sample_log(choices)
    log_path, cache = folder / "1.log", folder / "c.json"
    cuts = [len(data) * (k + 1) // (len(steps) + 1) for k in range(len(steps))] + [len(data)]
    for cut, full in zip(cuts, [*steps, True]):
        log_path.write_bytes(data[:cut])
        expected = parse_bytes(data[:cut])
        if full:
            assert canonical(parse_file(log_path, cache)) == canonical(expected)
        else:
            log, ends = cache_module.progress_file(log_path, cache)
            last = expected.row(-1) if expected.iterations else None
            assert repr((ends.iterations, ends.last)) == repr((expected.iterations, last))  # NaN included
            assert (log.restarts, log.errors) == (expected.restarts, expected.errors)


def test_status_pickup_with_a_short_column_file_rereads_the_log(tmp_path):
    real = (LOGS / "pjreddie-yolov3-voc.log").read_bytes()
    cut = real.index(b"\n", 200_000) + 1
    log_path, cache = tmp_path / "7.log", tmp_path / "c.json"
    log_path.write_bytes(real[:cut])
    parse_file(log_path, cache)
    os.truncate(tmp_path / "c.json.columns", 1000)
    log_path.write_bytes(real[: cut + 100_000])
    assert cache_module.progress_file(log_path, cache)[1].iterations == parse_bytes(real[: cut + 100_000]).iterations
    log_path.write_bytes(real)
    assert canonical(parse_file(log_path, cache)) == canonical(parse_bytes(real))
