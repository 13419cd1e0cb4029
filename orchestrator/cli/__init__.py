"""The `orch` command line: parses arguments, calls the modules that do the work, prints.

Every command lives in a module of this package that exposes `register(subparsers)`; the
modules are found by name so that a new command is one new file. Work never happens here:
the functions called are the ones the tests call directly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from orchestrator import __version__
from orchestrator.base.errors import OrchError
from orchestrator.base.values import printable

# Order of the command groups in `orch --help`, following the life of an experiment.
COMMAND_MODULES = ("workspace", "runs", "executors", "evaluation", "metrics", "logs", "views", "demo")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line, `orch: error: ...`, with exit status 2, like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog.split()[0]}: error: {message} (try '{self.prog} --help')\n")


def common_options() -> argparse.ArgumentParser:
    """Options every command accepts, before or after the command name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-C",
        "--workspace",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="workspace folder (default: found from the current folder upwards)",
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks instead of one-line errors"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = OneLineParser(
        prog="orch",
        parents=[common],
        description="Orchestrate Darknet (YOLO) training on Slurm and evaluate every checkpoint "
        "with VOC and COCO mAP under the IoU and GIoU matching metrics.",
    )
    parser.add_argument("--version", action="version", version=f"orch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser)
    subparsers.common = common  # type: ignore[attr-defined]
    for name in command_modules():
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def command_modules() -> list[str]:
    """The command modules present, in the order of COMMAND_MODULES (unknown ones last)."""
    present = {m.name for m in pkgutil.iter_modules(__path__) if m.name != "common"}
    rank = {name: i for i, name in enumerate(COMMAND_MODULES)}
    return sorted(present, key=lambda n: (rank.get(n, len(rank)), n))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return int(args.func(args) or 0)
    except OrchError as exc:
        if debug:
            raise
        for error in exc.errors:
            print(f"orch: error: {printable(str(error))}", file=sys.stderr)
            if error.hint:
                print(error.hint.rstrip("\n"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("orch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except OSError as exc:  # the system refused a file or folder we were told to use
        if debug:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"orch: error: {printable(f'{exc.strerror or exc}{where}')}", file=sys.stderr)
        return 2


def _reader_gone() -> int:
    """stdout's reader left (`orch status --json | head -1`): stop quietly, as `cat` does.
    stdout is pointed at /dev/null so that the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141  # 128 + SIGPIPE, what a shell reports for a command killed by the broken pipe
