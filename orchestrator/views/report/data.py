"""What the report shows, gathered from the layers below as typed records (no drawing here).

One `RunReport` per run: its parameters (run.yaml), its training curves (the merged job logs,
reduced to at most a few thousand points per curve so a page of 50 runs stays small), and its
evaluated checkpoints (metrics.jsonl, on the split `orch best` and `orch status` speak of).
`orch report --log` builds the same records from log files alone, without a workspace.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.base.errors import OrchError
from orchestrator.base.fsutil import atomic_write
from orchestrator.base.progress import Progress
from orchestrator.evaluation.best import latest_ok_records, shown_split
from orchestrator.evaluation.store import EvalRecord, load_results, store_path
from orchestrator.executors import current_chain, job_states
from orchestrator.logs import ParsedLog, latest_rows, parse_paths, parse_run, run_log_files
from orchestrator.metrics.measures import MEASURES
from orchestrator.metrics.overlaps import OVERLAPS
from orchestrator.runs import manifest_or_none


@dataclass(frozen=True)
class Resolution:
    """Points kept per training curve (None: every iteration, for exports): darknet's avg loss
    is the curve people zoom into; the raw loss is noise around it, drawn faint."""

    loss: int | None
    other: int | None


#: For the page: finer than a screen is wide, small enough for 50 runs.
PAGE = Resolution(loss=1200, other=300)
FULL = Resolution(loss=None, other=None)
#: Iterations whose seconds are averaged for the speed shown in the table and the ETA.
SPEED_WINDOW = 100
#: A run whose newest log line is older than this is not called active (for the page's reload).
ACTIVE_SECONDS = 900
#: The report's digest of a run's evaluation store (results/<run>/), and its format's version.
DIGEST_NAME = "report-digest.json"
DIGEST_VERSION = 2
#: Log errors that end a run (a truncated last line or a NaN streak does not).
FATAL_ERRORS = ("darknet-error", "missing-file", "cuda-error", "crash", "out-of-memory")


@dataclass(frozen=True)
class Curve:
    """y against iteration; `x` int32 and `y` float32 (what the page needs, half the bytes).
    `step` > 0 says the iterations are evenly spaced by it (the page then sends no x at all)."""

    x: np.ndarray
    y: np.ndarray
    step: int = 0

    @classmethod
    def of(cls, x: Any, y: Any, step: int = 0) -> Curve:
        return cls(np.asarray(x, dtype=np.int32), np.asarray(y, dtype=np.float32), step)


@dataclass
class Training:
    """A run's training log(s) reduced for drawing, plus the facts the table shows."""

    format: str
    curves: dict[str, Curve]  # loss, avg_loss, rate, seconds
    region: dict[str, Curve]  # region statistic -> mean over layers
    darknet_map: Curve  # darknet's own mAP@0.5 blocks (AlexeyAB / hank-ai `-map`)
    restarts: list[int]  # iterations where a job resumed
    gaps: list[int]  # iterations after lines missing from the log
    last_iteration: int
    last_avg_loss: float
    seconds_per_iteration: float
    last_error: str | None  # darknet's last error line when the run crashed
    newest_write: float  # mtime of the newest log file (0 when unknown)


@dataclass(frozen=True)
class Checkpoint:
    """One evaluated weights file: every measure of every matching metric."""

    iteration: int
    weights: str
    values: dict[str, dict[str, float]]  # metric -> measure (mean, ap50, ap75) -> value
    ap: dict[str, list[float]]  # metric -> AP per threshold
    per_class: dict[str, dict[str, float]]  # metric -> class -> AP@[.5:.95] (NaN: no ground truth)
    avg_loss: float | None = None  # darknet's avg loss at this iteration (None: not in the log)


@dataclass(frozen=True)
class Params:
    """The run.yaml facts the table shows."""

    template: str
    dataset: str
    iou_loss: Any
    iou_normalizer: Any
    cls_normalizer: Any
    representation: Any
    gpus: int
    base_lr: Any
    cfg_lr: Any
    base_burn_in: Any
    cfg_burn_in: Any
    max_batches: int
    parent: str | None

    def grouping_key(self) -> tuple:
        """Runs with equal keys repeat one experiment (the page can draw them as a mean)."""
        return tuple(value for name, value in vars(self).items() if name != "parent")


