"""`orch map voc|coco|darknet`: mAP of one detection output, under IoU and/or GIoU.

The metrics engine (NumPy, Pillow) is imported by the command that runs, not at start-up:
`orch --help` and every other command never pay for it.
"""

from __future__ import annotations

import argparse

from orchestrator.cli.common import add_command, print_json, print_table

METRIC_CHOICES = {"iou": ("iou",), "giou": ("giou",), "both": ("iou", "giou")}
COCO_LINES = (
    ("Average Precision", "AP", "0.50:0.95", "all", 100),
    ("Average Precision", "AP", "0.50", "all", 100),
    ("Average Precision", "AP", "0.75", "all", 100),
    ("Average Precision", "AP", "0.50:0.95", "small", 100),
    ("Average Precision", "AP", "0.50:0.95", "medium", 100),
    ("Average Precision", "AP", "0.50:0.95", "large", 100),
    ("Average Recall", "AR", "0.50:0.95", "all", 1),
    ("Average Recall", "AR", "0.50:0.95", "all", 10),
    ("Average Recall", "AR", "0.50:0.95", "all", 100),
    ("Average Recall", "AR", "0.50:0.95", "small", 100),
    ("Average Recall", "AR", "0.50:0.95", "medium", 100),
    ("Average Recall", "AR", "0.50:0.95", "large", 100),
)


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
    darknet.add_argument("--style", choices=("voc", "coco"), default="voc")
    add_voc_method(darknet)


def add_voc_method(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ap",
        choices=("11point", "all"),
        default="11point",
        help="VOC AP: 11-point (VOC2007, default) or all-point (VOC2010+)",
    )
    add_output_options(parser)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metric",
        choices=tuple(METRIC_CHOICES),
        default="both",
        help="overlap used to match detections (default: both)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run_voc(args: argparse.Namespace) -> int:
    from orchestrator.darknet.cfg import read_names
    from orchestrator.darknet.outputs import read_comp4_folder
    from orchestrator.metrics import evaluate_voc, read_voc_annotations

    names = read_names(args.names) if args.names else None
    gt = read_voc_annotations(args.annotations, args.imageset, names)
    detections = read_comp4_folder(args.detections, gt.class_names)
    return show(evaluate_voc(gt, detections, ap_method=args.ap, metrics=METRIC_CHOICES[args.metric]), args.json)


def run_coco(args: argparse.Namespace) -> int:
    from orchestrator.darknet.outputs import read_darknet_coco_json
    from orchestrator.metrics import evaluate_coco, read_coco_gt

    result = evaluate_coco(read_coco_gt(args.gt), read_darknet_coco_json(args.dt), metrics=METRIC_CHOICES[args.metric])
    return show(result, args.json)


def run_darknet(args: argparse.Namespace) -> int:
    from orchestrator.darknet.validation import evaluate_detections, load_ground_truth

    gt = load_ground_truth(args.style, args.valid, args.names)
    result = evaluate_detections(gt, args.detections, args.style, args.ap, METRIC_CHOICES[args.metric])
    return show(result, args.json)


def show(result: dict, as_json: bool) -> int:
    if as_json:
        print_json(result)
        return 0
    for n, (metric, block) in enumerate(result["metrics"].items()):
        if n:
            print()
        print(f"{metric.upper()} ({result['style'].upper()}, {result['ap_method']})")
        for threshold, ap in zip(block["thresholds"], block["ap"]):
            print(f"Threshold: {threshold:.2f} | mAP: {ap:.3f}")
        print(f"mAP: {block['mean']:.6f}")
        print()
        print_table(
            ["class", "AP50", "AP75", "AP50:95"],
            [
                [name, f"{v[0]:.4f}", f"{v[5]:.4f}", f"{mean_or_undefined(v):.4f}"]
                for name, v in block["per_class"].items()
            ],
        )
        for (title, short, iou, area, max_dets), value in zip(COCO_LINES, block.get("stats", ())):
            print(
                f" {title + ' ':<18} ({short}) @[ IoU={iou:<9} | area={area:>6s} | "
                f"maxDets={max_dets:>3d} ] = {value:0.3f}"
            )
    return 0


def mean_or_undefined(values: list[float]) -> float:
    return -1.0 if values[0] < 0 else sum(values) / len(values)
