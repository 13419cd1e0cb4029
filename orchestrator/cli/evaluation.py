"""`orch eval`, `orch best`, `orch watch`, `orch crontab`: ongoing evaluation of weights files."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import threading
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.base.values import INT_MAX
from orchestrator.cli.common import add_command, print_json, print_table, workspace_of
from orchestrator.config import DURATION_HELP, duration_text, parse_duration
from orchestrator.evaluation import crontab
from orchestrator.evaluation.best import best_record, shown_split, summary
from orchestrator.evaluation.signals import stop_on_signals
from orchestrator.evaluation.store import load_results
from orchestrator.metrics.measures import MEASURES
from orchestrator.metrics.overlaps import OVERLAPS, PRIMARY
from orchestrator.runs import load_manifest

LOG_HANDLER = "orch-evaluation-cli"
#: `orch eval`'s exit status when an evaluation of the pass failed (cron mails it, scripts see it).
EXIT_FAILED = 3

# The pass (NumPy, metrics engine) and the scheduler (APScheduler) are imported by the commands
# that use them, so that every other `orch` command starts quickly.


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "eval",
        cmd_eval,
        help="evaluate new weights files once (what cron runs)",
        description="Evaluate every new weights file of the runs with darknet detector valid "
        "and append one record per file and split to results/RUN/metrics.jsonl; with --submit "
        "(or eval.submit: true) submit them as one Slurm array job instead, one GPU per file. "
        f"Exit status {EXIT_FAILED} when an evaluation of the pass failed, 0 when all succeeded, "
        "there was nothing to do or another evaluator was busy (said on stderr). A run that cannot be "
        "evaluated at all (its cfg, dataset or darknet binary) is reported, costs no attempt, and the other "
        f"runs are evaluated (exit status {EXIT_FAILED}); a record that cannot be written (disk full) stops "
        "the pass (exit status 2).",
    )
    parser.add_argument("runs", nargs="*", metavar="RUN")
    parser.add_argument("--all", action="store_true", help="every run of the workspace")
    _gpu_option(parser)
    parser.add_argument("--max-files", type=_positive_int, metavar="K", help="evaluate at most K files")
    parser.add_argument(
        "--retry-failed", action="store_true", help="try again the files that failed eval.max_attempts times"
    )
    parser.add_argument(
        "--submit", action="store_true", help="submit Slurm jobs (eval.slurm) instead of running darknet here"
    )
    parser.add_argument("--json", action="store_true", help="print the pass as JSON")

    # What an evaluation job runs (rendered into its script by --submit): not for users.
    task = subparsers.add_parser("eval-task", parents=[subparsers.common])
    task.add_argument("tasks", type=Path)
    task.add_argument("number", type=int)
    task.add_argument("job")
    task.set_defaults(func=cmd_eval_task)

    parser = add_command(
        subparsers,
        "best",
        cmd_best,
        help="the best weights file of a run",
        description="Print the absolute path of the run's best weights file, nothing else, so that "
        "$(orch best RUN) works in a shell; -v adds the scores on stderr. Exit status 2 when that file "
        "no longer exists.",
    )
    parser.add_argument("run", metavar="RUN")
    parser.add_argument(
        "--metric", choices=tuple(OVERLAPS), default=PRIMARY, help=f"matching metric (default {PRIMARY})"
    )
    parser.add_argument(
        "--measure", choices=tuple(MEASURES), default="mean", help="mean = AP over .50:.05:.95 (default), ap50, ap75"
    )
    parser.add_argument("--split", help="validation split (default: the dataset's first)")
    parser.add_argument("-v", "--verbose", action="store_true", help="also the scores of that file, on stderr")
    parser.add_argument("--json", action="store_true", help="the path and its scores as one JSON object")

    parser = add_command(
        subparsers,
        "watch",
        cmd_watch,
        help="evaluate new weights on an interval (APScheduler)",
        description="Run the evaluation pass every --every for the given runs (default: all), "
        "never overlapping itself; stops cleanly on Ctrl-C or SIGTERM.",
    )
    parser.add_argument("runs", nargs="*", metavar="RUN")
    _gpu_option(parser)
    parser.add_argument("--every", metavar="DURATION", help=f"{DURATION_HELP}; default: eval.every of orch.yaml")

    parser = add_command(
        subparsers,
        "crontab",
        cmd_crontab,
        help="cron lines running 'orch eval --all' under flock",
        description="Print the crontab block (rendered from crontab.tmpl) or merge it into "
        "the user's crontab (--install, idempotent) or remove it (--uninstall).",
    )
    parser.add_argument(
        "--every",
        metavar="DURATION",
        help=f"{DURATION_HELP}, dividing the hour or the day (cron restarts */N at the hour); default: eval.every",
    )
    _gpu_option(parser)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--install", action="store_true", help="merge the block into your crontab")
    action.add_argument("--uninstall", action="store_true", help="remove the block from your crontab")
    parser.add_argument("--json", action="store_true", help="the schedule, command and block as JSON")


def _gpu_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gpu", type=_gpu_id, metavar="G", help="GPU to evaluate on (default: eval.gpu of orch.yaml)")


def _gpu_id(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= INT_MAX:
        raise argparse.ArgumentTypeError(f"expected a GPU index (0, 1, ...), got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if not 1 <= value <= INT_MAX:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a message comes, not to the stream it was made with:
    a pass run later in the same process (the demo, tests calling `main`) must not write into a
    stream that an earlier command's caller has closed since."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _show_log(timestamps: bool) -> None:
    """Evaluation messages on stderr (stdout stays clean for --json).

    Replaces the handler of an earlier command in the same process (tests call `main` often).
    """
    logger = logging.getLogger("orchestrator.evaluation")
    for old in [h for h in logger.handlers if h.get_name() == LOG_HANDLER]:
        logger.removeHandler(old)
    handler = _StderrHandler()
    handler.set_name(LOG_HANDLER)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(message)s" if timestamps else "%(message)s", "%Y-%m-%d %H:%M:%S")
    )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _chosen_runs(ws, runs: list[str], all_runs: bool) -> list[str]:
    if all_runs and runs:
        raise OrchError("give RUN names or --all, not both", "eval")
    if all_runs:
        return ws.run_names()
    if not runs:
        raise OrchError("name the runs to evaluate or use --all", "eval")
    for run in runs:
        load_manifest(ws, run)  # an unknown run is an error before anything starts
    return runs


def cmd_eval(args: argparse.Namespace) -> int:
    from orchestrator.evaluation.passes import PassOptions, log_pass, run_pass

    ws = workspace_of(args)
    runs = _chosen_runs(ws, args.runs, args.all)
    if args.submit or ws.config.eval.submits(args.gpu):
        return _submit(ws, runs, args)
    gpu = ws.config.eval.gpu_of(args.gpu)
    _show_log(timestamps=not sys.stderr.isatty())
    stop = threading.Event()
    restore = stop_on_signals(stop)
    try:
        report = run_pass(
            ws,
            runs,
            PassOptions(gpu=gpu, max_files=args.max_files, retry_failed=args.retry_failed, show_progress=not args.json),
            stop,
        )
    finally:
        restore()
    if args.json:
        print_json(_report_json(report))
    else:
        log_pass(report)
    if report.stopped:
        print(f"orch: error: {report.stopped}", file=sys.stderr)
        return 2  # the full disk would defeat the report as well
    _refresh_report(ws, report)
    return 130 if report.interrupted else EXIT_FAILED if report.failed or report.errors else 0


def _submit(ws, runs: list[str], args: argparse.Namespace) -> int:
    """`orch eval --submit`: one array job for the pending weights of the runs."""
    from orchestrator.evaluation.cluster import log_submit_pass, submit_pass

    _show_log(timestamps=not sys.stderr.isatty())
    report = submit_pass(ws, runs, args.retry_failed)
    if args.json:
        errors = {"errors": [dataclasses.asdict(e) for e in report.errors]} if report.errors else {}
        print_json({"submitted": report.submitted, "in_flight": report.in_flight, **errors})
    else:
        log_submit_pass(report)
    _refresh_stale_report(ws)
    return EXIT_FAILED if report.failed or report.errors else 0


def cmd_eval_task(args: argparse.Namespace) -> int:
    from orchestrator.evaluation.cluster import run_task
    from orchestrator.evaluation.darknet_valid import Interrupted

    ws = workspace_of(args)
    _show_log(timestamps=True)
    stop = threading.Event()
    restore = stop_on_signals(stop)
    try:
        records = run_task(ws, args.tasks, args.number, args.job, stop)
    except Interrupted:  # scancel: nothing recorded, the next pass records the job's end
        return 130
    finally:
        restore()
    return EXIT_FAILED if any(not r.ok for r in records) else 0


def _refresh_stale_report(ws) -> None:
    """Evaluations recorded since the page was built (by this pass, or by cluster tasks since
    the last submit pass): the report is rebuilt once, rather than by every task."""
    from orchestrator.views.report import refresh_if_stale

    refresh_if_stale(ws)


def _refresh_report(ws, report) -> None:
    """The report page follows every pass that recorded something (eval.report in orch.yaml)."""
    from orchestrator.views.report import refresh_after_pass

    refresh_after_pass(ws, len(report.outcomes))


def _report_json(report) -> dict:
    """`orch eval --json`: the pass report (a passes.PassReport) as plain data."""
    return {
        "evaluated": [dataclasses.asdict(o) for o in report.outcomes],
        "failed": len(report.failed),
        "busy": report.busy,
        "errors": [dataclasses.asdict(e) for e in report.errors],
        "stopped": report.stopped,
        "interrupted": report.interrupted,
        "seconds": round(report.seconds, 3),
    }


def cmd_best(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    manifest = load_manifest(ws, args.run)
    records = load_results(ws, args.run, per_class=False)
    split = args.split or shown_split(ws, manifest, records)
    if split is None:
        raise OrchError(f"run {args.run} has no successful evaluation yet (run 'orch eval {args.run}')", args.run)
    best = summary(best_record(records, args.metric, args.measure, split), args.metric, args.measure)
    path = (ws.root / best["weights"]).absolute()
    if not path.is_file():
        raise OrchError(f"the best weights file of run {args.run} no longer exists", str(path))
    if args.json:
        print_json({**best, "path": str(path)})
        return 0
    print(path)
    if args.verbose:
        print_table(
            ["iteration", "split", "metric", *MEASURES],
            [[best["iteration"], best["split"], best["metric"], *(f"{best[m]:.4f}" for m in MEASURES)]],
            file=sys.stderr,
        )
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from orchestrator.evaluation.passes import PassOptions
    from orchestrator.evaluation.scheduler import watch

    ws = workspace_of(args)
    for run in args.runs:
        load_manifest(ws, run)
    config = ws.config.eval
    every = parse_duration(args.every, "--every") if args.every else config.every_seconds
    gpu = config.gpu_of(args.gpu)
    _show_log(timestamps=True)
    stop = threading.Event()
    restore = stop_on_signals(stop)
    try:
        watch(
            ws,
            args.runs or None,
            PassOptions(gpu=gpu, show_progress=True, submit=config.submits(args.gpu)),
            every,
            stop,
            after_pass=lambda: _refresh_stale_report(ws),
        )
    finally:
        restore()
    return 0


def cmd_crontab(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    every_seconds = parse_duration(args.every, "--every") if args.every else ws.config.eval.every_seconds
    every = crontab.cron_minutes(every_seconds)
    gpu, submit = ws.config.eval.gpu_of(args.gpu), ws.config.eval.submits(args.gpu)
    if args.uninstall:
        removed = crontab.uninstall(ws)
        if args.json:
            print_json({"action": "uninstall", "removed": removed, "workspace": str(ws.root)})
        else:
            print(
                "removed the orch block from your crontab"
                if removed
                else "no orch block for this workspace in your crontab"
            )
        return 0
    block = crontab.install(ws, every, args.gpu) if args.install else crontab.render_block(ws, every, args.gpu)
    if args.json:
        print_json(
            {
                "action": "install" if args.install else "print",
                "every": duration_text(every * 60),
                "schedule": crontab.schedule(every),
                "gpu": gpu,
                "log": str(ws.root / crontab.CRON_LOG),
                "block": block,
            }
        )
    elif args.install:
        print(
            f"installed: 'orch eval --all {'--submit' if submit else f'--gpu {gpu}'}' every {duration_text(every * 60)}; log: {ws.root / crontab.CRON_LOG}"
        )
    else:
        sys.stdout.write(block)
    return 0