@dataclass
class RunReport:
    name: str
    params: Params | None = None
    training: Training | None = None
    checkpoints: list[Checkpoint] = field(default_factory=list)  # by iteration
    thresholds: list[float] = field(default_factory=list)
    split: str | None = None
    job_state: str = ""
    job_active: bool = False

    def best(self, metric: str) -> Checkpoint | None:
        """Highest mAP@[.5:.95] under `metric`; ties go to the later iteration (as `orch best`)."""
        scored = [c for c in self.checkpoints if metric in c.values]
        return max(scored, key=lambda c: (c.values[metric]["mean"], c.iteration), default=None)

    @property
    def state(self) -> str:
        """What a researcher wants to know first: crashed, finished, training, or the job's state."""
        t = self.training
        if t is not None and t.last_error is not None:
            return "crashed"
        if t is not None and self.params and self.params.max_batches and t.last_iteration >= self.params.max_batches:
            return "finished"
        if self.job_state:
            return self.job_state
        if self.params is None:  # log files without a run: nothing says whether it goes on
            return "logged"
        return "no log yet" if t is None else "training"

    @property
    def active(self) -> bool:
        """Still training: its job says so, or (no job known) its log was written recently."""
        if self.job_active:
            return True
        t = self.training
        return (
            not self.job_state
            and self.state in ("training", "logged")
            and t is not None
            and time.time() - t.newest_write < ACTIVE_SECONDS
        )

    @property
    def eta_seconds(self) -> float | None:
        t, p = self.training, self.params
        if t is None or p is None or not p.max_batches or not self.active or not math.isfinite(t.seconds_per_iteration):
            return None
        return max(0, p.max_batches - t.last_iteration) * t.seconds_per_iteration


def matching_metrics() -> tuple[str, ...]:
    """The matching metrics orch evaluates under (the overlap registry), in its order."""
    return tuple(OVERLAPS)


# -- workspace --------------------------------------------------------------------------------
def gather(workspace: Any, runs: Sequence[str] | None, resolution: Resolution = PAGE) -> list[RunReport]:
    """One record per run (default: every run of the workspace, in its order)."""
    known = set(workspace.run_names())
    names = list(runs) if runs else workspace.run_names()
    for name in names:
        if name not in known and not workspace.logs_dir(name).is_dir():
            raise OrchError(f"unknown run '{name}'", "orch report")
    reports = []
    with Progress("report: reading runs", len(names), "runs") as progress:  # logs of big runs take a while
        for name in names:
            reports.append(gather_run(workspace, name, resolution))
            progress.advance()
    add_job_states(workspace, reports)
    return reports


def gather_run(workspace: Any, name: str, resolution: Resolution = PAGE) -> RunReport:
    manifest = manifest_or_none(workspace, name)
    digested = digested_records(workspace, name)
    records = [record for record, _ in digested]
    classes = {id(record): means for record, means in digested}
    split = shown_split(workspace, manifest, records)
    job_ids = manifest.job_ids() if manifest else ()
    log = parse_run(workspace, name, job_ids)
    files = run_log_files(workspace, name, job_ids)
    newest = max((p.stat().st_mtime for p in files), default=0.0)
    ok = sorted(latest_ok_records(records, split), key=lambda r: r.iteration) if split else []
    losses = avg_losses(log, [r.iteration for r in ok])
    return RunReport(
        name,
        params=params_of(manifest) if manifest else None,
        training=training_of(log, newest, resolution) if log is not None else None,
        checkpoints=[checkpoint_of(r, classes[id(r)], loss) for r, loss in zip(ok, losses)],
        thresholds=list(ok[0].thresholds) if ok else [],
        split=split,
    )


def add_job_states(workspace: Any, reports: list[RunReport]) -> None:
    """The state of each run's current job (one query per executor kind for all runs)."""
    from orchestrator.views.status import current_job

    manifests = {r.name: manifest_or_none(workspace, r.name) for r in reports if r.params is not None}
    chains = {name: current_chain(m) for name, m in manifests.items() if m is not None}
    records = [record for chain in chains.values() for record in chain]
    if not records:
        return
    try:
        states = iter(job_states(workspace, records))
    except OrchError:  # the executor cannot be asked (no cluster here): the logs tell the rest
        return
    by_run = {name: [(record, next(states)) for record in chain] for name, chain in chains.items()}
    for report in reports:
        manifest = manifests.get(report.name)
        shown = current_job(workspace, manifest, by_run[report.name]) if manifest is not None else None
        if shown is not None:
            report.job_state, report.job_active = shown[1].raw, shown[1].active


