"""`orch report` (the interactive comparison page) and `orch export tensorboard`."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.cli.common import add_command, print_json, workspace_of

LOG_HELP = (
    "a training log to draw (any fork; g-darknet's log.csv too) instead of a workspace's runs: FILE "
    "(named by its stem) or NAME=FILE; files given the same name are one run across restarts, "
    "joined in the order given"
)


def register(subparsers) -> None:
    report = add_command(
        subparsers,
        "report",
        cmd_report,
        help="write the interactive report (index.html, plotly.js, CSV) comparing runs",
        description="Write a self-contained folder (index.html, plotly.js, runs.csv, <run>/results.csv) "
        "that compares the training curves and evaluations of the selected runs; it opens offline. "
        "With --log, draw the training curves of log files, no workspace needed.",
    )
    report.add_argument("runs", nargs="*", metavar="RUN", help="runs to include (default: all)")
    report.add_argument("--log", action="append", default=[], metavar="[NAME=]FILE", help=LOG_HELP)
    report.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default: eval.report_dir of orch.yaml, reports/)"
    )
    report.add_argument(
        "--smooth",
        type=int,
        default=0,
        metavar="N",
        help="initial smoothing of the training curves: mean of N points (default 0: off; the page has a slider)",
    )
    report.add_argument("--json", action="store_true", help="the page and the files written next to it, as JSON")

    export = add_command(
        subparsers,
        "export",
        cmd_export,
        help="export training curves and evaluations for TensorBoard",
        description="Write one TensorBoard event folder per run (step = iteration): train/loss, train/avg_loss, "
        "train/lr, train/region/<stat>, darknet/map50, eval/<metric>/<map|ap50|ap75>. Exporting again "
        "adds only the new points. Open with: tensorboard --logdir DIR",
    )
    export.add_argument("format", choices=["tensorboard"], help="the export format")
    export.add_argument("runs", nargs="*", metavar="RUN", help="runs to export (default: all, unless --log)")
    export.add_argument("--log", action="append", default=[], metavar="[NAME=]FILE", help=LOG_HELP)
    export.add_argument("--out", type=Path, metavar="DIR", required=True, help="the folder TensorBoard reads")
    export.add_argument("--json", action="store_true", help="the new points per run, as JSON")


def cmd_report(args: argparse.Namespace) -> int:
    from orchestrator.views.report import write_log_report, write_report

    if args.log:
        if args.runs:
            raise OrchError("give RUN names or --log files, not both", "orch report")
        page = write_log_report(args.log, args.out or Path("report"), smooth=args.smooth)
    else:
        page = write_report(workspace_of(args), args.runs or None, out=args.out, smooth=args.smooth)
    if args.json:
        folder = page.parent
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        print_json({"index": str(page), "folder": str(folder), "files": files})
    else:
        print(page)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from orchestrator.views.tensorboard import export_logs, export_runs

    written = []
    if args.log:
        written += export_logs(args.log, args.out)
    if args.runs or not args.log:
        written += export_runs(workspace_of(args), args.runs or None, args.out)
    if args.json:
        print_json({"out": str(args.out), "new_points": dict(written)})
        return 0
    for run, points in written:
        print(f"{run}: {points} new points")
    print(f"open with: tensorboard --logdir {args.out}")
    return 0
