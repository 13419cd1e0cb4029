"""`orch log` streams: its summary and CSV equal those of the whole parsed log, chunk after chunk."""

from __future__ import annotations

import io

import pytest
from conftest import REFDATA

from orchestrator.cli import main
from orchestrator.logs import cache, parse_paths, summarize_paths, write_series_csv
from orchestrator.logs.model import write_csv_header, write_csv_rows
from orchestrator.logs.parser import parse_bytes

from .generated import gdarknet_log, hank_ai_log
from .test_incremental import canonical

LOGS = REFDATA / "logs"


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 64 KB, so that a real log is streamed in dozens of pieces."""
    monkeypatch.setattr(cache, "CHUNK_BYTES", 64 << 10)


@pytest.fixture
def fork_logs(tmp_path):
    paths = []
    for name, data in (("g-darknet.log", gdarknet_log()[:500_000]), ("hank-ai.log", hank_ai_log()[:300_000])):
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    return paths


@pytest.mark.parametrize(
    "names",
    [
        ["pjreddie-yolov3-voc.log"],
        ["alexeyab-tiny-yolov3-map-crlf.log"],
        ["alexeyab-yolov3-map-title-escapes.log", "alexeyab-tiny-yolov3-map-crlf.log", "pjreddie-yolov3-voc.log"],
    ],
)
def test_streamed_summary_and_csv_equal_the_parsed_log(small_chunks, names):
    paths = [LOGS / name for name in names]
    whole = parse_paths(paths)
    assert summarize_paths(paths) == whole.summary()
    out = io.StringIO()
    write_series_csv(paths, out)
    reference = io.StringIO()
    write_csv_header(reference)
    write_csv_rows(reference, whole.series)
    assert out.getvalue() == reference.getvalue()
    assert out.getvalue().count("\n") == whole.iterations + 1


def test_streamed_fork_logs(small_chunks, fork_logs):
    whole = parse_paths(fork_logs)
    assert summarize_paths(fork_logs) == whole.summary()
    assert whole.summary()["format"] == "g-darknet" and len(whole.restarts) == 1


def test_orch_log_csv_of_a_missing_second_file_writes_nothing(capsys):
    assert main(["log", str(LOGS / "pjreddie-yolov3-voc.log"), "no-such.log", "--csv"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "orch: error: no such log file (no-such.log)\n"


def test_orch_log_prints_the_summary(capsys):
    assert main(["log", "--json", str(LOGS / "alexeyab-yolov3-map-title-escapes.log")]) == 0
    out = capsys.readouterr().out
    assert '"iterations": 2497' in out and '"map": 0.866229' in out


@pytest.mark.parametrize(
    "name", ["pjreddie-yolov3-voc.log", "alexeyab-tiny-yolov3-map-crlf.log", "alexeyab-yolov3-map-title-escapes.log"]
)
def test_chunks_prepared_ahead_in_a_thread_parse_as_one_feed(small_chunks, name):
    """Reading a file prepares the next chunk in a worker thread while the parser takes in
    the current one: the result is that of the whole log fed at once, offsets included."""
    progress: list[int] = []
    parsed = cache.parse_file(LOGS / name, on_progress=progress.append)
    data = (LOGS / name).read_bytes()
    assert canonical(parsed) == canonical(parse_bytes(data))
    assert len(progress) > 3 and progress[-1] == data.rfind(b"\n") + 1
    assert all(data[offset - 1 : offset] == b"\n" for offset in progress)
