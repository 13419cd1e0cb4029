"""Progress of long work: a bar on a terminal, a plain line per quarter everywhere else.

The bar is tqdm's: one small pure-Python package without dependencies whose bar is a single
rewritten stderr line (rich would bring pygments and markdown-it-py for that one line). It is
imported only when a bar is actually drawn, so short commands and `orch --help` never load it.

Cron, CI and `orch watch` under nohup write to files, where a bar's carriage returns would pile
up as thousands of lines; there the same counter is written as a plain line each time a quarter
is crossed. Work that ends within `delay` seconds shows nothing in either mode: a bar flashing
for a tenth of a second is noise.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

DELAY_SECONDS = 1.0
QUARTERS = 4
MIB = 1 << 20


class Progress:
    """Counts `done` out of `total` (`unit`: "images", "runs", or "B" for bytes)."""

    def __init__(
        self,
        label: str,
        total: int,
        unit: str,
        stream: TextIO | None = None,
        delay: float = DELAY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.total, self.unit = label, max(total, 1), unit
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self.clock, self.shown_after = clock, clock() + delay
        self.done = 0
        self.next_quarter = 1
        self.bar: Any = None

    def update(self, done: int) -> None:
        """The count of work done so far (darknet's image counter, bytes parsed, runs drawn)."""
        self.done = min(done, self.total)
        if self.clock() < self.shown_after:
            return
        if self.live:
            bar = self._bar()
            bar.update(self.done - bar.n)
        elif self.done * QUARTERS >= self.next_quarter * self.total:
            self.stream.write(f"{self.label}: {self._amount(self.done)}/{self._amount(self.total)} {self._unit()}\n")
            self.stream.flush()
            self.next_quarter = self.done * QUARTERS // self.total + 1

    def advance(self, step: int = 1) -> None:
        self.update(self.done + step)

    def close(self) -> None:
        """Remove the bar so that the next message starts on a clean line."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _bar(self) -> Any:
        if self.bar is None:
            from tqdm import tqdm

            in_bytes = self.unit == "B"
            self.bar = tqdm(
                total=self.total,
                desc=self.label,
                unit=self.unit if in_bytes else f" {self.unit}",
                unit_scale=in_bytes,
                unit_divisor=1024,
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
                mininterval=0,  # updates come per chunk, run or darknet tick: each is worth drawing
            )
        return self.bar

    def _amount(self, count: int) -> str:
        return f"{count / MIB:.1f}" if self.unit == "B" else str(count)

    def _unit(self) -> str:
        return "MiB" if self.unit == "B" else self.unit
