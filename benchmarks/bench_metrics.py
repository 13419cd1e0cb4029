"""Benchmark: `orch map coco` against pycocotools, faster-coco-eval and hotcoco, and the VOC engine
against a per-threshold voc_eval loop.

Builds a COCO-val2017-sized random set (default 5000 images, 80 classes, ~36.6k ground-truth
boxes, 100 detections per image: ~3 jittered copies of each ground-truth box, the rest random),
writes it as COCO json files, and runs every evaluator as its own process on the same files, in
this run: interpreter start, imports, json loading and evaluation all count, as a user waits
for them. orch computes IoU and GIoU matching (`--metric both`); the references IoU only.
Printed per evaluator: wall time (median of --repeat runs; the machine may be shared, so also)
CPU time (user + system) and peak memory, the ratio of orch to it, and the largest difference
of its 12 stats from orch's IoU stats (pycocotools must agree to 1e-12).

Then orch in process, to see where its time goes (loading vs evaluating), and VOC style on the
first --voc-images images: ours (10 thresholds x 2 metrics) against the straightforward
voc_eval loop run once per threshold and metric (tests/metrics/reference.py).

The references come from the `bench` extra: pip install -e '.[bench]' (make bench does).

    python benchmarks/bench_metrics.py [--images 5000] [--voc-images 200] [--seed 0]
        [--repeat 3] [--skip-pycocotools]     (--voc-images 0 skips the VOC loop)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from metrics.reference import voc_reference

from orchestrator.darknet.outputs import read_darknet_coco_json
from orchestrator.metrics.coco import evaluate_coco
from orchestrator.metrics.measures import THRESHOLDS
from orchestrator.metrics.readers import read_coco_gt
from orchestrator.metrics.voc import evaluate_voc

# Each reference as the few lines a user writes: load both files, evaluate, print the 12 stats
# (their own summary printing goes to /dev/null).
REFERENCES = {
    "hotcoco": "from hotcoco import COCO, COCOeval",
    "faster-coco-eval": "from faster_coco_eval import COCO, COCOeval_faster as COCOeval",
    "pycocotools": "from pycocotools.coco import COCO; from pycocotools.cocoeval import COCOeval",
}
REFERENCE_SCRIPT = """
import contextlib, json, os, sys
{imports}
with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
    gt = COCO(sys.argv[1])
    dt = gt.loadRes(sys.argv[2])
    evaluator = COCOeval(gt, dt, "bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
print(json.dumps([float(v) for v in evaluator.stats]))
"""


@dataclasses.dataclass
class Timing:
    name: str
    metrics: str
    wall: float
    cpu: float
    peak_mb: float
    stats: np.ndarray


def timed_process(name: str, metrics: str, command: list[str], repeat: int, read_stats) -> Timing:
    """Run `command` `repeat` times; the median run's wall time, CPU time and peak RSS (from
    wait4: that process's own rusage, not a running maximum over children)."""
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            process = subprocess.Popen(command, stdout=out, stderr=err)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - start
            process.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            if process.returncode:
                raise SystemExit(f"{name} failed: {err.read().decode()[-800:]}")
            runs.append((wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode()))
    wall, cpu, peak, text = sorted(runs)[len(runs) // 2]
    return Timing(name, metrics, wall, cpu, peak, read_stats(text))


def coco_processes(gt_path: Path, dt_path: Path, repeat: int, skip_pycocotools: bool) -> list[Timing]:
    orch = [sys.executable, "-m", "orchestrator", "map", "coco", "--gt", str(gt_path), "--dt", str(dt_path)]
    timings = [
        timed_process(
            "orch map coco",
            "IoU+GIoU",
            orch + ["--metric", "both", "--json"],
            repeat,
            lambda out: np.array(json.loads(out)["metrics"]["iou"]["stats"]),
        )
    ]
    for name, imports in REFERENCES.items():
        if name == "pycocotools" and skip_pycocotools:
            continue
        script = REFERENCE_SCRIPT.format(imports=imports)
        runs = 1 if name == "pycocotools" else repeat  # ~100x slower: once is enough
        command = [sys.executable, "-c", script, str(gt_path), str(dt_path)]
        timings.append(
            timed_process(name, "IoU", command, runs, lambda out: np.array(json.loads(out.splitlines()[-1])))
        )
    return timings


def print_coco(timings: list[Timing]) -> None:
    orch = timings[0]
    print(
        f"{'evaluator':<18} {'matching':<9} {'wall s':>7} {'cpu s':>7} {'peak MB':>8}  "
        f"{'orch/it wall':>12} {'orch/it cpu':>11}  max|stats - orch IoU stats|"
    )
    for t in timings:
        print(
            f"{t.name:<18} {t.metrics:<9} {t.wall:7.2f} {t.cpu:7.2f} {t.peak_mb:8.0f}  "
            f"{orch.wall / t.wall:12.2f} {orch.cpu / t.cpu:11.2f}  {np.max(np.abs(t.stats - orch.stats)):.1e}"
        )


def in_process(gt_path: Path, dt_path: Path) -> None:
    """Where orch's time goes, in this process (imports already paid)."""
    start = time.perf_counter()
    gt = read_coco_gt(gt_path)
    loaded_gt = time.perf_counter()
    detections = read_darknet_coco_json(dt_path)
    loaded = time.perf_counter()
    evaluate_coco(gt, detections)
    done = time.perf_counter()
    evaluate_coco(gt, detections)
    again = time.perf_counter()
    print(
        f"orch in process: read gt {loaded_gt - start:.3f} s, detections {loaded - loaded_gt:.3f} s, "
        f"evaluate IoU+GIoU {done - loaded:.3f} s (first call; again {again - done:.3f} s)"
    )


def synthetic_set(n_images: int, rng: np.random.Generator) -> tuple[dict, list]:
    """COCO-like ground truth (7.3 boxes per image, 1% crowd) and 100 detections per image."""
    cat_ids = list(range(1, 91))[:80]
    images = [{"id": i + 1, "file_name": f"{i + 1:012d}.jpg", "width": 640, "height": 480} for i in range(n_images)]
    per_image = rng.poisson(7.32, n_images)
    n_gt = int(per_image.sum())
    gt_image = np.repeat(np.arange(1, n_images + 1), per_image)
    wh = np.exp(rng.uniform(np.log(4), np.log(400), (n_gt, 2)))
    xy = rng.uniform(0, 1, (n_gt, 2)) * (np.array([640, 480]) - wh).clip(1)
    gt_box = np.round(np.c_[xy, wh], 2)
    gt_cat = rng.choice(cat_ids, n_gt)
    annotations = [
        {
            "id": i + 1,
            "image_id": int(gt_image[i]),
            "category_id": int(gt_cat[i]),
            "bbox": gt_box[i].tolist(),
            "area": float(gt_box[i, 2] * gt_box[i, 3] * 0.8),
            "iscrowd": int(rng.random() < 0.01),
        }
        for i in range(n_gt)
    ]
    first_gt = np.r_[0, np.cumsum(per_image)[:-1]]
    results = []
    for image in range(n_images):
        n_copies = min(3 * per_image[image], 100)  # about 3 localisations per object
        source = first_gt[image] + rng.integers(0, max(per_image[image], 1), n_copies)
        jitter = rng.normal(0, 0.08, (n_copies, 4)) * np.repeat(gt_box[source, 2:], 2, axis=1)
        boxes = np.r_[gt_box[source] + jitter, random_boxes(rng, 100 - n_copies)]
        boxes[:, 2:] = boxes[:, 2:].clip(1)
        cats = np.r_[gt_cat[source], rng.choice(cat_ids, 100 - n_copies)]
        scores = np.round(rng.random(100), 4)
        results.extend(
            {"image_id": image + 1, "category_id": int(c), "bbox": np.round(b, 2).tolist(), "score": float(s)}
            for b, c, s in zip(boxes, cats, scores)
        )
    return {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c, "name": f"class{c}"} for c in cat_ids],
    }, results


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    wh = np.exp(rng.uniform(np.log(4), np.log(400), (n, 2)))
    return np.c_[rng.uniform(0, 1, (n, 2)) * (np.array([640, 480]) - wh).clip(1), wh]


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    value = func(*args, **kwargs)
    return value, time.perf_counter() - start


