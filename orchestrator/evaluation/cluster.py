"""Evaluation on the cluster: pending weights evaluated by Slurm jobs instead of on this machine.

`orch eval --submit` (and cron or `orch watch` with `eval.submit: true`) finds the pending weights
exactly as a local pass does and submits ONE array job per pass, one task per weights file, each
task on one GPU of Slurm's choosing (`orch eval-task`). So cron may run on a login node without
a GPU.

Never twice: each run keeps a ledger of its evaluation jobs (`results/<run>/eval-jobs.json`),
read and written only under the run's lock, which the submitting pass holds from reading the
ledger until the ledger names the new job (a second submitter finds the run busy and skips it).
A pass asks Slurm about every open ledger entry with ONE squeue; an entry squeue no longer lists
has ended, and when squeue cannot answer nothing is submitted. An ended task that left no record
(cancelled, node failure, time limit, out of memory) gets a failure record with its Slurm state
and job id, so that it counts as an attempt and is submitted again while attempts remain.

`orch submit` adds one job after the training (afterany) that evaluates whatever the run left
(its `_final` weights, else its newest checkpoint), so a run nobody watches still ends evaluated.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import shlex
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from orchestrator.base.errors import OrchError
from orchestrator.base.fsutil import atomic_write
from orchestrator.base.locks import Busy, run_lock
from orchestrator.evaluation.crontab import orch_words
from orchestrator.evaluation.discovery import WeightsFile, discover_weights, still_unchanged
from orchestrator.evaluation.evaluate import JobRef, Target, dataset_of, evaluate, make_record, prepare_run
from orchestrator.evaluation.passes import RunError, internal_error, pending_targets, run_failed
from orchestrator.evaluation.store import EvalRecord, StoreIndex, append_record
from orchestrator.executors.render import TRAIN, render_eval_sbatch
from orchestrator.executors.slurm import ENDED, SlurmExecutor
from orchestrator.runs import JobRecord, RunManifest, load_manifest
from orchestrator.workspace import Workspace

log = logging.getLogger("orchestrator.evaluation")

LEDGER_NAME = "eval-jobs.json"
#: How long a task waits for its run's lock to record a result (a local pass may hold it long).
TASK_LOCK_WAIT_SECONDS = 900.0
#: How long `orch submit` waits for the run's lock to record its evaluation job.
SUBMIT_LOCK_WAIT_SECONDS = 60.0
EVAL_PHASE = "eval"


@dataclass
class Submission:
    """One evaluation job in a run's ledger: `job` is `<array job>_<task>` (or the job id of the
    evaluation `orch submit` queues, whose `weights` is None: whatever the run left)."""

    job: str
    weights: WeightsFile | None
    splits: list[str]
    submitted: float  # epoch seconds
    state: str | None = None  # Slurm's final state, once the job is known to have ended

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Submission:
        weights = data.get("weights")
        if weights is not None:
            weights = WeightsFile(**{**weights, "also": tuple(weights.get("also", ()))})
        return cls(**{**data, "weights": weights})

    def record(self) -> JobRecord:
        """As a job record, for the executor's state queries and scancel."""
        return JobRecord("slurm", EVAL_PHASE, self.job)


@dataclass
class SubmitReport:
    """What one submitting pass did (`orch eval --submit --json` prints it)."""

    submitted: list[dict[str, str]] = field(default_factory=list)  # {"run", "weights", "job"}
    in_flight: int = 0  # evaluation jobs of these runs still pending or running before this pass
    failed: list[str] = field(default_factory=list)  # evaluations that failed, learnt in this pass
    errors: list[RunError] = field(default_factory=list)  # runs not submitted: configuration problems
    busy: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Task:
    """One array task: one weights file of a run, on every split it still needs."""

    run: str
    weights: WeightsFile
    splits: list[str]


def ledger_path(ws: Workspace, run: str) -> Path:
    return ws.results_dir(run) / LEDGER_NAME


