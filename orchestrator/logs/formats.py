"""Each fork's training line (one per iteration), and how to read it: one handler per format.

A fork's log format is named by `darknet.forks.Fork.log_format`. Its handler reads one line
(after terminal escapes are removed) into an `Iteration`, or says it is not its line. A format
also spells out the printf(s) of its line (`printfs`): the bulk path reads such lines with
array operations, and a line goes the bulk way only when the handler would have read the same
fields from it. Adding a fork's format is one handler, its printfs and one entry here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from orchestrator.darknet import forks
from orchestrator.logs.lines import FIXED, INT, ITERATION, NUMBER, Fields, Printf

NAN = math.nan
#: hank-ai prints `time remaining=7 seconds`, or minutes, hours, days.
HOURS_PER = {b"second": 1 / 3600, b"minute": 1 / 60, b"hour": 1.0, b"day": 24.0}


class Iteration(NamedTuple):
    """One iteration line's fields (NaN, or -1 images, where the fork prints none)."""

    iteration: int
    loss: float
    avg_loss: float
    rate: float
    seconds: float
    images: int
    hours_left: float


@dataclass(frozen=True)
class LogFormat:
    """A fork's iteration line: `read` is the reference handler, `printfs` the exact formats
    the bulk path reads (fields named after the series columns)."""

    name: str
    read: Callable[[bytes], Iteration | None]
    printfs: tuple[Printf, ...] = ()


def _iteration_pattern(avg_word: bytes) -> re.Pattern[bytes]:
    """`N: loss, avg <avg_word>, rate rate, s seconds, K images[, H hours left]`."""
    return re.compile(
        rb"\s*(\d+): *("
        + NUMBER
        + rb"), *("
        + NUMBER
        + rb") "
        + avg_word
        + rb", *("
        + NUMBER
        + rb") rate, *("
        + NUMBER
        + rb") seconds, *(\d+) images(?:, *("
        + NUMBER
        + rb") hours left)?"
    )


def _printf_reader(pattern: re.Pattern[bytes]) -> Callable[[bytes], Iteration | None]:
    def read(line: bytes) -> Iteration | None:
        match = pattern.match(line)
        if match is None:
            return None
        iteration, loss, avg, rate, seconds, images, hours = match.groups()
        return Iteration(
            int(iteration),
            float(loss),
            float(avg),
            float(rate),
            float(seconds),
            int(images),
            NAN if hours is None else float(hours),
        )

    return read


def _printf(name: str, indent: bytes, avg_word: bytes, ending: tuple) -> Printf:
    """The iteration printf pjreddie wrote and AlexeyAB kept (`_iteration_pattern`'s line)."""
    head = (indent, ("iteration", INT), b": ", ("loss", FIXED), b", ", ("avg_loss", FIXED), b" " + avg_word + b", ")
    middle = (("rate", FIXED), b" rate, ", ("seconds", FIXED), b" seconds, ", ("images", INT))
    return Printf(ITERATION, name, (*head, *middle, *ending))


#: pjreddie and g-darknet: `printf("%ld: %f, %f avg, %f rate, %lf seconds, %d images\n")`.
PJREDDIE = LogFormat(
    forks.PJREDDIE.log_format,
    _printf_reader(_iteration_pattern(b"avg")),
    (_printf(forks.PJREDDIE.log_format, b"", b"avg", (b" images",)),),
)

#: AlexeyAB: ` N: loss, avg avg loss, rate rate, s seconds, K images, H hours left`.
ALEXEYAB = LogFormat(
    forks.ALEXEYAB.log_format,
    _printf_reader(_iteration_pattern(b"avg loss")),
    (_printf(forks.ALEXEYAB.log_format, b" ", b"avg loss", (b" images, ", ("hours_left", FIXED), b" hours left")),),
)

#: hank-ai: `N: loss=…, avg loss=…, rate=…, … milliseconds, K images, time remaining=…`;
#: newer versions add `last=…, best=…` fields, so the fields after `avg loss` are found by name.
HANK_ITERATION = re.compile(rb"\s*(\d+): loss=(" + NUMBER + rb"), avg loss=(" + NUMBER + rb")")
HANK_RATE = re.compile(rb"rate=(" + NUMBER + rb")")
HANK_MILLISECONDS = re.compile(rb"(" + NUMBER + rb") milliseconds")
HANK_IMAGES = re.compile(rb"(\d+) images")
HANK_REMAINING = re.compile(rb"time remaining=(" + NUMBER + rb") (second|minute|hour|day)")


def read_hank_ai(line: bytes) -> Iteration | None:
    match = HANK_ITERATION.match(line)
    if match is None:
        return None
    rate = HANK_RATE.search(line, match.end())
    millis = HANK_MILLISECONDS.search(line, match.end())
    images = HANK_IMAGES.search(line, match.end())
    remaining = HANK_REMAINING.search(line, match.end())
    return Iteration(
        int(match[1]),
        float(match[2]),
        float(match[3]),
        float(rate[1]) if rate else NAN,
        float(millis[1]) / 1000 if millis else NAN,
        int(images[1]) if images else -1,
        float(remaining[1]) * HOURS_PER[remaining[2]] if remaining else NAN,
    )


#: The units `time remaining` is given in, as the bulk path accepts them (in HOURS_PER order).
HANK_UNITS = (b"second", b"seconds", b"minute", b"minutes", b"hour", b"hours", b"day", b"days")
HANK_UNIT_HOURS = np.array([HOURS_PER[unit.rstrip(b"s")] for unit in HANK_UNITS])


def hank_ai_columns(fields: Fields) -> Fields:
    """`read_hank_ai`'s arithmetic on bulk-read fields."""
    return fields | {
        "seconds": fields["milliseconds"] / 1000,
        "hours_left": fields["remaining"] * HANK_UNIT_HOURS[fields["unit"]],
    }


def hank_ai_printf(after_avg: tuple) -> Printf:
    """hank-ai's line; `after_avg` is the text up to `rate=` (with the fields newer versions
    print there)."""
    return Printf(
        ITERATION,
        forks.HANK_AI.log_format,
        (
            b"",
            ("iteration", INT),
            b": loss=",
            ("loss", FIXED),
            b", avg loss=",
            ("avg_loss", FIXED),
            *after_avg,
            ("rate", FIXED),
            b", ",
            ("milliseconds", FIXED),
            b" milliseconds, ",
            ("images", INT),
            b" images, time remaining=",
            ("remaining", FIXED),
            b" ",
            ("unit", HANK_UNITS),
            b"",
        ),
        hank_ai_columns,
    )


HANK_AI = LogFormat(
    forks.HANK_AI.log_format,
    read_hank_ai,
    (
        hank_ai_printf((b", rate=",)),
        hank_ai_printf((b", last=", ("last", FIXED), b"%, best=", ("best", FIXED), b"%, rate=")),
    ),
)

#: Every format, in the order a line is offered to them.
FORMATS = (PJREDDIE, ALEXEYAB, HANK_AI)
#: The iteration lines the bulk path reads.
ITERATION_PRINTFS = tuple(printf for log_format in FORMATS for printf in log_format.printfs)


def read_iteration(line: bytes) -> tuple[LogFormat, Iteration] | None:
    """The format whose handler reads `line`, and what it read."""
    for log_format in FORMATS:
        fields = log_format.read(line)
        if fields is not None:
            return log_format, fields
    return None