def voc_comparison(gt_dict: dict, results: list, n_images: int) -> None:
    """Ours vs the per-threshold loop, both on the first n_images images (xywh read as xyxy
    corners through the Darknet convention)."""
    from orchestrator.metrics.readers import coco_detections, coco_ground_truth

    keep_images = {im["id"] for im in gt_dict["images"][:n_images]}
    small_gt = dict(
        gt_dict,
        images=gt_dict["images"][:n_images],
        annotations=[a for a in gt_dict["annotations"] if a["image_id"] in keep_images],
    )
    small_dt = [r for r in results if r["image_id"] in keep_images]
    gt, detections = coco_ground_truth(small_gt, "gt"), coco_detections(small_dt, "dt")
    # crowd boxes of the COCO set play VOC's difficult boxes, for both implementations
    gt = dataclasses.replace(gt, difficult=gt.crowd, crowd=np.zeros(len(gt), bool))
    ours, ours_time = timed(evaluate_voc, gt, detections, ap_method="all")
    start = time.perf_counter()
    worst = 0.0
    for metric in ("iou", "giou"):
        expected = voc_reference(gt, detections, THRESHOLDS, metric, False)
        got = np.array([c.ap for c in ours.metrics[metric].per_class])
        worst = max(worst, float(np.max(np.abs(got - expected))))
    loop_time = time.perf_counter() - start
    print(f"VOC style, {n_images} images, {len(detections)} detections, 10 thresholds x IoU+GIoU:")
    print(f"  per-threshold voc_eval loop  {loop_time:8.3f} s")
    print(
        f"  ours (one pass)              {ours_time:8.3f} s   speed-up x{loop_time / ours_time:.0f}"
        f"   max |AP difference| {worst:.1e}"
    )


