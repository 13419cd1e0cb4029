"""`orch watch`: the evaluation pass on an interval, as a long-running APScheduler (3.x) process.

The pass runs in the scheduler's single worker thread with max_instances=1 and coalesce, so a
pass longer than the interval delays the next one instead of overlapping it or queueing a
backlog. The main thread only waits for a stop signal: SIGINT/SIGTERM set the stop event,
which the running pass checks (darknet is killed within 0.2 s and nothing is recorded), then
the scheduler is shut down waiting for that pass to return.
"""

from __future__ import annotations

import datetime as _dt
import logging
import signal
import threading
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from orchestrator.evaluation.passes import PassOptions, PassReport, run_pass
from orchestrator.workspace import Workspace

log = logging.getLogger("orchestrator.evaluation")


def watch(ws: Workspace, runs: list[str] | None, options: PassOptions, every_seconds: float,
          stop: threading.Event) -> int:
    """Run passes every `every_seconds` (the first one now) until `stop` is set; the pass count."""
    passes = []

    def one_pass() -> None:
        report = run_pass(ws, runs if runs else ws.run_names(), options, stop)
        passes.append(report)
        log_pass(report)

    scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(1)},
                                    job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None})
    scheduler.add_job(one_pass, IntervalTrigger(seconds=every_seconds), id="evaluation-pass",
                      next_run_time=_dt.datetime.now(_dt.timezone.utc))
    scheduler.start()
    log.info("watching %s every %gs on GPU %d (Ctrl-C or SIGTERM stops)",
             ", ".join(runs) if runs else "all runs", every_seconds, options.gpu)
    stop.wait()
    log.info("stopping: waiting for the pass in progress to end")
    scheduler.shutdown(wait=True)
    return len(passes)


def log_pass(report: PassReport) -> None:
    """One summary line per pass: what was evaluated, how long it took, what failed."""
    failed = report.failed
    log.info("pass done in %.1f s: %d evaluated, %d failed%s%s", report.seconds, len(report.outcomes), len(failed),
             "".join(f"; {o.run} {o.weights}: {o.error}" for o in failed),
             "; interrupted" if report.interrupted else "")


def stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGINT and SIGTERM set `stop` (instead of raising mid-write); returns the restorer."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: stop.set())

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
