"""Turning SIGINT/SIGTERM into a stop request that evaluations honour (instead of dying mid-write).

The running `detector valid` polls the event, kills darknet's process group and raises
Interrupted, so the pass appends no record and releases its locks on the way out.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


def stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGINT and SIGTERM set `stop`; returns the function that restores the previous handlers."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: stop.set())

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
