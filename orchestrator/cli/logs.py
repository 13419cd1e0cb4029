"""`orch log`: parse training logs of any fork into a series or a summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator.base.values import printable
from orchestrator.cli.common import add_command, print_json, print_table


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


def cmd_log(args: argparse.Namespace) -> int:
    from orchestrator.logs import summarize_paths, write_series_csv

    if args.csv:
        write_series_csv(args.files, sys.stdout)
    elif args.json:
        print_json(summarize_paths(args.files))
    else:
        print_summary(summarize_paths(args.files))
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
        # a log's escape sequences and NUL bytes are shown escaped, never sent to the terminal
        print(f"line {error['line']}: {error['kind']}: {printable(error['text'])}")
