"""The executor seam: what `orch submit/status/cancel` need from Slurm or from the local machine.

A run is trained by a *chain* of jobs (a one-GPU warm-up, then the N-GPU phase; or a single
job), each starting only when the previous one succeeded. Executors submit a whole chain,
report the state of many jobs at once (Slurm: one `squeue` for every run) and cancel jobs.
They return one `JobRecord` per job (run.yaml's `submissions`) and, asked for states, one
`JobState` per job: a small state set every executor maps its own states onto, plus the
backend's own word for display. Nothing above this layer knows Slurm's or bash's state names.
"""

from __future__ import annotations

import datetime as _dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.runs import JobRecord
from orchestrator.workspace import Workspace

PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, UNKNOWN = (
    "pending",
    "running",
    "completed",
    "failed",
    "cancelled",
    "unknown",  # the backend no longer knows the job and it left nothing to judge by
)
ACTIVE = frozenset({PENDING, RUNNING})


@dataclass(frozen=True)
class JobState:
    """A job's state: one of PENDING … UNKNOWN, and the backend's own name for it (shown)."""

    state: str
    raw: str

    @property
    def active(self) -> bool:
        """Whether the job may still run (then its run must not be submitted again)."""
        return self.state in ACTIVE


@dataclass(frozen=True)
class Job:
    """One phase of a run to execute: its script and how many GPUs it asks for."""

    run: str
    phase: str
    script: Path
    gpus: int


def new_record(executor: str, job: Job, job_id: str, chain: int, ws: Workspace, **extra: Any) -> JobRecord:
    """The run.yaml entry for a submitted job (`chain` numbers the submit calls of a run)."""
    return JobRecord(
        executor=executor,
        phase=job.phase,
        job_id=job_id,
        chain=chain,
        gpus=job.gpus,
        script=ws.relative(job.script),
        submitted=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **extra,
    )


class Executor(ABC):
    """Submits chains of jobs and answers for their state."""

    name: str

    def __init__(self, ws: Workspace):
        self.ws = ws

    @abstractmethod
    def commands(self, jobs: list[Job]) -> list[str]:
        """The commands `submit` would run, for `--dry-run`."""

    @abstractmethod
    def submit(self, jobs: list[Job], chain: int) -> list[JobRecord]:
        """Start the chain (each job after the previous succeeded); all or nothing."""

    @abstractmethod
    def states(self, records: list[JobRecord]) -> list[JobState]:
        """State of each job (in the order given), in as few queries as the backend allows."""

    @abstractmethod
    def cancel(self, records: list[JobRecord]) -> None:
        """Stop these jobs (queued ones never start)."""
