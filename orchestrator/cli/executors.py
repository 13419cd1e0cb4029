"""`orch submit`, `orch status`, `orch cancel`, `orch resubmit`: training jobs of runs."""

from __future__ import annotations

import argparse

from orchestrator.cli.common import add_command, print_json, print_table, workspace_of
from orchestrator.config import EXECUTORS
from orchestrator.executors import (
    DEFAULT_WARMUP,
    cancel_runs,
    describe_submission,
    executor_name,
    executor_named,
    resubmit_run,
    submit_run,
)
from orchestrator.runs import JobRecord


def register(subparsers) -> None:
    submit = add_command(
        subparsers,
        "submit",
        cmd_submit,
        help="submit runs for training (Slurm or local)",
        description="Submit runs: one job, or for a multi-GPU run without weights a one-GPU "
        "warm-up and the N-GPU phase after it (--dependency=afterok).",
    )
    submit.add_argument("runs", nargs="+", metavar="RUN")
    _executor_option(submit)
    submit.add_argument(
        "--warmup",
        type=int,
        default=None,
        metavar="N",
        help=f"warm-up iterations on one GPU for multi-GPU runs (default {DEFAULT_WARMUP}; 0: none)",
    )
    submit.add_argument("--dry-run", action="store_true", help="print the scripts and commands, submit nothing")

    status = add_command(subparsers, "status", cmd_status, help="one table: jobs, progress, weights, evaluations")
    status.add_argument("runs", nargs="*", metavar="RUN", help="runs to show (default: all)")
    status.add_argument("--json", action="store_true", help="a list with one object per run")

    cancel = add_command(subparsers, "cancel", cmd_cancel, help="cancel the queued or running jobs of runs")
    cancel.add_argument("runs", nargs="+", metavar="RUN")

    resubmit = add_command(
        subparsers,
        "resubmit",
        cmd_resubmit,
        help="submit a run again (same executor unless --executor); it resumes from its newest weights",
    )
    resubmit.add_argument("run", metavar="RUN")
    _executor_option(resubmit)


def _executor_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=EXECUTORS, help="override orch.yaml's executor")


def cmd_submit(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    executor = executor_named(ws, executor_name(ws, args.executor))
    for run in args.runs:
        if args.dry_run:
            print(describe_submission(ws, run, executor, args.warmup))
            continue
        _print_submitted(run, submit_run(ws, run, executor, args.warmup))
    return 0


def cmd_resubmit(args: argparse.Namespace) -> int:
    _print_submitted(args.run, resubmit_run(workspace_of(args), args.run, args.executor))
    return 0


def _print_submitted(run: str, records: list[JobRecord]) -> None:
    jobs = ", ".join(f"{r.phase} job {r.job_id} ({r.gpus} GPU)" for r in records)
    print(f"{run}: submitted to {records[0].executor}: {jobs}")


def cmd_status(args: argparse.Namespace) -> int:
    from orchestrator.views.status import collect_status, status_table  # reads logs: NumPy

    rows = collect_status(workspace_of(args), args.runs)
    if args.json:
        print_json(rows)
    else:
        print_table(*status_table(rows))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    cancelled = cancel_runs(workspace_of(args), args.runs)
    for record in cancelled:
        print(f"cancelled {record.executor} job {record.job_id} ({record.phase})")
    if not cancelled:
        print("nothing queued or running")
    return 0