def write_set(folder: Path, n_images: int, seed: int) -> None:
    gt_dict, results = synthetic_set(n_images, np.random.default_rng(seed))
    (folder / "gt.json").write_text(json.dumps(gt_dict))
    (folder / "dt.json").write_text(json.dumps(results))
    print(
        f"COCO bbox: {n_images} images, 80 classes, {len(gt_dict['annotations'])} GT, {len(results)} "
        "detections; each evaluator a whole process (load included), same files"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--voc-images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each fast evaluator (median shown)")
    parser.add_argument("--skip-pycocotools", action="store_true", help="it takes ~100x longer than the others")
    parser.add_argument("--write-set", type=Path, metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_set:
        write_set(args.write_set, args.images, args.seed)
        return
    with tempfile.TemporaryDirectory() as tmp:
        # The set is built in a child and this process stays small until the evaluators ran:
        # a child's peak RSS (wait4) counts this process's resident memory at the fork.
        subprocess.run(
            [sys.executable, __file__, "--write-set", tmp, "--images", str(args.images), "--seed", str(args.seed)],
            check=True,
        )
        gt_path, dt_path = Path(tmp) / "gt.json", Path(tmp) / "dt.json"
        print_coco(coco_processes(gt_path, dt_path, args.repeat, args.skip_pycocotools))
        in_process(gt_path, dt_path)
        if args.voc_images:
            voc_comparison(json.loads(gt_path.read_text()), json.loads(dt_path.read_text()), args.voc_images)


if __name__ == "__main__":
    main()
