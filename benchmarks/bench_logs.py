"""Log parser speed: full parse of a generated pjreddie-format log, then the pick-up of 1 MB
appended to it through the incremental cache (three times: the cache must not slow down as
it grows).

    PYTHONPATH=. python benchmarks/bench_logs.py [--mb 1024] [--dir /tmp]

The log imitates YOLOv3 with 8 subdivisions: per iteration 24 `Region` lines, a `Loaded:`
line and the iteration line (~2.4 KB). It is written to a temporary folder and deleted.
CPU time is printed next to wall time: on a shared machine it is the steadier of the two.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from orchestrator.logs import parse_file

REGION = (
    b"Region %d Avg IOU: 0.%06d, Class: 0.620637, Obj: 0.995631, No Obj: 0.004994, "
    b".5R: 1.000000, .75R: 0.500000,  count: 6\n"
)
REGION_EMPTY = b"Region %d Avg IOU: -nan, Class: -nan, Obj: -nan, No Obj: 0.000048, .5R: -nan, .75R: -nan,  count: 0\n"
ITERATION = b"%d: %d.121626, %d.752329 avg, 0.001000 rate, 0.196614 seconds, %d images\n"


def iteration_block(iteration: int) -> bytes:
    lines = [b"Loaded: 0.000034 seconds\n"]
    for subdivision in range(8):
        lines.append(REGION % (82, (iteration * 7 + subdivision) % 1000000))
        lines.append(REGION % (94, (iteration * 13 + subdivision) % 1000000))
        lines.append(REGION_EMPTY % 106)
    lines.append(ITERATION % (iteration, iteration % 7, iteration % 5, iteration * 64))
    return b"".join(lines)


def write_log(path: Path, megabytes: int, first: int = 1) -> int:
    """Append about `megabytes` MB of iterations from `first` on; return the next iteration.
    The log is flushed to disk, so that timings do not include its write-back (the cache's
    own fsyncs would otherwise wait behind a gigabyte of it)."""
    target, iteration = megabytes << 20, first
    with open(path, "ab") as handle:
        written = 0
        while written < target:
            block = b"".join(iteration_block(i) for i in range(iteration, iteration + 1000))
            handle.write(block)
            written += len(block)
            iteration += 1000
        handle.flush()
        os.fsync(handle.fileno())
    return iteration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="log size in MB (default 1024)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        log, cache = Path(folder) / "1.log", Path(folder) / "cache.json"
        next_iteration = write_log(log, args.mb)
        size = log.stat().st_size
        (parsed, full, cpu) = timed(parse_file, log, cache)
        print(
            f"full parse: {size / 1e6:.0f} MB, {parsed.iterations} iterations in {full:.1f} s "
            f"= {size / 1e6 / full:.1f} MB/s (CPU {size / 1e6 / cpu:.1f} MB/s; including "
            f"writing the cache)"
        )
        for _ in range(3):
            next_iteration = write_log(log, 1, next_iteration)
            (grown, pickup, cpu) = timed(parse_file, log, cache)
            print(
                f"1 MB appended: picked up in {pickup:.3f} s (CPU {cpu:.3f} s, "
                f"{grown.iterations - parsed.iterations} new iterations)"
            )
            parsed = grown


def timed(function, *args):
    """The call's result, wall time and CPU time of this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


if __name__ == "__main__":
    main()
