"""Picking the executor: `--executor`, else orch.yaml's `executor:`, where `auto` means Slurm
when `sbatch` is on PATH and the local executor otherwise (laptops, the demo)."""

from __future__ import annotations

import shutil

from orchestrator.base.errors import OrchError
from orchestrator.config import EXECUTORS
from orchestrator.executors.base import Executor
from orchestrator.executors.local import LocalExecutor
from orchestrator.executors.slurm import SlurmExecutor
from orchestrator.workspace import Workspace

IMPLEMENTATIONS: dict[str, type[Executor]] = {"slurm": SlurmExecutor, "local": LocalExecutor}


def executor_name(ws: Workspace, override: str | None = None, previous: str | None = None) -> str:
    """The executor new submissions use: `--executor`, else the one the run used before
    (resubmit), else orch.yaml's. Existing jobs keep the executor recorded with them."""
    choice = override or previous or ws.config.executor
    if choice not in EXECUTORS:
        raise OrchError(f"unknown executor {choice!r} (known: {', '.join(EXECUTORS)})", "--executor")
    if choice == "auto":
        return "slurm" if shutil.which("sbatch") else "local"
    return choice


def executor_named(ws: Workspace, name: str) -> Executor:
    if name not in IMPLEMENTATIONS:
        raise OrchError(f"unknown executor {name!r} recorded", "run.yaml")
    return IMPLEMENTATIONS[name](ws)
