"""`orch submit`, `orch status`, `orch cancel`, `orch resubmit`: training jobs of runs."""

from __future__ import annotations

import argparse
import sys

from orchestrator.base.errors import Problems
from orchestrator.cli.common import add_command, print_json, print_table, workspace_of
from orchestrator.config import EXECUTORS
from orchestrator.darknet.weights import checkpoint_warning
from orchestrator.executors import (
    DEFAULT_WARMUP,
    cancel_runs,
    describe_submission,
    executor_name,
    executor_named,
    resubmit_run,
    submit_run,
)
from orchestrator.runs import JobRecord, load_manifest


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
    _force_option(submit)
    _json_option(submit)

    status = add_command(subparsers, "status", cmd_status, help="one table: jobs, progress, weights, evaluations")
    status.add_argument("runs", nargs="*", metavar="RUN", help="runs to show (default: all)")
    status.add_argument("--json", action="store_true", help="a list with one object per run")

    cancel = add_command(
        subparsers, "cancel", cmd_cancel, help="cancel the queued or running jobs of runs (evaluation jobs too)"
    )
    cancel.add_argument("runs", nargs="+", metavar="RUN")
    _json_option(cancel)
    cancel.add_argument("--keep-eval", action="store_true", help="leave the runs' evaluation jobs queued or running")

    resubmit = add_command(
        subparsers,
        "resubmit",
        cmd_resubmit,
        help="submit a run again (same executor unless --executor); it resumes from its newest weights",
    )
    resubmit.add_argument("run", metavar="RUN")
    _executor_option(resubmit)
    _force_option(resubmit)
    _json_option(resubmit)


def _executor_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=EXECUTORS, help="override orch.yaml's executor")


def _force_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="submit a run that finished training (its _final.weights exists)"
    )


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="the jobs as a JSON list")


def cmd_submit(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    executor = executor_named(ws, executor_name(ws, args.executor))
    _warn_about_checkpoints(ws, args.runs)
    if args.dry_run:
        plans = {run: describe_submission(ws, run, executor, args.warmup) for run in args.runs}
        if args.json:
            print_json([{"run": run, "dry_run": text} for run, text in plans.items()])
        else:
            print("\n".join(plans.values()))
        return 0
    submitted = {
        run: with_final_evaluation(ws, run, submit_run(ws, run, executor, args.warmup, force=args.force))
        for run in args.runs
    }
    _print_submitted(submitted, args.json)
    return 0


def _warn_about_checkpoints(ws, runs: list[str]) -> None:
    """A GPU count that does not divide 100 costs checkpoints (said at new-run, and again here)."""
    for run in runs:
        warning = checkpoint_warning(load_manifest(ws, run).gpus)
        if warning:
            print(f"orch: warning: run {run}: {warning}", file=sys.stderr)


def cmd_resubmit(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    records = resubmit_run(ws, args.run, args.executor, force=args.force)
    _print_submitted({args.run: with_final_evaluation(ws, args.run, records)}, args.json)
    return 0


def with_final_evaluation(ws, run: str, records: list[JobRecord]) -> list[JobRecord]:
    """On Slurm, the training's jobs and one evaluation job queued behind them (afterany) for
    what the run leaves: a run nobody watches still ends evaluated."""
    if records[-1].executor != "slurm":
        return records
    from orchestrator.evaluation.cluster import submit_final_evaluation

    return [*records, submit_final_evaluation(ws, run, records[-1].job_id).record()]


def _print_submitted(submitted: dict[str, list[JobRecord]], as_json: bool) -> None:
    """One line per run, or the job records (with their run) as a JSON list."""
    if as_json:
        print_json([{"run": run, **record.to_dict()} for run, records in submitted.items() for record in records])
        return
    for run, records in submitted.items():
        jobs = ", ".join(f"{r.phase} job {r.job_id} ({r.gpus} GPU)" for r in records)
        print(f"{run}: submitted to {records[0].executor}: {jobs}")


def cmd_status(args: argparse.Namespace) -> int:
    from orchestrator.views.status import collect_status, status_table  # reads logs: NumPy

    problems = Problems()
    rows = collect_status(workspace_of(args), args.runs, problems)
    if args.json:
        print_json(rows)
    else:
        print_table(*status_table(rows))
    problems.raise_any()  # after the table of the others
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from orchestrator.evaluation.cluster import cancel_evaluations

    ws = workspace_of(args)
    # evaluation jobs first: the one waiting for the training (afterany) would start at its end
    evaluations = [] if args.keep_eval else cancel_evaluations(ws, args.runs)
    cancelled = cancel_runs(ws, args.runs) + evaluations
    if args.json:
        print_json([record.to_dict() for record in cancelled])
        return 0
    for record in cancelled:
        print(f"cancelled {record.executor} job {record.job_id} ({record.phase})")
    if not cancelled:
        print("nothing queued or running")
    return 0