def load_ledger(ws: Workspace, run: str) -> list[Submission]:
    path = ledger_path(ws, run)
    try:
        return [Submission.from_dict(entry) for entry in json.loads(path.read_text())]
    except FileNotFoundError:
        return []
    except (ValueError, TypeError, KeyError) as exc:
        raise OrchError(f"the evaluation job ledger is damaged: {exc}", ws.relative(path)) from None


def save_ledger(ws: Workspace, run: str, entries: list[Submission]) -> None:
    """Rewrite the ledger (the caller holds the run's lock)."""
    atomic_write(ledger_path(ws, run), json.dumps([asdict(e) for e in entries], indent=1) + "\n")


def open_submissions(ws: Workspace, run: str) -> list[Submission]:
    """The run's evaluation jobs not yet known to have ended (read without the lock)."""
    return [e for e in load_ledger(ws, run) if e.state is None]


def submit_pass(ws: Workspace, runs: list[str], retry_failed: bool = False) -> SubmitReport:
    """Settle the runs' ended evaluation jobs and submit their pending weights as one array job."""
    started = time.monotonic()
    report = SubmitReport()
    slurm = SlurmExecutor(ws)
    with contextlib.ExitStack() as locks:
        held = [run for run in runs if _lock(locks, ws, run, report)]
        ledgers = _readable_ledgers(ws, held, report)
        entries = [e for ledger in ledgers.values() for e in ledger if e.state is None]
        queued = slurm.queued([e.job for e in entries])
        if queued is None:
            raise OrchError("squeue did not answer; nothing submitted", "orch eval --submit")
        ended = {e.job for e in entries if e.job not in queued}
        final_states = slurm.ended_states(list(ended))
        report.in_flight = len(entries) - len(ended)
        tasks: list[Task] = []
        for run, ledger in ledgers.items():
            tasks += _settle_and_plan(ws, run, ledger, ended, final_states, retry_failed, report)
        if tasks:
            job = submit_tasks(ws, slurm, tasks)
            for number, task in enumerate(tasks):
                entry = Submission(f"{job}_{number}", task.weights, task.splits, time.time())
                ledgers[task.run].append(entry)
                report.submitted.append({"run": task.run, "weights": task.weights.path, "job": entry.job})
            for run in {task.run for task in tasks}:
                save_ledger(ws, run, ledgers[run])
    report.seconds = time.monotonic() - started
    return report


def _readable_ledgers(ws: Workspace, runs: list[str], report: SubmitReport) -> dict[str, list[Submission]]:
    """The ledgers of these runs; a damaged one is that run's error, and the others go on."""
    ledgers = {}
    for run in runs:
        try:
            ledgers[run] = load_ledger(ws, run)
        except OrchError as exc:
            run_failed(report.errors, run, str(exc))
    return ledgers


def _settle_and_plan(
    ws: Workspace,
    run: str,
    ledger: list[Submission],
    ended: set[str],
    final_states: dict[str, Any],
    retry_failed: bool,
    report: SubmitReport,
) -> list[Task]:
    """Record the run's ended jobs, then its tasks to submit. A run whose configuration is wrong
    (cfg, dataset, darknet binary) is submitted nothing and reported once: every task would fail
    for the same reason and spend the weights files' attempts."""
    try:
        manifest = load_manifest(ws, run)
        ended_here = [entry for entry in ledger if entry.state is None and entry.job in ended]
        for entry in ended_here:
            settle(ws, manifest, entry, task_state(final_states[entry.job]), report)
        if ended_here:  # an idle pass writes nothing
            save_ledger(ws, run, ledger)
        tasks = pending_tasks(ws, manifest, ledger, retry_failed)
        if tasks:
            prepare_run(ws, manifest, {split for task in tasks for split in task.splits})
        return tasks
    except OrchError as exc:
        run_failed(report.errors, run, str(exc))
    except Exception as exc:  # a bug met in one run's data: the other runs are still submitted
        run_failed(report.errors, run, internal_error(run, exc))
    return []


