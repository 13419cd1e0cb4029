"""One evaluation pass: every run's pending weights files, under the locks (what cron and watch run).

A pass takes the GPU lock for its whole duration and each run's lock while it works on that
run; a busy lock means another evaluator is on it, so the pass says so and moves on. The store
index is built AFTER the run lock is taken, so two evaluators can never both see a file as new.

One run never stops the others: whatever goes wrong with a run (its cfg, its dataset, its
run.yaml, a bug) becomes a run-level error of the pass, one line, and the next run is evaluated.
Only a store that cannot be written (a full disk) stops the pass: every later record would be
lost the same way.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from dataclasses import dataclass, field

from orchestrator.base.errors import OrchError
from orchestrator.base.locks import Busy, gpu_lock, run_lock
from orchestrator.base.progress import Progress
from orchestrator.base.values import printable
from orchestrator.evaluation.darknet_valid import Interrupted
from orchestrator.evaluation.discovery import discover_weights, still_unchanged
from orchestrator.evaluation.evaluate import RunSetup, Target, dataset_of, evaluate, prepare_run
from orchestrator.evaluation.progress import count_images
from orchestrator.evaluation.store import StoreIndex, StoreWriteFailed, append_record
from orchestrator.runs import RunManifest, load_manifest
from orchestrator.workspace import Workspace

log = logging.getLogger("orchestrator.evaluation")
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}  # no later write of this pass would succeed


@dataclass
class Outcome:
    """One evaluation of a pass, as printed and returned by `orch eval --json`."""

    run: str
    split: str
    weights: str
    iteration: int
    status: str
    seconds: float
    error: str | None = None
    mean: dict[str, float] = field(default_factory=dict)  # metric -> mean AP over thresholds


@dataclass
class RunError:
    """A run the pass could not evaluate at all, and why (one line); no attempt was spent."""

    run: str
    error: str


@dataclass
class PassReport:
    outcomes: list[Outcome] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    stopped: str | None = None  # why the pass ended early (the store could not be written)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != "ok"]


@dataclass(frozen=True)
class PassOptions:
    gpu: int
    max_files: int | None = None
    retry_failed: bool = False
    show_progress: bool = False
    submit: bool = False  # submit Slurm jobs (evaluation.cluster) instead of running darknet here


def pending_targets(
    ws: Workspace, manifest: RunManifest, index: StoreIndex, retry_failed: bool = False
) -> list[Target]:
    """The run's weights × splits that still need an evaluation, in evaluation order."""
    config = ws.config.eval
    splits = list(dataset_of(ws, manifest).valid)
    targets = []
    for weights in discover_weights(ws, manifest, config.min_weight_id, config.settle_seconds):
        for split in splits:
            key = (split, *weights.key)
            if index.is_done(key):
                continue
            failures = index.failed_attempts(key)
            if failures >= config.max_attempts and not retry_failed:
                continue
            targets.append(Target(manifest, weights, split, attempt=failures + 1))
    return targets


def backlog(ws: Workspace, manifest: RunManifest, index: StoreIndex) -> tuple[list[Target], list[Target]]:
    """(pending, exhausted) from ONE discovery: the targets a pass would evaluate now, and those
    that failed eval.max_attempts times and are skipped until `--retry-failed` (no lock taken)."""
    limit = ws.config.eval.max_attempts
    targets = pending_targets(ws, manifest, index, retry_failed=True)
    return [t for t in targets if t.attempt <= limit], [t for t in targets if t.attempt > limit]


def run_pass(ws: Workspace, runs: list[str], options: PassOptions, stop: threading.Event | None = None) -> PassReport:
    """Evaluate what is pending in `runs` on one GPU; one bad weights file never stops the others."""
    stop = stop or threading.Event()
    report = PassReport()
    started = time.monotonic()
    try:
        with gpu_lock(options.gpu):
            for run in runs:
                if stop.is_set() or _budget_spent(report, options):
                    break
                _evaluate_run(ws, run, options, stop, report)
    except Busy as busy:
        report.busy.append(str(busy))
        log.info("%s; nothing done", busy)
    except Interrupted:
        report.interrupted = True
        log.info("stopped: the evaluation in progress was abandoned (it runs again next pass)")
    except StoreWriteFailed as failure:
        report.stopped = str(failure)
        log.error("pass stopped: %s", failure)
    report.seconds = time.monotonic() - started
    return report


