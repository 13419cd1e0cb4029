"""How long an evaluation pass takes when everything is already evaluated (what cron pays every time).

Builds a workspace of RUNS runs x WEIGHTS weights files (placeholder bytes: nothing is evaluated,
so darknet never runs) whose metrics.jsonl already holds a record for every file, then times
`run_pass` over all runs: locks, discovery (one scandir + one stat per file) and the store index.

    python benchmarks/bench_eval_pass.py [--runs 50] [--weights 100] [--classes 80] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import make_workspace

from orchestrator.evaluation.discovery import discover_weights
from orchestrator.evaluation.passes import PassOptions, run_pass
from orchestrator.evaluation.store import store_path
from orchestrator.executors import new_run
from orchestrator.runs import RunSpec


def evaluated_record(run: str, weights, classes: int) -> dict:
    """A record of the size a real one has (per-class AP for both metrics, COCO stats)."""
    block = {
        "ap": [0.5] * 10,
        "mean": 0.5,
        "per_class": {f"class{c}": [0.5] * 10 for c in range(classes)},
        "stats": [0.5] * 12,
    }
    return {
        "run": run,
        "split": "valid",
        "weights": weights.path,
        "size": weights.size,
        "mtime": weights.mtime,
        "iteration": weights.iteration,
        "style": "coco",
        "ap_method": "11point",
        "status": "ok",
        "thresholds": [0.5 + 0.05 * i for i in range(10)],
        "metrics": {"iou": block, "giou": block},
        "darknet_seconds": 100.0,
        "metric_seconds": 1.0,
        "flavor": "pjreddie",
        "orch_version": "0.1.0",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "attempt": 1,
        "error": None,
        "log_tail": None,
    }


def build(folder: Path, runs: int, weights: int, classes: int):
    ws = make_workspace(folder, n_train=4, n_valid=4)
    for r in range(runs):
        name = f"run{r:03d}"
        manifest = new_run(ws, name, RunSpec(template="tiny-shapes", dataset="shapes")).manifest
        backup = ws.backup_dir(name)
        backup.mkdir(parents=True)
        for n in range(1, weights + 1):
            (backup / f"{name}_{n * 100}.weights").write_bytes(b"w")
        lines = [json.dumps(evaluated_record(name, w, classes)) + "\n" for w in discover_weights(ws, manifest)]
        store_path(ws, name).parent.mkdir(parents=True, exist_ok=True)
        store_path(ws, name).write_text("".join(lines))
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--weights", type=int, default=100)
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = build(Path(tmp) / "ws", args.runs, args.weights, args.classes)
        size = sum(store_path(ws, name).stat().st_size for name in ws.run_names())
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            report = run_pass(ws, ws.run_names(), PassOptions(gpu=99))
            times.append(time.perf_counter() - started)
            assert report.outcomes == [] and not report.busy, report
        print(
            f"{args.runs} runs x {args.weights} evaluated weights files ({args.classes} classes, "
            f"{size / 1e6:.1f} MB of metrics.jsonl): second pass min {min(times) * 1000:.0f} ms, "
            f"median {statistics.median(times) * 1000:.0f} ms over {args.repeat}"
        )


if __name__ == "__main__":
    main()
