"""`orch new-run` and `orch templates`: build runs from templates."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from orchestrator.base.errors import OrchError
from orchestrator.cli.common import add_command, print_json, print_table, workspace_of
from orchestrator.executors import new_run
from orchestrator.runs import compose_spec, parse_setting
from orchestrator.templates import describe_template, template_names


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "new-run",
        cmd_new_run,
        help="build a run (.data, .cfg, .sbatch, run.yaml)",
        description="Build a run from a cfg template: writes runs/NAME/NAME.data, "
        "runs/NAME/NAME.cfg, batch/NAME.sbatch and runs/NAME/run.yaml.",
    )
    parser.add_argument("name", help="run name: letters, digits, '.', '_', '-'")
    parser.add_argument("--template", help="cfg template (see 'orch templates')")
    parser.add_argument("--dataset", help="dataset name from orch.yaml")
    parser.add_argument(
        "--from", dest="from_run", metavar="RUN", help="clone RUN's parameters, then apply the options given"
    )
    parser.add_argument("--gpus", type=int, help="GPU count (lr / N and burn_in x N in the cfg)")
    parser.add_argument("--iou-loss", help="mse | iou | giou (and the fork's extras) on every [yolo]")
    parser.add_argument("--iou-normalizer", type=float, help="iou_normalizer on every [yolo]")
    parser.add_argument("--cls-normalizer", type=float, help="cls_normalizer on every [yolo]")
    parser.add_argument("--representation", help="lin | exp on every [yolo] (g-darknet)")
    parser.add_argument(
        "--lr", type=float, dest="learning_rate", help="single-GPU base learning rate (default: template)"
    )
    parser.add_argument("--burn-in", type=int, help="single-GPU base burn-in (default: template)")
    parser.add_argument("--max-batches", type=int, help="[net] max_batches")
    parser.add_argument("--steps", type=_steps, help="[net] steps, e.g. 40000,45000")
    parser.add_argument("--batch", type=int, help="[net] batch")
    parser.add_argument("--subdivisions", type=int, help="[net] subdivisions")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="any cfg key: net.momentum=0.95, yolo.ignore_thresh=0.7 (every [yolo]), "
        "convolutional[0].filters=32; repeatable",
    )
    parser.add_argument("--force", action="store_true", help="rebuild an existing run")
    parser.add_argument("--json", action="store_true", help="the run's manifest and the files written, as JSON")
    templates = add_command(
        subparsers,
        "templates",
        cmd_templates,
        help="list the cfg templates: input size, classes, [yolo] layers, what each is for",
    )
    templates.add_argument("--json", action="store_true", help="one object per template")


def _steps(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated iterations, got {text!r}") from None


def cmd_new_run(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    settings = dict(parse_setting(s) for s in args.settings)
    changes = {
        k: getattr(args, k)
        for k in (
            "gpus",
            "iou_loss",
            "iou_normalizer",
            "cls_normalizer",
            "representation",
            "learning_rate",
            "burn_in",
            "max_batches",
            "steps",
            "batch",
            "subdivisions",
        )
    }
    spec = compose_spec(ws, args.from_run, args.template, args.dataset, settings, **changes)
    built = new_run(ws, args.name, spec, force=args.force, parent=args.from_run)
    for warning in built.warnings:
        print(f"orch: warning: {warning}", file=sys.stderr)
    m = built.manifest
    if args.json:
        print_json({"manifest": m.to_dict(), "wrote": [ws.relative(path) for path in built.files]})
        return 0
    s = m.scaling
    cloned = f", cloned from {m.parent}" if m.parent else ""
    print(f"run {m.name}: template {m.template}, dataset {m.dataset} ({m.classes} classes), {m.gpus} GPU(s){cloned}")
    print(
        f"  learning_rate {s.cfg_learning_rate:g} (base {s.base_learning_rate:g}), "
        f"burn_in {s.cfg_burn_in} (base {s.base_burn_in}), max_batches {m.max_batches}  [{s.rule}]"
    )
    for path in built.files:
        print(f"  wrote {ws.relative(path)}")
    return 0


def cmd_templates(args: argparse.Namespace) -> int:
    """Shipped templates, plus the workspace's own when there is one (none is fine here)."""
    try:
        root = workspace_of(args).root
    except OrchError:
        root = None
    infos = [describe_template(root, name) for name in template_names(root)]
    if args.json:
        print_json([dataclasses.asdict(info) for info in infos])
        return 0
    print_table(
        ["TEMPLATE", "INPUT", "CLASSES", "YOLO", "MAX_BATCHES", "FOR"],
        [[t.name, f"{t.width}x{t.height}", t.classes, t.yolo_layers, t.max_batches, t.purpose] for t in infos],
    )
    return 0
