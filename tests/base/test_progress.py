"""Progress: a tqdm bar on a terminal, a line per quarter in files, nothing for short work."""

from __future__ import annotations

import io

from orchestrator.base.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_file_gets_one_plain_line_per_quarter_after_the_delay():
    stream, clock = io.StringIO(), Clock()
    progress = Progress("r1 100 (valid)", 200, "images", stream=stream, delay=1.0, clock=clock)
    progress.update(10)  # within the delay: nothing
    clock.now = 2.0
    for done in range(20, 201, 10):
        progress.update(done)
    progress.close()
    assert stream.getvalue().splitlines() == [
        "r1 100 (valid): 50/200 images",
        "r1 100 (valid): 100/200 images",
        "r1 100 (valid): 150/200 images",
        "r1 100 (valid): 200/200 images",
    ]


def test_short_work_shows_nothing():
    stream = io.StringIO()
    with Progress("report: reading runs", 3, "runs", stream=stream, delay=60) as progress:
        for _ in range(3):
            progress.advance()
    assert stream.getvalue() == ""


def test_bytes_are_shown_in_mebibytes():
    stream = io.StringIO()
    progress = Progress("parsing logs", 8 << 20, "B", stream=stream, delay=0)
    progress.update(2 << 20)
    assert stream.getvalue() == "parsing logs: 2.0/8.0 MiB\n"


def test_a_terminal_gets_a_bar_rewritten_in_place_and_removed_at_the_end():
    stream, clock = Terminal(), Clock()
    progress = Progress("r1 final (valid)", 4, "images", stream=stream, delay=0, clock=clock)
    progress.update(3)
    drawn = stream.getvalue()
    assert "\r" in drawn and "r1 final (valid)" in drawn and "3/4" in drawn and "\n" not in drawn
    progress.close()
    assert progress.bar is None and "\n" not in stream.getvalue()
