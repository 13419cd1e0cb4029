"""A workspace of many runs with logs and evaluations, for the report's tests and benchmark.

Logs are in g-darknet's format (the `v3 (giou loss, ...) Region` lines carry every statistic);
records are shaped as the evaluation store writes them. Values follow simple known formulas so
tests can check what the report shows against them.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import yaml
from conftest import VOC_NAMES

THRESHOLDS = [round(0.5 + 0.05 * i, 2) for i in range(10)]


def run_names(count: int) -> list[str]:
    return [f"voc-{'giou' if i % 2 else 'mse'}-{i:02d}" for i in range(count)]


def write_manifest(ws, name: str, gpus: int, iou_loss: str, max_batches: int = 2000, parent: str | None = None) -> None:
    manifest = {
        "name": name,
        "template": "yolov3-voc",
        "dataset": "voc",
        "flavor": "g-darknet",
        "gpus": gpus,
        "params": {"iou_loss": iou_loss, "iou_normalizer": 0.5, "cls_normalizer": 1.0, "max_batches": max_batches},
        "scaling": {
            "rule": "seed",
            "gpus": gpus,
            "base_learning_rate": 0.001,
            "base_burn_in": 1000,
            "cfg_learning_rate": 0.001 / gpus,
            "cfg_burn_in": 1000 * gpus,
        },
        "files": {
            "data": f"runs/{name}/{name}.data",
            "cfg": f"runs/{name}/{name}.cfg",
            "sbatch": f"batch/{name}.sbatch",
            "weights_base": name,
            "backup": f"backup/{name}",
        },
        "created": "2026-01-01T00:00:00",
        "classes": 20,
        "max_batches": max_batches,
        "submissions": [],
    }
    ws.run_dir(name).mkdir(parents=True, exist_ok=True)
    (ws.run_dir(name) / "run.yaml").write_text(yaml.safe_dump(manifest))


def log_text(iterations: int, seed: int, first: int = 1) -> str:
    """Iterations `first`..`iterations`: three Region lines each, then the iteration line;
    avg loss = 0.9 avg + 0.1 loss as darknet computes it."""
    rng = random.Random(seed)
    lines, avg = [], None
    for i in range(first, iterations + 1):
        for layer in (82, 94, 106):
            iou = min(0.95, 0.2 + i / 3000 + rng.uniform(-0.1, 0.1))
            lines.append(
                f"v3 (giou loss, Normalizer: (iou: 0.5, cls: 1.0) Region {layer} Avg "
                f"(IOU: {iou:.6f}, GIOU: {iou - 0.05:.6f}), Class: 0.5, Obj: 0.5, "
                f"No Obj: 0.01, .5R: 0.5, .75R: 0.1, count: 4"
            )
        loss = 1000 * math.exp(-i / (60 + seed * 10)) + 1 + rng.uniform(0, 1.5)
        avg = loss if avg is None else 0.9 * avg + 0.1 * loss
        rate = 0.001 * min(1.0, (i / 1000) ** 4) * (0.1 if i > 1600 else 1)
        lines.append(f"{i}: {loss:.6f}, {avg:.6f} avg, {rate:.6f} rate, 1.0 seconds, {64 * i} images")
    return "\n".join(lines) + "\n"


def write_log(ws, name: str, iterations: int, seed: int) -> Path:
    ws.logs_dir(name).mkdir(parents=True, exist_ok=True)
    path = ws.logs_dir(name) / "100.log"
    path.write_text(log_text(iterations, seed))
    return path


def record(name: str, iteration: int, quality: float, seed: int, classes: list[str] = VOC_NAMES) -> dict:
    rng = random.Random(seed * 1000 + iteration)
    metrics = {}
    for metric, offset in (("iou", 0.0), ("giou", -0.03)):
        ap = [max(0.0, quality + offset - 0.06 * k) for k in range(10)]
        metrics[metric] = {
            "ap": ap,
            "mean": sum(ap) / 10,
            "per_class": {c: [max(0.0, a + rng.uniform(-0.2, 0.1)) for a in ap] for c in classes},
        }
    return {
        "run": name,
        "split": "valid",
        "weights": f"backup/{name}/{name}_{iteration}.weights",
        "size": 1,
        "mtime": 1.7e9,
        "iteration": iteration,
        "style": "voc",
        "ap_method": "11point",
        "status": "ok",
        "thresholds": THRESHOLDS,
        "metrics": metrics,
        "darknet_seconds": 1.0,
        "metric_seconds": 0.1,
        "flavor": "g-darknet",
        "orch_version": "0.1.0",
        "timestamp": "2026-01-01T00:00:00",
        "attempt": 1,
        "error": None,
        "log_tail": None,
    }


def quality(iteration: int, max_batches: int, seed: int) -> float:
    return 0.5 + 0.3 * iteration / max_batches - 0.02 * seed


def write_metrics(
    ws, name: str, seed: int, checkpoints: int = 10, max_batches: int = 2000, classes: list[str] = VOC_NAMES
) -> None:
    step = max_batches // checkpoints
    its = range(step, max_batches + 1, step)
    records = [record(name, it, quality(it, max_batches, seed), seed, classes) for it in its]
    records.append({**record(name, max_batches + 100, 0, seed), "status": "failed", "metrics": None})
    ws.results_dir(name).mkdir(parents=True, exist_ok=True)
    (ws.results_dir(name) / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def make_runs(ws, count: int) -> list[str]:
    """`count` runs of 2000 iterations; run 1 has no log yet, run 2 no evaluation yet."""
    names = run_names(count)
    for i, name in enumerate(names):
        write_manifest(ws, name, gpus=1 + i % 4, iou_loss="giou" if i % 2 else "mse")
        if i != 1:
            write_log(ws, name, iterations=2000, seed=i)
        if i != 2:
            write_metrics(ws, name, seed=i)
    return names


def define_voc_dataset(ws, class_names: list[str]) -> None:
    """The `voc` dataset the runs name, in orch.yaml (its lists empty: nothing is evaluated)."""
    folder = ws.root / "datasets" / "voc"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "voc.names").write_text("".join(f"{name}\n" for name in class_names))
    for split in ("train", "valid"):
        (folder / f"{split}.txt").write_text("")
    config = yaml.safe_load((ws.root / "orch.yaml").read_text())
    config["datasets"] = {
        "voc": {"train": "datasets/voc/train.txt", "valid": "datasets/voc/valid.txt", "names": "datasets/voc/voc.names"}
    }
    (ws.root / "orch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def make_big_runs(ws, count: int, iterations: int, checkpoints: int, classes: int, distinct_logs: int = 4) -> list[str]:
    """The benchmark's workspace: `count` runs, each with a log of `iterations` iterations (a
    few distinct logs, copied) and `checkpoints` evaluations of `classes` classes."""
    names = run_names(count)
    class_names = [f"class-{k:02d}" for k in range(classes)]
    define_voc_dataset(ws, class_names)
    logs: list[Path] = []
    for i, name in enumerate(names):
        write_manifest(ws, name, gpus=1 + i % 4, iou_loss="giou" if i % 2 else "mse", max_batches=iterations)
        if len(logs) < distinct_logs:
            logs.append(write_log(ws, name, iterations, seed=i))
        else:
            ws.logs_dir(name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(logs[i % distinct_logs], ws.logs_dir(name) / "100.log")
        write_metrics(ws, name, seed=i % 10, checkpoints=checkpoints, max_batches=iterations, classes=class_names)
    return names
