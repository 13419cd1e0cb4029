"""Choosing the best weights file of a run from its records (`orch best`)."""

from __future__ import annotations

from typing import Any

from orchestrator.base.errors import OrchError
from orchestrator.evaluation.store import EvalRecord
from orchestrator.executors.render import WARMUP
from orchestrator.metrics.measures import MEASURES
from orchestrator.runs import RunManifest
from orchestrator.workspace import Workspace


def latest_ok_records(records: list[EvalRecord], split: str) -> list[EvalRecord]:
    """The newest successful record of each weights file on `split` (a re-evaluated file counts once)."""
    latest: dict[str, EvalRecord] = {}
    for record in records:
        if record.ok and record.split == split:
            latest[record.weights] = record
    return list(latest.values())


def default_split(records: list[EvalRecord], dataset_splits: list[str]) -> str:
    """The dataset's first split that has records, else the first split any record has
    (`records` is not empty)."""
    seen = [r.split for r in records]
    return next((split for split in dataset_splits if split in seen), seen[0])


def shown_split(ws: Workspace, manifest: RunManifest | None, records: list[EvalRecord]) -> str | None:
    """The split `orch best`, `orch status` and the report speak of: the run's dataset's first
    split with a successful evaluation (None before any). `manifest` may be None (no run.yaml)."""
    ok = [r for r in records if r.ok]
    if not ok:
        return None
    dataset = ws.config.datasets.get(manifest.dataset) if manifest is not None else None
    return default_split(ok, list(dataset.valid) if dataset else [])


def best_record(records: list[EvalRecord], metric: str, measure: str, split: str) -> EvalRecord:
    """The record with the highest `measure` of `metric`; ties go to the later iteration, the
    warm-up's checkpoints (the run's first part) counting before the run's own."""
    candidates = [r for r in latest_ok_records(records, split) if metric in r.metrics]
    if not candidates:
        raise OrchError(f"no successful evaluation with metric {metric} on split {split}")
    return max(candidates, key=lambda r: (r.metrics[metric].measure(measure), r.iteration, r.phase != WARMUP))


def summary(record: EvalRecord, metric: str, measure: str) -> dict[str, Any]:
    """What `orch best --json` prints: the weights and its values under every measure."""
    block = record.metrics[metric]
    return {
        "run": record.run,
        "split": record.split,
        "weights": record.weights,
        "iteration": record.iteration,
        "metric": metric,
        "measure": measure,
        "value": block.measure(measure),
        **{name: block.measure(name) for name in MEASURES},
    }
