"""Submitting, resubmitting and cancelling runs, and recording the jobs in run.yaml.

run.yaml gains the jobs only after the executor accepted all of them (a refused sbatch leaves
it untouched), rewritten atomically under a per-run lock so two `orch submit` started at once
cannot both pass the "not already queued" check. Each submit call is a *chain* (numbered in
the records): status and the double-submission check look at the newest chain of a run.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager

from orchestrator.base.errors import OrchError
from orchestrator.base.fsutil import atomic_write
from orchestrator.base.locks import held
from orchestrator.executors.base import Executor, JobState
from orchestrator.executors.choose import executor_name, executor_named
from orchestrator.executors.phases import DEFAULT_WARMUP, Plan, final_weights, plan_run
from orchestrator.executors.render import WARMUP
from orchestrator.runs import JobRecord, RunManifest, load_manifest, save_manifest
from orchestrator.workspace import Workspace

LOCK_NAME = ".submit.lock"
CANCEL_WAIT_SECONDS = 30.0


def current_chain(manifest: RunManifest) -> list[JobRecord]:
    """The jobs of the run's newest submit call ([] if it was never submitted)."""
    if not manifest.submissions:
        return []
    newest = max(r.chain for r in manifest.submissions)
    return [r for r in manifest.submissions if r.chain == newest]


def job_states(ws: Workspace, records: list[JobRecord]) -> list[JobState]:
    """States of many jobs of many runs, in the order given: ONE query per executor kind
    (Slurm: one squeue). Local job numbers repeat across runs, so states go by position."""
    positions: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        positions.setdefault(record.executor, []).append(index)
    states: dict[int, JobState] = {}
    for name, indices in positions.items():
        answers = executor_named(ws, name).states([records[i] for i in indices])
        states.update(zip(indices, answers))
    return [states[index] for index in range(len(records))]


def active_jobs(ws: Workspace, manifests: list[RunManifest]) -> list[JobRecord]:
    """The jobs of these runs that are queued or running (one state query for all)."""
    records = [r for m in manifests for r in current_chain(m)]
    return [r for r, state in zip(records, job_states(ws, records)) if state.active]


def submit_lock(ws: Workspace, run: str) -> AbstractContextManager[None]:
    """Only one orch submits a run at a time (the same kernel lock the evaluators use)."""
    return held(
        ws.run_dir(run) / LOCK_NAME, OrchError(f"another orch is submitting run {run}", ws.relative(ws.run_dir(run)))
    )


def refuse_if_active(ws: Workspace, manifest: RunManifest) -> None:
    active = active_jobs(ws, [manifest])
    if active:
        jobs = ", ".join(f"{r.executor} job {r.job_id} ({r.phase})" for r in active)
        raise OrchError(
            f"run {manifest.name} is already queued or running: {jobs}; 'orch cancel {manifest.name}' first",
            ws.relative(ws.run_dir(manifest.name)),
        )


def refuse_if_finished(ws: Workspace, manifest: RunManifest, force: bool) -> None:
    final = final_weights(ws, manifest)
    if final is not None and not force:
        raise OrchError(
            f"run {manifest.name} has finished training; darknet would only rewrite {final.name} "
            "(raise --max-batches with 'orch new-run --force', then submit with --force)",
            ws.relative(final),
        )


def last_warmup(manifest: RunManifest) -> int:
    """The warm-up length of the run's last two-phase submission (what resubmit repeats)."""
    warmups = [r.warmup for r in manifest.submissions if r.phase == WARMUP and r.warmup is not None]
    return warmups[-1] if warmups else DEFAULT_WARMUP


def write_plan_files(ws: Workspace, plan: Plan) -> None:
    """The warm-up cfg/script, and the folders Slurm opens the job's output in before it starts."""
    for path, text in plan.files.items():
        atomic_write(path, text, mode=0o755 if path.suffix == ".sbatch" else None)
    ws.logs_dir(plan.run).mkdir(parents=True, exist_ok=True)
    ws.backup_dir(plan.run).mkdir(parents=True, exist_ok=True)


def submit_run(
    ws: Workspace, run: str, executor: Executor, warmup: int | None = None, resubmit: bool = False, force: bool = False
) -> list[JobRecord]:
    """Submit the run's next chain and record it; `resubmit` insists it was submitted before
    (its jobs resume from the newest weights; an unfinished warm-up is redone first). A run that
    finished training is submitted again only with `force` (after raising its max_batches)."""
    with submit_lock(ws, run):
        manifest = load_manifest(ws, run)
        if resubmit and not manifest.submissions:
            raise OrchError(f"run {run} was never submitted: use 'orch submit {run}'", run)
        refuse_if_active(ws, manifest)
        refuse_if_finished(ws, manifest, force)
        iterations = warmup if warmup is not None else last_warmup(manifest)
        plan = plan_run(ws, manifest, iterations)
        write_plan_files(ws, plan)
        chain = max((r.chain for r in manifest.submissions), default=0) + 1
        records = executor.submit(plan.jobs, chain)
        for record in records:
            if record.phase == WARMUP:
                record.warmup = iterations
        manifest.submissions.extend(records)
        save_manifest(ws, manifest)
    return records


def resubmit_run(ws: Workspace, run: str, override: str | None = None, force: bool = False) -> list[JobRecord]:
    """Submit a run again with the executor it used last (unless overridden)."""
    submissions = load_manifest(ws, run).submissions
    previous = submissions[-1].executor if submissions else None
    return submit_run(ws, run, executor_named(ws, executor_name(ws, override, previous)), resubmit=True, force=force)


def describe_submission(ws: Workspace, run: str, executor: Executor, warmup: int | None = None) -> str:
    """What `submit` would do (`--dry-run`): every script, then the commands; nothing written."""
    manifest = load_manifest(ws, run)
    refuse_if_active(ws, manifest)
    plan = plan_run(ws, manifest, warmup if warmup is not None else last_warmup(manifest))
    parts = []
    for job in plan.jobs:
        text = plan.files.get(job.script) or job.script.read_text()
        parts.append(f"# ---- {ws.relative(job.script)} ({job.phase}, {job.gpus} GPU) ----\n{text.rstrip()}\n")
    parts.append(f"# ---- {executor.name} commands ----\n" + "\n".join(executor.commands(plan.jobs)) + "\n")
    return "\n".join(parts)


def cancel_runs(ws: Workspace, runs: list[str]) -> list[JobRecord]:
    """Cancel every queued or running job of these runs and wait (briefly) until they stopped,
    so that a `resubmit` right after does not find them still active."""
    manifests = [load_manifest(ws, run) for run in runs]
    active = active_jobs(ws, manifests)
    by_executor: dict[str, list[JobRecord]] = {}
    for record in active:
        by_executor.setdefault(record.executor, []).append(record)
    for name, records in by_executor.items():
        executor_named(ws, name).cancel(records)
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    while active and time.monotonic() < deadline:
        active = [r for r, state in zip(active, job_states(ws, active)) if state.active]
        if active:
            time.sleep(0.5)
    return [r for records in by_executor.values() for r in records]
