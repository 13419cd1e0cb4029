"""The runs table (the page's and `runs.csv`'s) and the per-run CSV files, from `RunReport`s.

A column is declared once (`Column`): its CSV name, its heading, how to read it, and whether
a higher or lower value is the best one, so the page, the CSV and the highlighting agree.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.views.report.data import Checkpoint, RunReport, matching_metrics
from orchestrator.views.report.figures import MEASURE_LABELS, metric_label


@dataclass(frozen=True)
class Column:
    key: str  # the CSV header and the page's field name
    label: str  # the page's column heading
    read: Callable[[RunReport], Any]
    best: str | None = None  # "max" or "min": the best value of the column is highlighted
    kind: str = "text"  # text | number | duration | path
    param: bool = False  # a run.yaml parameter (the page states once those all runs share)
    on_page: bool = True  # False: runs.csv only (the page shows it in another column)


def param(key: str, label: str, name: str | None = None, kind: str = "text") -> Column:
    """A column showing the run.yaml parameter `name` (default: `key`)."""
    attribute = name or key
    return Column(
        key,
        label,
        lambda run: getattr(run.params, attribute) if run.params is not None else None,
        kind=kind,
        param=True,
    )


def training(read: Callable[[Any], Any]) -> Callable[[RunReport], Any]:
    return lambda run: read(run.training) if run.training is not None else None


def best_value(metric: str, read: Callable[[Checkpoint], Any]) -> Callable[[RunReport], Any]:
    def value(run: RunReport) -> Any:
        best = run.best(metric)
        return read(best) if best is not None else None

    return value


def measure_of(metric: str, measure: str) -> Callable[[Checkpoint], float]:
    return lambda checkpoint: checkpoint.values[metric][measure]


def progress(run: RunReport) -> str | None:
    if run.training is None:
        return None
    total = run.params.max_batches if run.params else 0
    return f"{run.training.last_iteration} / {total}" if total else str(run.training.last_iteration)


def columns() -> list[Column]:
    """Every column of the runs table, in page order."""
    fixed = [
        Column("run", "run", lambda run: run.name),
        param("template", "template"),
        param("dataset", "dataset"),
        param("iou_loss", "iou_loss"),
        param("iou_normalizer", "iou norm.", kind="number"),
        param("cls_normalizer", "cls norm.", kind="number"),
        param("representation", "repr."),
        param("gpus", "GPUs", kind="number"),
        param("base_lr", "base lr", kind="number"),
        param("cfg_lr", "cfg lr", kind="number"),
        param("burn_in", "burn-in", "cfg_burn_in", kind="number"),
        param("max_batches", "max_batches", kind="number"),
        param("parent", "from"),
        Column("state", "state", lambda run: run.state),
        Column("progress", "iteration / max", progress),
        Column("iteration", "iteration", training(lambda t: t.last_iteration), kind="number", on_page=False),
        Column("avg_loss", "avg loss", training(lambda t: t.last_avg_loss), best="min", kind="number"),
        Column("seconds_per_iteration", "s / iter", training(lambda t: t.seconds_per_iteration), kind="number"),
        Column("eta_seconds", "ETA", lambda run: run.eta_seconds, kind="duration"),
    ]
    for metric in matching_metrics():
        label = metric_label(metric)
        for measure, measure_label in MEASURE_LABELS.items():
            fixed.append(
                Column(
                    f"{csv_name(measure)}_{metric}",
                    f"{measure_label} {label}",
                    best_value(metric, measure_of(metric, measure)),
                    best="max",
                    kind="number",
                )
            )
        fixed.append(Column(f"iteration_{metric}", f"best iter. {label}", best_value(metric, lambda c: c.iteration)))
        fixed.append(
            Column(f"weights_{metric}", f"weights {label}", best_value(metric, lambda c: c.weights), kind="path")
        )
    return fixed


def csv_name(measure: str) -> str:
    """A measure's name in column names: the mean over thresholds is `map` (map_iou, map_giou)."""
    return "map" if measure == "mean" else measure


def cell(value: Any) -> Any:
    """A JSON- and CSV-safe value: NaN and infinities become empty."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def rows(runs: list[RunReport], cols: list[Column]) -> list[dict[str, Any]]:
    return [{c.key: cell(c.read(run)) for c in cols} for run in runs]


def to_csv(header: list[str], body: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in body])
    return out.getvalue()


def runs_csv(runs: list[RunReport]) -> str:
    cols = columns()
    return to_csv([c.key for c in cols], [[row[c.key] for c in cols] for row in rows(runs, cols)])


def results_header() -> list[str]:
    return (
        ["iteration", "weights"]
        + [f"{csv_name(m)}_{metric}" for metric in matching_metrics() for m in MEASURE_LABELS]
        + ["avg_loss"]
    )


def results_csv(run: RunReport) -> str:
    """One row per evaluated checkpoint, with darknet's avg loss at its iteration."""
    body = []
    for c in run.checkpoints:
        values = [c.values.get(metric, {}).get(m) for metric in matching_metrics() for m in MEASURE_LABELS]
        body.append([c.iteration, c.weights, *values, cell(c.avg_loss)])
    return to_csv(results_header(), body)


def per_class_csv(run: RunReport) -> str:
    """AP@[.5:.95] of each class at the best weights under each matching metric."""
    metrics = matching_metrics()
    bests = {m: run.best(m) for m in metrics}
    classes = sorted({c for m, b in bests.items() if b is not None for c in b.per_class.get(m, {})})
    header = ["class"] + [f"map_{m}" for m in metrics]
    body = [
        [
            name,
            *(cell(b.per_class[m].get(name)) if b is not None and m in b.per_class else None for m, b in bests.items()),
        ]
        for name in classes
    ]
    return to_csv(header, body)
