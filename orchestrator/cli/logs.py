"""`orch log` (parse training logs) and `orch report` (static HTML/PNG/CSV comparison)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator.cli.common import add_command, print_json, print_table, workspace_of


def register(subparsers) -> None:
    log = add_command(
        subparsers,
        "log",
        cmd_log,
        help="parse Darknet training logs (any fork) into a series or a summary",
        description="Parse Darknet training logs of any fork. Several files are "
        "merged in the order given (the jobs of one run).",
    )
    log.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="training log(s), or g-darknet's backup/<run>/log.csv"
    )
    shape = log.add_mutually_exclusive_group()
    shape.add_argument("--csv", action="store_true", help="print iteration,loss,avg_loss,rate,seconds,images")
    shape.add_argument("--json", action="store_true", help="print a JSON summary")

    report = add_command(
        subparsers,
        "report",
        cmd_report,
        help="write index.html, PNG plots and CSV comparing runs",
        description="Write a static report (index.html, PNG plots, CSV) of "
        "the training logs and evaluations of the selected runs.",
    )
    report.add_argument("runs", nargs="*", metavar="RUN", help="runs to include (default: all)")
    report.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: <workspace>/reports)")
    report.add_argument(
        "--smooth",
        type=int,
        default=None,
        metavar="N",
        help="moving-average window of the loss curves, in iterations (default: about 1%% of the longest run)",
    )
    report.add_argument(
        "--since",
        type=int,
        default=0,
        metavar="ITER",
        help="leave out iterations before ITER (the first losses dwarf the rest)",
    )


def cmd_log(args: argparse.Namespace) -> int:
    from orchestrator.logs import parse_paths

    log = parse_paths(args.files)
    if args.csv:
        sys.stdout.write(log.series_csv())
    elif args.json:
        print_json(log.summary())
    else:
        print_summary(log.summary())
    return 0


def print_summary(summary: dict) -> None:
    """The JSON summary as a few readable lines."""
    last = summary["last"] or {}
    print_table(
        ["format", "iterations", "last iteration", "avg loss", "restarts", "mAP points", "errors"],
        [
            [
                summary["format"],
                summary["iterations"],
                last.get("iteration"),
                last.get("avg_loss"),
                len(summary["restarts"]),
                len(summary["map"]),
                len(summary["errors"]),
            ]
        ],
    )
    for error in summary["errors"][:20]:
        print(f"line {error['line']}: {error['kind']}: {error['text']}")


def cmd_report(args: argparse.Namespace) -> int:
    from orchestrator.views.report import write_report

    workspace = workspace_of(args)
    out = write_report(workspace, args.runs or None, out=args.out, smooth=args.smooth, since=args.since)
    print(out / "index.html")
    return 0
