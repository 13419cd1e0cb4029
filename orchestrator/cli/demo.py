"""`orch demo`: the embedded default job (what `make demo` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.cli.common import add_command


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "demo",
        cmd_demo,
        help="train two tiny runs with the real darknet, evaluate every checkpoint, report",
        description="Draw a small shapes dataset, build two tiny-shapes runs that differ in "
        "learning rate, train both (local executor, or Slurm when a cluster "
        "answers), evaluate every checkpoint while they train and write the report.",
    )
    parser.add_argument("dir", nargs="?", default="demo", help="workspace to create (default: demo)")
    parser.add_argument("--iterations", type=int, default=600, help="training iterations per run (default 600)")
    parser.add_argument("--force", action="store_true", help="replace a previous demo workspace in DIR")


def cmd_demo(args: argparse.Namespace) -> int:
    from orchestrator.demo import run_demo

    if args.iterations < 100:
        raise OrchError("--iterations must be at least 100 (darknet saves weights every 100)", "--iterations")
    run_demo(Path(args.dir), iterations=args.iterations, force=args.force, out=lambda line: print(line, flush=True))
    return 0