def params_of(manifest: Any) -> Params:
    p, s = manifest.params, manifest.scaling
    return Params(
        template=manifest.template,
        dataset=manifest.dataset,
        iou_loss=p.get("iou_loss"),
        iou_normalizer=p.get("iou_normalizer"),
        cls_normalizer=p.get("cls_normalizer"),
        representation=p.get("representation"),
        gpus=manifest.gpus,
        base_lr=s.base_learning_rate,
        cfg_lr=s.cfg_learning_rate,
        base_burn_in=s.base_burn_in,
        cfg_burn_in=s.cfg_burn_in,
        max_batches=manifest.max_batches,
        parent=manifest.parent,
    )


#: metric -> class label -> AP@[.5:.95] of one record (what the report shows per class).
ClassMeans = dict[str, dict[str, float]]


def digested_records(workspace: Any, run: str) -> list[tuple[EvalRecord, ClassMeans]]:
    """The run's evaluation records, without their per-class AP lists, each with its classes'
    mean AP; read from a digest next to the store while the store is unchanged (same size and
    mtime). Parsing 100 records of 80 classes costs a tenth of a second, and a report of 50
    runs is rebuilt after every evaluation pass although most runs' stores did not change."""
    try:
        stat = store_path(workspace, run).stat()
    except FileNotFoundError:
        return []
    key = [DIGEST_VERSION, stat.st_size, stat.st_mtime_ns]
    digest = workspace.results_dir(run) / DIGEST_NAME
    try:
        cached = json.loads(digest.read_text())
        if cached["key"] == key:
            return [(EvalRecord.from_json(r["record"]), r["classes"]) for r in cached["records"]]
    except (OSError, ValueError, KeyError, TypeError):  # no digest yet, or a damaged one
        pass
    digested = [digest_of(record) for record in load_results(workspace, run)]
    entries = [{"record": record.to_json(), "classes": classes} for record, classes in digested]
    with contextlib.suppress(OSError):  # a read-only results folder: no digest, same report
        atomic_write(digest, json.dumps({"key": key, "records": entries}))
    return digested


def digest_of(record: EvalRecord) -> tuple[EvalRecord, ClassMeans]:
    """The record without per-class lists, and its classes' mean AP under each metric."""
    classes = {
        name: {label: class_map(ap) for label, ap in block.by_label().items()} for name, block in record.metrics.items()
    }
    metrics = {name: dataclasses.replace(block, per_class=()) for name, block in record.metrics.items()}
    return dataclasses.replace(record, metrics=metrics), classes


def avg_losses(log: ParsedLog | None, iterations: list[int]) -> list[float | None]:
    """darknet's avg loss at each iteration (the row no later job redid), None where the log
    has no such iteration."""
    if log is None or not log.iterations:
        return [None] * len(iterations)
    logged = np.asarray(log.series["iteration"], dtype=np.int64)
    keep = latest_rows(logged)
    by_iteration = dict(zip(logged[keep].tolist(), np.asarray(log.series["avg_loss"])[keep].tolist()))
    return [by_iteration.get(i) for i in iterations]


def checkpoint_of(record: EvalRecord, classes: ClassMeans, avg_loss: float | None = None) -> Checkpoint:
    metrics = record.metrics
    names = [m for m in matching_metrics() if m in metrics]
    return Checkpoint(
        iteration=record.iteration,
        weights=record.weights,
        values={m: {measure: metrics[m].measure(measure) for measure in MEASURES} for m in names},
        ap={m: list(metrics[m].ap) for m in names},
        per_class={m: classes.get(m, {}) for m in names},
        avg_loss=avg_loss,
    )


def class_map(values: Sequence[float] | None) -> float:
    """A class's AP@[.50:.95]; NaN (an empty cell) when absent or undefined (COCO writes -1
    for a class without ground truth)."""
    return sum(values) / len(values) if values and values[0] >= 0 else math.nan


# -- log files --------------------------------------------------------------------------------
def gather_logs(specs: Sequence[str], resolution: Resolution = PAGE) -> list[RunReport]:
    """`--log FILE` or `--log NAME=FILE`: the name is the file stem unless given. Files given
    the same name are one run's jobs, joined in the order given (a run across restarts)."""
    files: dict[str, list[Path]] = {}
    for spec in specs:
        name, path = split_log_spec(spec)
        files.setdefault(name, []).append(path)
    reports = []
    for name, paths in files.items():
        log = parse_paths(paths)
        newest = max(p.stat().st_mtime for p in paths)
        reports.append(RunReport(name, training=training_of(log, newest, resolution)))
    return reports


