"""`orch status`: one row per run — its current job, training progress, weights, evaluations.

The job states of every run come from one query per executor kind (Slurm: ONE squeue, then
sacct or scontrol only for jobs squeue no longer lists). Training progress comes from the
logs module and evaluation counts from the evaluation store; each input is one small
function below so the table does not depend on how those modules compute them. The CLI
imports this view when `orch status` runs (the logs and the pass bring NumPy).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from orchestrator.base.errors import OrchError, Problems
from orchestrator.evaluation.best import best_record, shown_split
from orchestrator.evaluation.cluster import open_submissions
from orchestrator.evaluation.discovery import discover_weights
from orchestrator.evaluation.passes import backlog
from orchestrator.evaluation.store import EvalRecord, StoreIndex, load_results
from orchestrator.executors import JobState, current_chain, job_states
from orchestrator.executors.base import CANCELLED, COMPLETED, FAILED, PENDING, RUNNING, UNKNOWN
from orchestrator.executors.slurm import ENDED
from orchestrator.logs import run_progress
from orchestrator.metrics.measures import MEASURES
from orchestrator.metrics.overlaps import OVERLAPS
from orchestrator.runs import JobRecord, RunManifest, load_manifest
from orchestrator.workspace import Workspace

#: Keys of each `--json` object, in table order.
STATUS_KEYS = (
    "run",
    "executor",
    "phase",
    "job_id",
    "state",
    "backend_state",
    "iteration",
    "max_batches",
    "avg_loss",
    "newest_weights",
    "evaluated",
    "pending",
    "failed",
    "eval_jobs",
    "best",
)
#: States that do not explain a run's situation better than the chain's last job does.
NOT_TELLING = (COMPLETED, UNKNOWN)


def collect_status(ws: Workspace, runs: list[str], problems: Problems | None = None) -> list[dict[str, Any]]:
    """The status of these runs (all of the workspace's when empty), in the order given; the
    states of every run's training and evaluation jobs come from one query per executor kind.
    A run that cannot be shown (its run.yaml damaged, its dataset gone from orch.yaml) raises;
    with `problems` given, it is left out and its problem kept there instead, so that one bad
    run never hides the others. An unknown run name always raises."""
    kept = Problems() if problems is None else problems
    manifests = [m for m in (readable_manifest(ws, run, kept) for run in (runs or ws.run_names())) if m]
    if problems is None:
        kept.raise_any()
    chains = [current_chain(m) for m in manifests]
    evaluations = [[e.record() for e in open_submissions(ws, m.name)] for m in manifests]
    states = iter(job_states(ws, [r for jobs in chains + evaluations for r in jobs]))
    chain_states = [[(r, next(states)) for r in chain] for chain in chains]
    eval_states = [[next(states) for _ in jobs] for jobs in evaluations]
    rows = [
        kept.check(partial(run_status, ws, manifest, chain, evaluation))
        for manifest, chain, evaluation in zip(manifests, chain_states, eval_states)
    ]
    if problems is None:
        kept.raise_any()
    return [row for row in rows if row is not None]


def readable_manifest(ws: Workspace, run: str, problems: Problems) -> RunManifest | None:
    """The run's manifest; None, with the problem kept, when its run.yaml is damaged."""
    if not (ws.run_dir(run) / "run.yaml").is_file():
        return load_manifest(ws, run)  # unknown: raises
    return problems.check(lambda: load_manifest(ws, run))


def run_status(
    ws: Workspace, manifest: RunManifest, chain: list[tuple[JobRecord, JobState]], evaluations: list[JobState]
) -> dict[str, Any]:
    """One row; `chain` holds the run's newest jobs with their states (shown in the backend's
    words), `evaluations` the states of its open evaluation jobs."""
    shown = current_job(ws, manifest, chain)
    record = shown[0] if shown else None
    progress = training_progress(ws, manifest) or {}
    return {
        "run": manifest.name,
        "executor": record.executor if record else None,
        "phase": record.phase if record else None,
        "job_id": record.job_id if record else None,
        "state": shown_state(shown[1]) if shown else "not submitted",
        "backend_state": shown[1].raw if shown else None,
        "iteration": progress.get("iteration"),
        "max_batches": manifest.max_batches,
        "avg_loss": progress.get("avg_loss"),
        "newest_weights": newest_weights(ws, manifest),
        **evaluation_summary(ws, manifest, evaluations),
    }


def shown_state(state: JobState) -> str:
    """The same words whatever the executor (a cancelled local job is CANCELLED, not exited(143));
    a failure keeps the backend's reason (exited(3), TIMEOUT, OUT_OF_MEMORY) in parentheses."""
    word = state.state.upper()
    return f"{word} ({state.raw})" if state.state == FAILED and state.raw.upper() != word else word


def resolved(ws: Workspace, manifest: RunManifest, record: JobRecord, state: JobState) -> JobState:
    """A training job that ended without a trace (Slurm forgot it, its script wrote no status):
    completed when darknet's `_final` weights of its phase are there (darknet writes them as
    its very last act), cancelled when it never wrote its log, failed otherwise."""
    if state.raw != ENDED:
        return state
    weights = [w for w in discover_weights(ws, manifest) if w.phase == record.phase]
    if any(w.final or w.also for w in weights):
        return JobState(COMPLETED, "COMPLETED")
    if not (ws.logs_dir(manifest.name) / f"{record.job_id}.log").exists():
        return JobState(CANCELLED, "CANCELLED")
    return JobState(FAILED, "FAILED")


def current_job(
    ws: Workspace, manifest: RunManifest, chain: list[tuple[JobRecord, JobState]]
) -> tuple[JobRecord, JobState] | None:
    """The job `orch status` and the report show for a run, its state resolved (`resolved`)."""
    return shown_job([(record, resolved(ws, manifest, record, state)) for record, state in chain])


def shown_job(chain: list[tuple[JobRecord, JobState]]) -> tuple[JobRecord, JobState] | None:
    """The job that tells the run's story: the first of the chain known not to have succeeded
    (running warm-up, failed warm-up whose sequel Slurm cancelled), else the last one."""
    for record, state in chain:
        if state.state not in NOT_TELLING:
            return record, state
    return chain[-1] if chain else None


def training_progress(ws: Workspace, manifest: RunManifest) -> dict[str, Any] | None:
    """Latest iteration and avg loss from the run's logs (read in the order it submitted them)."""
    return run_progress(ws, manifest.name, manifest.job_ids())


def newest_weights(ws: Workspace, manifest: RunManifest) -> str | None:
    """Name of the most recently written `.weights` file of the run (warm-up ones included)."""
    folder = ws.root / manifest.files["backup"]
    files = [p for p in folder.glob("*.weights") if p.is_file()] if folder.is_dir() else []
    return max(files, key=lambda p: p.stat().st_mtime).name if files else None


def evaluation_summary(ws: Workspace, manifest: RunManifest, jobs: list[JobState]) -> dict[str, Any]:
    """Weights files evaluated (a `_final` twin of the last checkpoint counts as evaluated with
    it), waiting for an evaluation and given up on (after
    eval.max_attempts failures), evaluation jobs pending and running, and the best mean AP
    (.50:.95) under each matching metric."""
    records = load_results(ws, manifest.name, per_class=False)  # read once: the index is built from it
    pending, exhausted = backlog(ws, manifest, StoreIndex.of(records))
    return {
        "evaluated": len({name for r in records if r.ok for name in (r.weights, *r.also)}),
        "pending": len({t.weights.path for t in pending}),
        "failed": len({t.weights.path for t in exhausted}),
        "eval_jobs": {state: sum(1 for job in jobs if job.state == state) for state in (PENDING, RUNNING)},
        "best": best_maps(ws, manifest, records),
    }


def best_maps(ws: Workspace, manifest: RunManifest, records: list[EvalRecord]) -> dict[str, float | None]:
    """Best mean AP per matching metric on the dataset's first evaluated split (as `orch best`)."""
    split = shown_split(ws, manifest, records)
    if split is None:
        return {metric: None for metric in OVERLAPS}
    best: dict[str, float | None] = {}
    for metric in OVERLAPS:
        try:
            best[metric] = best_record(records, metric, "mean", split).metrics[metric].mean
        except OrchError:  # this metric was not computed (eval.metrics)
            best[metric] = None
    return best


def status_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Headers and cells of the text table."""
    headers = [
        "RUN",
        "EXEC",
        "PHASE",
        "JOB",
        "STATE",
        "ITER",
        "LOSS",
        "NEWEST WEIGHTS",
        "EVAL/PEND/FAIL",
        "EVAL JOBS P/R",
        *(f"BEST {MEASURES['mean'].label} {overlap.label}" for overlap in OVERLAPS.values()),
    ]
    cells = []
    for row in rows:
        iteration = f"{row['iteration'] or 0}/{row['max_batches'] or '?'}"
        loss = f"{row['avg_loss']:.3f}" if row["avg_loss"] is not None else None
        counts = f"{row['evaluated']}/{row['pending']}/{row['failed']}"
        best = [f"{row['best'][m]:.4f}" if row["best"][m] is not None else None for m in OVERLAPS]
        cells.append(
            [
                row["run"],
                row["executor"],
                row["phase"],
                row["job_id"],
                row["state"],
                iteration,
                loss,
                row["newest_weights"],
                counts,
                f"{row['eval_jobs'][PENDING]}/{row['eval_jobs'][RUNNING]}",
                *best,
            ]
        )
    return headers, cells