def log_submit_pass(report: SubmitReport) -> None:
    """One summary line per submitting pass."""
    jobs = sorted({entry["job"].split("_")[0] for entry in report.submitted})
    log.info(
        "submit pass done in %.1f s: %d weights file(s) submitted%s, %d evaluation job(s) were in flight, %d failed%s",
        report.seconds,
        len(report.submitted),
        f" as job {', '.join(jobs)}" if jobs else "",
        report.in_flight,
        len(report.failed),
        "".join(f"; {failure}" for failure in report.failed),
    )


def _lock(locks: contextlib.ExitStack, ws: Workspace, run: str, report: SubmitReport) -> bool:
    """Hold the run's lock for the rest of the pass; a busy run is said and skipped."""
    try:
        locks.enter_context(run_lock(ws.eval_lock_path(run), run))
    except Busy as busy:
        report.busy.append(str(busy))
        log.info("%s; skipped", busy)
        return False
    return True


def task_state(state: str) -> str:
    """An evaluation job's script writes its status file first thing, so one that ended
    without a trace never started: it left the queue cancelled (Slurm forgets a cancelled
    pending array task at once)."""
    return "CANCELLED" if state == ENDED else state


def settle(ws: Workspace, manifest: RunManifest, entry: Submission, state: str, report: SubmitReport) -> None:
    """An ended job: its state is kept; each split it did not record becomes a failure record
    (unless another evaluator scored that file meanwhile), and its failures are reported."""
    entry.state = state
    if entry.weights is None:
        return
    index = StoreIndex.load(ws, manifest.name)
    recorded = index.by_job.get(entry.job, {})
    for split in entry.splits:
        key = (split, *entry.weights.key)
        if recorded.get(split) == "failed":
            report.failed.append(f"{manifest.name} {entry.weights.path} ({split}): job {entry.job} failed")
        if split in recorded or index.is_done(key):
            continue
        target = Target(manifest, entry.weights, split, index.failed_attempts(key) + 1, JobRef("slurm", entry.job))
        error = f"evaluation job {entry.job} ended without a record ({state})"
        timings: dict[str, float | None] = {"darknet_seconds": None, "metric_seconds": None}
        record = make_record(ws, target, dataset_of(ws, manifest), timings, error=error)
        append_record(ws, manifest.name, replace(record, job={**record.job, "state": state}))
        report.failed.append(f"{manifest.name} {entry.weights.path} ({split}): {error}")
        log.warning("%s %s (%s): %s", manifest.name, entry.weights.path, split, error)


def pending_tasks(ws: Workspace, manifest: RunManifest, ledger: list[Submission], retry_failed: bool) -> list[Task]:
    """The run's pending weights (as a local pass would evaluate them) that no open job covers,
    one task per weights file with the splits it needs."""
    covered = {(split, *e.weights.key) for e in ledger if e.state is None and e.weights for split in e.splits}
    tasks: dict[tuple[str, int, float], Task] = {}
    for target in pending_targets(ws, manifest, StoreIndex.load(ws, manifest.name), retry_failed):
        if target.key in covered or not still_unchanged(ws, target.weights):
            continue
        task = tasks.setdefault(target.weights.key, Task(manifest.name, target.weights, []))
        task.splits.append(target.split)
    return list(tasks.values())


def submit_tasks(ws: Workspace, slurm: SlurmExecutor, tasks: list[Task]) -> str:
    """Write the task list and the script, submit them as one array job; its job id."""
    tasks_file, script = eval_job_files(ws)
    atomic_write(
        tasks_file,
        json.dumps([{"run": t.run, "weights": asdict(t.weights), "splits": t.splits} for t in tasks], indent=1) + "\n",
    )
    atomic_write(script, render_eval_sbatch(ws, tasks_file, shlex.join(orch_words())), mode=0o755)
    what = f"the evaluation of {len(tasks)} weights file(s)"
    return slurm.submit_array(script, [], len(tasks), ws.config.eval.max_parallel, what)


