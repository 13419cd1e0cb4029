"""Helpers shared by the command modules: adding a command, finding the workspace, printing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO


def add_command(
    subparsers: Any,
    name: str,
    func: Callable[[argparse.Namespace], int | None],
    help: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Add a sub-command that accepts the common options and runs `func(args)`."""
    parser = subparsers.add_parser(name, help=help, description=description or help, parents=[subparsers.common])
    parser.set_defaults(func=func)
    return parser


def workspace_of(args: argparse.Namespace):
    """The workspace named by -C/--workspace, else the one around the current folder, with its
    orch.yaml read now: a bad configuration stops the command before it writes anything (a lock
    file included)."""
    from orchestrator.workspace import Workspace

    given = getattr(args, "workspace", None)
    ws = Workspace.find(Path(given) if given else Path.cwd(), explicit=given is not None)
    _ = ws.config
    return ws


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def print_table(headers: list[str], rows: list[list[Any]], file: TextIO | None = None) -> None:
    """A plain aligned text table (no box drawing: it survives logs, mail and `less`)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), file=file)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=file)
