"""Checks for values that orch reads from users and writes into generated text.

Generated files are line-oriented: darknet reads `.data` and cfg files line by line, bash runs
an `.sbatch` line by line, cron reads its table line by line. A newline or another control
character inside a value would start a line of the user's choosing (a `backup = ...` entry, a
shell command), so such values are refused where they are read, as are numbers that darknet
or a timer cannot use: NaN and infinities, and integers beyond darknet's 32-bit `int`.
"""

from __future__ import annotations

import math
import re

from orchestrator.base.errors import OrchError

# C0 controls (newline, carriage return, escape...), DEL, the C1 controls and Unicode's line and
# paragraph separators: none belongs in a path, a Slurm option or a cfg value.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
INT_MAX = 2**31 - 1  # darknet stores every cfg integer and the GPU index in a C int


def plain_text(value: str, where: str) -> str:
    """`value` when it holds no control character (newline, tab, escape...), else OrchError."""
    found = _CONTROL.search(value)
    if found:
        raise OrchError(f"control character {found.group()!r} in {value!r}: refused in generated files", where)
    return value


def printable(text: str) -> str:
    """`text` with its control characters escaped (`\\n`): an error message stays one line."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


def finite(value: float, where: str) -> float:
    """`value` when it is a real number (not NaN, not an infinity), else OrchError."""
    if not math.isfinite(value):
        raise OrchError(f"{value} is not a finite number", where)
    return value


def darknet_int(value: int, where: str, minimum: int = 0) -> int:
    """`value` when minimum <= value <= INT_MAX (what darknet's atoi/C int can hold)."""
    if not minimum <= value <= INT_MAX:
        raise OrchError(f"{value} is outside {minimum}..{INT_MAX}", where)
    return value
