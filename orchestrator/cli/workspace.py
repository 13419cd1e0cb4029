"""`orch init`: create a workspace."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.cli.common import add_command, print_json
from orchestrator.workspace import CONFIG_NAME, init_workspace


def register(subparsers) -> None:
    parser = add_command(subparsers, "init", cmd_init, help="create a workspace (orch.yaml and folders)")
    parser.add_argument("dir", nargs="?", default=".", help="workspace folder (default: here)")
    parser.add_argument("--force", action="store_true", help="rewrite an existing orch.yaml")
    parser.add_argument("--json", action="store_true", help="the workspace and its orch.yaml as JSON")


def cmd_init(args: argparse.Namespace) -> int:
    ws = init_workspace(Path(args.dir), force=args.force)
    if args.json:
        print_json({"workspace": str(ws.root), "config": str(ws.root / CONFIG_NAME)})
        return 0
    print(f"workspace ready: {ws.root}")
    print(f"next: add a dataset to {ws.root / 'orch.yaml'}, then 'orch new-run NAME --template ... --dataset ...'")
    return 0
