"""`orch watch`: the evaluation pass on an interval, as a long-running APScheduler (3.x) process.

The pass runs in the scheduler's single worker thread with max_instances=1 and coalesce, so a
pass longer than the interval delays the next one instead of overlapping it or queueing a
backlog. The main thread only waits for a stop signal: SIGINT/SIGTERM set the stop event (see
signals.py), which the running pass checks (darknet is killed within 0.2 s and nothing is recorded), then
the scheduler is shut down waiting for that pass to return.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from orchestrator.base.errors import OrchError
from orchestrator.evaluation.cluster import SubmitReport, log_submit_pass, submit_pass
from orchestrator.evaluation.passes import PassOptions, PassReport, log_pass, run_pass
from orchestrator.workspace import Workspace

log = logging.getLogger("orchestrator.evaluation")


def watch(
    ws: Workspace,
    runs: list[str] | None,
    options: PassOptions,
    every_seconds: float,
    stop: threading.Event,
    after_pass: Callable[[], object] | None = None,
) -> int:
    """Run passes every `every_seconds` (the first one now) until `stop` is set; the pass count.
    `after_pass` is called after each pass, local or submitting (the CLI brings the report
    page up to date with what was recorded)."""
    passes: list[PassReport | SubmitReport] = []

    def one_pass() -> None:
        chosen = runs if runs else ws.run_names()
        try:
            if options.submit:
                submitted = submit_pass(ws, chosen, options.retry_failed)
                passes.append(submitted)
                log_submit_pass(submitted)
            else:
                report = run_pass(ws, chosen, options, stop)
                passes.append(report)
                log_pass(report)
        except OrchError as exc:  # e.g. orch.yaml edited badly: say so, try again next time
            log.error("pass failed: %s", exc)
            return
        if after_pass is not None:
            after_pass()

    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    scheduler.add_job(
        one_pass,
        IntervalTrigger(seconds=every_seconds),
        id="evaluation-pass",
        next_run_time=_dt.datetime.now(_dt.UTC),
    )
    scheduler.start()
    log.info(
        "watching %s every %gs, %s (Ctrl-C or SIGTERM stops)",
        ", ".join(runs) if runs else "all runs",
        every_seconds,
        "submitting Slurm jobs" if options.submit else f"on GPU {options.gpu}",
    )
    stop.wait()
    log.info("stopping: waiting for the pass in progress to end")
    scheduler.shutdown(wait=True)
    return len(passes)