def split_log_spec(spec: str) -> tuple[str, Path]:
    """`NAME=FILE` or `FILE` (then named by its stem); a file whose own name holds a `=` is
    taken as it is."""
    name, sep, path = spec.partition("=")
    if not sep or not name or Path(spec).is_file():
        return Path(spec).stem, Path(spec)
    return name, Path(path)


# -- reducing a log -----------------------------------------------------------------------------
def training_of(log: ParsedLog, newest_write: float, resolution: Resolution = PAGE) -> Training:
    series = {k: np.asarray(v) for k, v in log.series.items()}
    keep = latest_rows(series["iteration"])
    iterations = series["iteration"][keep]
    curves = {
        name: reduce(
            iterations, series[name][keep].astype(float), resolution.loss if name == "avg_loss" else resolution.other
        )
        for name in ("loss", "avg_loss", "rate", "seconds")
    }
    seconds = series["seconds"][keep][-SPEED_WINDOW:].astype(float)
    finite_seconds = seconds[np.isfinite(seconds) & (seconds > 0)]
    return Training(
        format=log.format,
        curves={name: curve for name, curve in curves.items() if np.isfinite(curve.y).any()},
        region=region_curves(log, resolution.other),
        darknet_map=Curve.of([p["iteration"] or 0 for p in log.map_points], [p["map"] for p in log.map_points]),
        restarts=[int(e["iteration"]) for e in log.restarts],
        gaps=[int(e["iteration"]) for e in log.gaps],
        last_iteration=int(iterations[-1]) if iterations.size else 0,
        last_avg_loss=float(series["avg_loss"][-1]) if iterations.size else math.nan,
        seconds_per_iteration=float(finite_seconds.mean()) if finite_seconds.size else math.nan,
        last_error=last_error(log),
        newest_write=newest_write,
    )


def last_error(log: ParsedLog) -> str | None:
    fatal = [e for e in log.errors if e.get("kind") in FATAL_ERRORS]
    return str(fatal[-1]["text"]) if fatal else None


def reduce(x: np.ndarray, y: np.ndarray, points: int | None) -> Curve:
    """At most `points` points: iterations cut into bins of equal width, each drawn at its
    last iteration with the mean of its values (NaN ignored; a bin without any value, a gap in
    the log, stays a hole). A curve already short enough is kept as it is."""
    if points is None or x.size <= points:
        return Curve.of(x, y)
    first, step = int(x[0]), -(-(int(x[-1]) - int(x[0]) + 1) // points)  # ceiling division
    bins = (x - first) // step
    finite = np.isfinite(y)
    count = int(bins[-1]) + 1
    sums = np.bincount(bins[finite], weights=y[finite], minlength=count)
    counts = np.bincount(bins[finite], minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return Curve.of(first + step - 1 + step * np.arange(count), means, step)


def region_curves(log: ParsedLog, points: int | None) -> dict[str, Curve]:
    """Each region statistic as the mean over the layers that reported it, per iteration
    (rows redone by a resumed job dropped); statistics no layer reported are left out."""
    if not log.region:
        return {}
    kept = []
    for columns in log.region.values():
        iterations = np.asarray(columns["iteration"], dtype=np.int64)
        keep = latest_rows(iterations)
        kept.append((iterations[keep], keep, columns))
    every = np.unique(np.concatenate([iterations for iterations, _, _ in kept]))
    layers = [(np.searchsorted(every, iterations), keep, columns) for iterations, keep, columns in kept]
    stats = [name for name in next(iter(log.region.values())) if name != "iteration"]
    curves = {}
    for stat in stats:
        sums, counts = np.zeros(every.size), np.zeros(every.size)
        for where, keep, columns in layers:
            values = np.asarray(columns[stat], dtype=float)[keep]
            finite = np.isfinite(values)
            sums += np.bincount(where[finite], weights=values[finite], minlength=every.size)
            counts += np.bincount(where[finite], minlength=every.size)
        if counts.any():
            with np.errstate(invalid="ignore", divide="ignore"):
                curves[stat] = reduce(every, np.where(counts > 0, sums / np.maximum(counts, 1), np.nan), points)
    return curves
