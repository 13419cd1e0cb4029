"""Executors: running a run's training on Slurm or on this machine, and asking how it goes.

- `executor_name(ws, override)` / `executor_named(ws, name)`: pick an executor (choose.py);
- `submit_run(ws, run, executor, warmup, resubmit)`, `resubmit_run(ws, run, override)`,
  `describe_submission(...)` (--dry-run),
  `cancel_runs(ws, runs)`: submission.py, which records jobs in run.yaml;
- `plan_run(ws, manifest, warmup)`: one job, or a one-GPU warm-up then the N-GPU phase (phases.py);
- `collect_status(ws, runs)`: the rows of `orch status` (status.py).
"""

from orchestrator.executors.base import Executor, Job, is_active
from orchestrator.executors.choose import executor_name, executor_named
from orchestrator.executors.phases import DEFAULT_WARMUP, plan_run
from orchestrator.executors.submission import cancel_runs, describe_submission, resubmit_run, submit_run
from orchestrator.views.status import collect_status, status_table

__all__ = [
    "DEFAULT_WARMUP",
    "Executor",
    "Job",
    "cancel_runs",
    "collect_status",
    "describe_submission",
    "executor_name",
    "executor_named",
    "is_active",
    "plan_run",
    "resubmit_run",
    "status_table",
    "submit_run",
]
