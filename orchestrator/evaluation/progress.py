"""Showing darknet's image counter while `detector valid` runs (SPEC §9: long work shows progress).

On a terminal one line is rewritten in place; in a log file (cron, watch under nohup) a line
every quarter keeps the file readable instead of thousands of counter lines.
"""

from __future__ import annotations

import sys
from typing import TextIO

SPARSE_STEPS = 4


class ImageProgress:
    """Callable given to the darknet runner: receives darknet's counter (images loaded so far)."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None):
        self.label, self.total = label, max(total, 1)
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.next_report = 1

    def __call__(self, count: int) -> None:
        done = min(count, self.total)
        if self.live:
            self.stream.write(f"\r{self.label}: {done}/{self.total} images")
            self.stream.flush()
        elif done * SPARSE_STEPS >= self.next_report * self.total:
            self.stream.write(f"{self.label}: {done}/{self.total} images\n")
            self.stream.flush()
            self.next_report = done * SPARSE_STEPS // self.total + 1

    def close(self) -> None:
        """End the live line so that the next message starts on its own line."""
        if self.live:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def count_images(list_file: str) -> int:
    """Images in a darknet image list (non-blank lines), the counter's 100 %."""
    try:
        with open(list_file, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return 0
