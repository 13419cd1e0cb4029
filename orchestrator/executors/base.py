"""The executor seam: what `orch submit/status/cancel` need from Slurm or from the local machine.

A run is trained by a *chain* of jobs (a one-GPU warm-up, then the N-GPU phase; or a single
job), each starting only when the previous one succeeded. Executors submit a whole chain,
report the state of many jobs at once (Slurm: one `squeue` for every run) and cancel jobs.
What they return is a plain dict per job — the `submissions` entries of `runs/<run>/run.yaml`.
"""

from __future__ import annotations

import datetime as _dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.workspace import Workspace

Record = dict[str, Any]

#: Slurm states of a job that is not over yet (squeue's long names).
SLURM_ACTIVE = frozenset(
    {
        "PENDING",
        "RUNNING",
        "CONFIGURING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "RESV_DEL_HOLD",
    }
)
#: States of the local executor's jobs that are not over yet.
LOCAL_ACTIVE = frozenset({"pending", "running"})


@dataclass(frozen=True)
class Job:
    """One phase of a run to execute: its script and how many GPUs it asks for."""

    run: str
    phase: str
    script: Path
    gpus: int


def is_active(state: str) -> bool:
    """Whether a job in this state may still run (then its run must not be submitted again)."""
    return state in SLURM_ACTIVE or state in LOCAL_ACTIVE


def new_record(executor: str, job: Job, job_id: str, chain: int, ws: Workspace, **extra: Any) -> Record:
    """The run.yaml entry for a submitted job (`chain` numbers the submit calls of a run)."""
    return {
        "executor": executor,
        "phase": job.phase,
        "job_id": job_id,
        "chain": chain,
        "gpus": job.gpus,
        "script": ws.relative(job.script),
        "submitted": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }


class Executor(ABC):
    """Submits chains of jobs and answers for their state."""

    name: str

    def __init__(self, ws: Workspace):
        self.ws = ws

    @abstractmethod
    def commands(self, jobs: list[Job]) -> list[str]:
        """The commands `submit` would run, for `--dry-run`."""

    @abstractmethod
    def submit(self, jobs: list[Job], chain: int) -> list[Record]:
        """Start the chain (each job after the previous succeeded); all or nothing."""

    @abstractmethod
    def states(self, records: list[Record]) -> list[str]:
        """State of each job (in the order given), in as few queries as the backend allows."""

    @abstractmethod
    def cancel(self, records: list[Record]) -> None:
        """Stop these jobs (queued ones never start)."""
