"""Log parser per fork: first parse (MB/s, peak memory), 1 MB appended picked up through the
incremental cache (as `orch status` does, and with every column loaded, as the report does),
and `orch log` / `orch log --csv` speed and peak memory on the same log.

    python benchmarks/bench_logs.py [--mb 300] [--forks pjreddie,alexeyab,g-darknet,hank-ai] [--dir /tmp]

Each log is built from the real logs in tests/data/logs (see PROVENANCE.md there), repeated
until it reaches the size asked (each repetition reads as a resumed job):
- pjreddie: the pjreddie YOLOv3 log (3 `Region` lines and one iteration line per iteration);
- alexeyab: the two AlexeyAB `-map` logs in turn (CRLF line ends, xterm title escapes, mAP
  blocks, a `Last accuracy` line per iteration);
- g-darknet, hank-ai: the pjreddie log printed as those forks print (tests/logs/generated.py).
Every measurement runs in a fresh process, so that peak memory (ru_maxrss) is that of the one
thing measured. `wc -l` over the same file, timed in the same run, is the disk-speed reference. CPU time is printed next to wall time: on a shared machine it is the steadier.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.logs.generated import LOGS, gdarknet_log, hank_ai_log, pjreddie_log

FORKS = ("pjreddie", "alexeyab", "g-darknet", "hank-ai")


def source(fork: str) -> bytes:
    """One repetition of the fork's log, from the real logs."""
    if fork == "pjreddie":
        return pjreddie_log()
    if fork == "alexeyab":
        return (LOGS / "alexeyab-tiny-yolov3-map-crlf.log").read_bytes() + (
            LOGS / "alexeyab-yolov3-map-title-escapes.log"
        ).read_bytes()
    if fork == "g-darknet":
        return gdarknet_log()
    if fork == "hank-ai":
        return hank_ai_log()
    raise SystemExit(f"unknown fork {fork}")


def write_log(path: Path, block: bytes, megabytes: float) -> None:
    """Append `block` until the file has grown by `megabytes` MB, then flush it to disk (so
    that timings do not include its write-back)."""
    target, written = int(megabytes * (1 << 20)), 0
    with open(path, "ab") as handle:
        while written < target:
            piece = block[: target - written] if target - written < len(block) else block
            piece = piece[: piece.rfind(b"\n") + 1] or block
            handle.write(piece)
            written += len(piece)
        handle.flush()
        os.fsync(handle.fileno())


def child(task: str, log: Path, cache: Path) -> None:
    """Run one measured task in this (fresh) process and print its numbers as JSON."""
    from orchestrator.cli import main
    from orchestrator.logs import parse_file
    from orchestrator.logs.cache import progress_file

    wall, cpu = time.perf_counter(), time.process_time()  # after the imports
    if task == "parse":
        parsed = parse_file(log, cache)
        result = {"iterations": parsed.iterations, "format": parsed.format}
    elif task == "progress":  # what orch status pays: the cache brought up to date, columns not read
        result = {"iterations": progress_file(log, cache)[1].iterations}
    else:  # orch log [--csv], output thrown away
        with open(os.devnull, "w") as sink:
            sys.stdout = sink
            main(["log", str(log), *(["--csv"] if task == "csv" else [])])
            sys.stdout = sys.__stdout__
        result = {}
    result |= {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result))


def measure(task: str, log: Path, cache: Path) -> dict:
    command = [sys.executable, __file__, "--child", task, str(log), str(cache)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(done.stdout.splitlines()[-1])


def line_count_seconds(log: Path) -> float:
    """The reference: `wc -l` reading the same (cached) file, whole process."""
    start = time.perf_counter()
    subprocess.run(["wc", "-l", str(log)], check=True, capture_output=True)
    return time.perf_counter() - start


def bench_fork(fork: str, megabytes: float, folder: Path) -> None:
    block = source(fork)
    log, cache = folder / f"{fork}.log", folder / f"{fork}.cache.json"
    write_log(log, block, megabytes)
    size = log.stat().st_size / 1e6
    reference = line_count_seconds(log)
    first = measure("parse", log, cache)
    print(
        f"{fork:10} first parse {size:6.0f} MB: {first['wall']:5.2f} s = {size / first['wall']:5.0f} MB/s "
        f"(CPU {size / first['cpu']:4.0f} MB/s; wc -l {size / reference:5.0f} MB/s, "
        f"orch/wc {reference / first['wall']:.2f}), peak {first['peak_mb']:4.0f} MB, "
        f"{first['iterations']} iterations, format {first['format']} (cache written)"
    )
    for task, label in (("progress", "orch status"), ("parse", "full columns")):
        pickups = []
        for _ in range(3):
            write_log(log, block[len(block) // 3 :], 1)
            pickups.append(measure(task, log, cache))
        times = ", ".join(f"{p['wall']:.3f} s" for p in pickups)
        print(f"{'':10} 1 MB appended, picked up ({label}): {times}, peak {pickups[-1]['peak_mb']:4.0f} MB")
    for task in ("summary", "csv"):
        run = measure(task, log, cache)
        label = "orch log" if task == "summary" else "orch log --csv"
        print(f"{'':10} {label:15} {size / run['wall']:5.0f} MB/s, peak {run['peak_mb']:4.0f} MB")
    log.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=300, help="log size per fork in MB (default 300)")
    parser.add_argument("--forks", default=",".join(FORKS), help="comma-separated, default all")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--child", nargs=3, metavar=("TASK", "LOG", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for fork in args.forks.split(","):
            bench_fork(fork, args.mb, Path(folder))


if __name__ == "__main__":
    main()