def eval_job_files(ws: Workspace) -> tuple[Path, Path]:
    """A new (task list, script) pair under batch/eval/, and the folder Slurm writes logs in."""
    stamp = f"{_dt.datetime.now(_dt.UTC):%Y%m%dT%H%M%S.%f}-{os.getpid()}"
    (ws.root / "logs" / "eval").mkdir(parents=True, exist_ok=True)
    return ws.eval_batch_dir() / f"{stamp}.json", ws.eval_batch_dir() / f"{stamp}.sbatch"


def submit_final_evaluation(ws: Workspace, run: str, after: str) -> Submission:
    """Queue the job that evaluates what the run left once training job `after` has ended."""
    manifest = load_manifest(ws, run)
    splits = list(dataset_of(ws, manifest).valid)
    tasks_file, script = eval_job_files(ws)
    atomic_write(tasks_file, json.dumps([{"run": run, "weights": None, "splits": splits}]) + "\n")
    atomic_write(script, render_eval_sbatch(ws, tasks_file, shlex.join(orch_words())), mode=0o755)
    with run_lock(ws.eval_lock_path(run), run, SUBMIT_LOCK_WAIT_SECONDS):
        job = SlurmExecutor(ws).submit_after(script, [], after, f"the evaluation after run {run}")
        entry = Submission(job, None, splits, time.time())
        save_ledger(ws, run, [*load_ledger(ws, run), entry])
    return entry


def run_task(ws: Workspace, tasks_file: Path, number: int, job_id: str, stop: threading.Event) -> list[EvalRecord]:
    """`orch eval-task`: evaluate task `number` of the list on the GPU(s) Slurm gave this job and
    record each split under the run's lock (skipped when another evaluator recorded it first)."""
    task = json.loads(tasks_file.read_text())[number]
    manifest = load_manifest(ws, task["run"])
    weights = current_weights(ws, manifest, task["weights"])
    if weights is None:
        log.info("%s: no weights to evaluate", manifest.name)
        return []
    job = JobRef("slurm", job_id)
    records = []
    for split in task["splits"]:
        key = (split, *weights.key)
        with run_lock(ws.eval_lock_path(manifest.name), manifest.name, TASK_LOCK_WAIT_SECONDS):
            index = StoreIndex.load(ws, manifest.name)
        if index.is_done(key):
            log.info("%s %s (%s): already evaluated", manifest.name, weights.path, split)
            continue
        target = Target(manifest, weights, split, index.failed_attempts(key) + 1, job)
        gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "none")
        log.info("%s %s (%s): evaluating in job %s on GPU %s", manifest.name, weights.path, split, job_id, gpus)
        record = evaluate(ws, target, None, stop)
        with run_lock(ws.eval_lock_path(manifest.name), manifest.name, TASK_LOCK_WAIT_SECONDS):
            if StoreIndex.load(ws, manifest.name).is_done(key):
                continue
            append_record(ws, manifest.name, record)
        records.append(record)
        log.info("%s %s (%s): %s", manifest.name, weights.path, split, record.status)
    return records


def current_weights(ws: Workspace, manifest: RunManifest, listed: dict[str, Any] | None) -> WeightsFile | None:
    """The task's weights file as it is on disk now; for orch submit's job (None listed), the
    run's `_final` weights, else its newest checkpoint."""
    if listed is None:
        found = [w for w in discover_weights(ws, manifest) if w.phase == TRAIN]
        finals = [w for w in found if w.final or any(name.endswith("_final.weights") for name in w.also)]
        newest = finals or found
        return newest[0] if newest else None
    weights = WeightsFile(**{**listed, "also": tuple(listed.get("also", ()))})
    try:
        stat = (ws.root / weights.path).stat()
    except FileNotFoundError:
        return weights  # evaluate() records that the file is gone
    return replace(weights, size=stat.st_size, mtime=stat.st_mtime)


def cancel_evaluations(ws: Workspace, runs: list[str]) -> list[JobRecord]:
    """scancel the runs' queued and running evaluation jobs (one squeue, one scancel)."""
    records = [e.record() for run in runs for e in open_submissions(ws, run)]
    slurm = SlurmExecutor(ws)
    active = [r for r, state in zip(records, slurm.states(records)) if state.active]
    slurm.cancel(active)
    return active
