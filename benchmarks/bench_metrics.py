"""Benchmark: the metrics engine against pycocotools and a per-threshold voc_eval loop.

Builds a COCO-val2017-sized random set (default 5000 images, 80 classes, ~36.6k ground-truth
boxes, 100 detections per image: ~3 jittered copies of each ground-truth box, the rest random), writes it
as COCO json files, and prints, measured in this process:
  * load time: pycocotools (COCO + loadRes) and ours (readers);
  * evaluate+accumulate: pycocotools for IoU alone, ours for IoU and GIoU together, the ratio,
    and the largest difference of the 12 stats (must be <= 1e-12);
  * VOC style on the first --voc-images images: ours (10 thresholds x 2 metrics) against the
    straightforward voc_eval loop run once per threshold and metric (tests/metrics/reference.py).

    python benchmarks/bench_metrics.py [--images 5000] [--voc-images 200] [--seed 0]
        [--skip-pycocotools] [--repeat 3]     (--voc-images 0 skips the VOC loop)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
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
from orchestrator.metrics.measures import COCOEVAL_THRESHOLDS
from orchestrator.metrics.readers import read_coco_gt
from orchestrator.metrics.voc import evaluate_voc


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


def pycocotools_run(gt_path: Path, dt_path: Path) -> tuple[np.ndarray, float, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        coco_gt = COCO(str(gt_path))
        coco_dt = coco_gt.loadRes(str(dt_path))
        loaded = time.perf_counter()
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        done = time.perf_counter()
        evaluator.summarize()
    return np.array(evaluator.stats), loaded - start, done - loaded


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
        expected = voc_reference(gt, detections, COCOEVAL_THRESHOLDS, metric, False)
        got = np.array(list(ours.metrics[metric].per_class.values()))
        worst = max(worst, float(np.max(np.abs(got - expected))))
    loop_time = time.perf_counter() - start
    print(f"VOC style, {n_images} images, {len(detections)} detections, 10 thresholds x IoU+GIoU:")
    print(f"  per-threshold voc_eval loop  {loop_time:8.3f} s")
    print(
        f"  ours (one pass)              {ours_time:8.3f} s   speed-up x{loop_time / ours_time:.0f}"
        f"   max |AP difference| {worst:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--voc-images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-pycocotools", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="calls of ours to time (first and best)")
    args = parser.parse_args()
    gt_dict, results = synthetic_set(args.images, np.random.default_rng(args.seed))
    print(f"set: {args.images} images, 80 classes, {len(gt_dict['annotations'])} GT, {len(results)} detections")
    with tempfile.TemporaryDirectory() as tmp:
        gt_path, dt_path = Path(tmp) / "gt.json", Path(tmp) / "dt.json"
        gt_path.write_text(json.dumps(gt_dict))
        dt_path.write_text(json.dumps(results))
        gt, gt_time = timed(read_coco_gt, gt_path)
        detections, dt_time = timed(read_darknet_coco_json, dt_path)
        ours, ours_time = timed(evaluate_coco, gt, detections)
        # later calls reuse memory the first one had the kernel map and zero
        warm_time = min([timed(evaluate_coco, gt, detections)[1] for _ in range(args.repeat - 1)], default=ours_time)
        print(f"load:     ours {gt_time + dt_time:7.3f} s (gt {gt_time:.3f}, detections {dt_time:.3f})")
        print(
            f"evaluate: ours IoU+GIoU {ours_time:7.3f} s (first call; best of the next "
            f"{args.repeat - 1}: {warm_time:.3f} s)"
        )
        if not args.skip_pycocotools:
            stats, load_time, ref_time = pycocotools_run(gt_path, dt_path)
            diff = np.max(np.abs(np.array(ours.metrics["iou"].stats) - stats))
            print(f"load:     pycocotools {load_time:7.3f} s")
            print(f"evaluate: pycocotools IoU only {ref_time:7.3f} s")
            print(
                f"ratio:    pycocotools IoU / ours IoU+GIoU = {ref_time / ours_time:.1f}x "
                f"(ours takes 1/{ref_time / ours_time:.0f}); max |stats difference| {diff:.1e}"
            )
    voc_comparison(gt_dict, results, args.voc_images)


if __name__ == "__main__":
    main()
