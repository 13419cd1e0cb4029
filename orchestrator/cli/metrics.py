"""`orch map voc|coco|darknet`: mAP of one detection output, under IoU and/or GIoU.

The metrics engine (NumPy, Pillow) is imported by the command that runs, not at start-up:
`orch --help` and every other command never pay for it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from orchestrator.cli.common import add_command, print_json, print_table
from orchestrator.metrics.evaluators import AP_METHODS, EVALUATORS
from orchestrator.metrics.measures import COCO_SUMMARY, MEASURES
from orchestrator.metrics.overlaps import OVERLAPS

if TYPE_CHECKING:
    from orchestrator.metrics.boxes import GroundTruth
    from orchestrator.metrics.results import EvaluationResult

#: --metric: one overlap, or "both" (every registered one).
METRIC_CHOICES = {**{name: (name,) for name in OVERLAPS}, "both": tuple(OVERLAPS)}
#: The per-class table's AP columns.
CLASS_COLUMNS = (MEASURES["ap50"], MEASURES["ap75"])


def register(subparsers) -> None:
    from orchestrator.cli import OneLineParser

    group = add_command(
        subparsers,
        "map",
        run_voc,  # never runs: a style is required
        help="mAP of detections at IoU/GIoU thresholds .50:.05:.95 (VOC or COCO style)",
    )
    styles = group.add_subparsers(dest="map_style", metavar="STYLE", required=True, parser_class=OneLineParser)
    styles.common = subparsers.common  # type: ignore[attr-defined]

    voc = add_command(styles, "voc", run_voc, help="VOC-style AP: comp4 folder against VOC XML")
    voc.add_argument("--detections", required=True, metavar="DIR", help="comp4_det_test_<class>.txt folder")
    voc.add_argument("--annotations", required=True, metavar="DIR", help="VOC XML annotations folder")
    voc.add_argument("--imageset", required=True, metavar="FILE", help="image ids, one per line")
    voc.add_argument("--names", metavar="FILE", help="class names (default: those in the annotations)")
    add_voc_method(voc)

    coco = add_command(styles, "coco", run_coco, help="COCO-style AP: results json against a COCO json")
    coco.add_argument("--gt", required=True, metavar="GT.json", help="COCO instances json")
    coco.add_argument("--dt", required=True, metavar="DT.json", help="COCO results json (Darknet's too)")
    add_output_options(coco)

    darknet = add_command(
        styles, "darknet", run_darknet, help="AP against Darknet label files (image sizes from the image headers)"
    )
    darknet.add_argument(
        "--detections",
        required=True,
        metavar="DIR_OR_JSON",
        help="comp4 folder or coco_results.json of `darknet detector valid`",
    )
    darknet.add_argument("--valid", required=True, metavar="LIST", help="the valid list of image paths")
    darknet.add_argument("--names", required=True, metavar="FILE", help="the .names file")
    darknet.add_argument("--style", choices=tuple(EVALUATORS), default="voc")
    add_voc_method(darknet)


def add_voc_method(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ap",
        choices=AP_METHODS,
        default="11point",
        help="VOC AP: 11-point (VOC2007, default) or all-point (VOC2010+)",
    )
    add_output_options(parser)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metric",
        choices=tuple(METRIC_CHOICES),
        default="both",
        help="overlap used to match detections (default: both = every one)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run_voc(args: argparse.Namespace) -> int:
    from orchestrator.darknet.cfg import read_names
    from orchestrator.darknet.outputs import read_comp4_folder
    from orchestrator.darknet.validation import with_darknet_class_ids
    from orchestrator.metrics.readers import read_voc_annotations
    from orchestrator.metrics.voc import evaluate_voc

    names = read_names(args.names) if args.names else None
    gt = with_darknet_class_ids(read_voc_annotations(args.annotations, args.imageset, names))
    detections = read_comp4_folder(args.detections, gt.class_names, gt.class_ids)
    return show(evaluate_voc(gt, detections, ap_method=args.ap, metrics=METRIC_CHOICES[args.metric]), args.json)


def run_coco(args: argparse.Namespace) -> int:
    from orchestrator.darknet.outputs import read_darknet_coco_json
    from orchestrator.metrics.artefacts import artefact_warnings
    from orchestrator.metrics.coco import evaluate_coco
    from orchestrator.metrics.readers import read_coco_gt

    gt, detections = read_coco_gt(args.gt), read_darknet_coco_json(args.dt)

    def score(truth: GroundTruth) -> EvaluationResult:
        return evaluate_coco(truth, detections, metrics=METRIC_CHOICES[args.metric])

    result = score(gt)
    for warning in artefact_warnings(gt, result, score):
        print(f"orch: warning: {warning} ({args.gt})", file=sys.stderr)
    return show(result, args.json)


def run_darknet(args: argparse.Namespace) -> int:
    from orchestrator.darknet.validation import evaluate_detections, load_ground_truth

    gt = load_ground_truth(args.style, args.valid, args.names)
    result = evaluate_detections(gt, args.detections, args.style, args.ap, METRIC_CHOICES[args.metric])
    return show(result, args.json)


def show(result: EvaluationResult, as_json: bool) -> int:
    if as_json:
        print_json(result.to_json())
        return 0
    for n, (metric, block) in enumerate(result.metrics.items()):
        if n:
            print()
        print(f"{metric.upper()} ({result.style.upper()}, {result.ap_method})")
        for threshold, ap in zip(result.thresholds, block.ap):
            print(f"Threshold: {threshold:.2f} | mAP: {ap:.3f}")
        print(f"mAP: {block.mean:.6f}")
        print()
        print_table(
            ["class", *(m.label for m in CLASS_COLUMNS), "AP50:95"],
            [
                [name, *(f"{m.read(v, 0.0):.4f}" for m in CLASS_COLUMNS), f"{mean_or_undefined(v):.4f}"]
                for name, v in block.by_label().items()
            ],
        )
        for line, value in zip(COCO_SUMMARY, block.stats or ()):
            print(line.text(value))
    return 0


def mean_or_undefined(values: Sequence[float]) -> float:
    return -1.0 if values[0] < 0 else sum(values) / len(values)
