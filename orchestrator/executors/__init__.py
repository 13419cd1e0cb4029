"""Executors: running a run's training on Slurm or on this machine, and asking how it goes.

- `new_run(ws, name, spec)`: `orch new-run` — the run's files and its training script (render.py);
- `executor_name(ws, override)` / `executor_named(ws, name)`: pick an executor (choose.py);
- `submit_run(ws, run, executor, warmup, resubmit)`, `resubmit_run(ws, run, override)`,
  `describe_submission(...)` (--dry-run), `cancel_runs(ws, runs)`, `current_chain(manifest)`,
  `job_states(ws, records)`: submission.py, which records jobs in run.yaml;
- `plan_run(ws, manifest, warmup)`: one job, or a one-GPU warm-up then the N-GPU phase (phases.py).

Job states are `JobState`s (base.py): pending, running, completed, failed, cancelled or
unknown, with the backend's own word for display.
"""

from orchestrator.executors.base import Executor, Job, JobState
from orchestrator.executors.choose import executor_name, executor_named
from orchestrator.executors.phases import DEFAULT_WARMUP, plan_run
from orchestrator.executors.render import new_run
from orchestrator.executors.submission import (
    cancel_runs,
    current_chain,
    describe_submission,
    job_states,
    resubmit_run,
    submit_run,
)

__all__ = [
    "DEFAULT_WARMUP",
    "Executor",
    "Job",
    "JobState",
    "cancel_runs",
    "current_chain",
    "describe_submission",
    "executor_name",
    "executor_named",
    "job_states",
    "new_run",
    "plan_run",
    "resubmit_run",
    "submit_run",
]