def _evaluate_run(ws: Workspace, run: str, options: PassOptions, stop: threading.Event, report: PassReport) -> None:
    """The run's pending targets; any failure of the run as a whole is recorded as its error."""
    try:
        with run_lock(ws.eval_lock_path(run), run):
            _evaluate_targets(ws, run, options, stop, report)
    except Busy as busy:
        report.busy.append(str(busy))
        log.info("%s; skipped", busy)
    except (Interrupted, StoreWriteFailed):
        raise
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise StoreWriteFailed(
                f"cannot write into {exc.filename or ws.relative(ws.results_dir(run))}: {exc.strerror}"
            ) from None
        run_failed(report.errors, run, f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc))
    except OrchError as exc:
        run_failed(report.errors, run, str(exc))
    except Exception as exc:  # a bug met in one run's data: the other runs are still evaluated
        run_failed(report.errors, run, internal_error(run, exc))


def _evaluate_targets(ws: Workspace, run: str, options: PassOptions, stop: threading.Event, report: PassReport) -> None:
    manifest = load_manifest(ws, run)
    targets = pending_targets(ws, manifest, StoreIndex.load(ws, run), options.retry_failed)
    if not targets:
        return
    setup = prepare_run(ws, manifest, {t.split for t in targets})
    for target in targets:
        if stop.is_set() or _budget_spent(report, options):
            return
        if not still_unchanged(ws, target.weights):
            log.info("%s: %s is still being written; next pass", run, target.weights.path)
            continue
        report.outcomes.append(_evaluate_target(ws, target, setup, options, stop))


def run_failed(errors: list[RunError], run: str, error: str) -> None:
    """Record and log that `run` was not evaluated (or submitted) in this pass, and why."""
    errors.append(RunError(run, printable(error)))
    log.error("%s: not evaluated: %s", run, printable(error))


def internal_error(run: str, exc: Exception) -> str:
    """A bug met in one run's data, in one line (the traceback goes to the debug log)."""
    log.debug("%s: traceback", run, exc_info=True)
    return f"internal error {type(exc).__name__}: {exc} (run with --debug for details)"


def _evaluate_target(
    ws: Workspace, target: Target, setup: RunSetup, options: PassOptions, stop: threading.Event
) -> Outcome:
    """Evaluate, append the record (under the run lock the caller holds), and describe it."""
    name = f"{target.manifest.name} {target.weights.label} ({target.split})"
    log.info("%s: evaluating %s, attempt %d", name, target.weights.path, target.attempt)
    progress = None
    if options.show_progress:
        progress = Progress(name, count_images(str(ws.root / setup.dataset.valid[target.split])), "images")
    started = time.monotonic()
    try:
        record = evaluate(ws, target, options.gpu, stop, progress.update if progress else None, setup)
    finally:
        if progress is not None:
            progress.close()
    append_record(ws, target.manifest.name, record)
    outcome = Outcome(
        run=record.run,
        split=record.split,
        weights=record.weights,
        iteration=record.iteration,
        status=record.status,
        seconds=round(time.monotonic() - started, 3),
        error=record.error,
        mean={m: block.mean for m, block in record.metrics.items()},
    )
    if outcome.status == "ok":
        means = ", ".join(f"{m} mAP {v:.4f}" for m, v in outcome.mean.items())
        log.info("%s: ok in %.1f s: %s", name, outcome.seconds, means)
    else:
        log.warning("%s: FAILED (attempt %d): %s", name, target.attempt, outcome.error)
    return outcome


def _budget_spent(report: PassReport, options: PassOptions) -> bool:
    return options.max_files is not None and len(report.outcomes) >= options.max_files


def log_pass(report: PassReport) -> None:
    """One summary line per pass: what was evaluated, how long it took, what failed."""
    failed = report.failed
    log.info(
        "pass done in %.1f s: %d evaluated, %d failed%s%s%s%s",
        report.seconds,
        len(report.outcomes),
        len(failed),
        "".join(f"; {o.run} {o.weights}: {o.error}" for o in failed),
        "".join(f"; run {e.run} not evaluated: {e.error}" for e in report.errors),
        f"; stopped: {report.stopped}" if report.stopped else "",
        "; interrupted" if report.interrupted else "",
    )
