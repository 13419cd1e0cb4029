"""One evaluation: a weights file and a split in, one metrics.jsonl record out.

`results/<run>/<iteration|final>/<split>/` receives the eval `.data`, darknet's log and its
detections; the record carries everything a report needs without opening those files again.
Every failure that is the weights' or darknet's fault becomes a failure record (so it is
bounded by eval.max_attempts); only a stop request leaves no record at all. What is wrong with
the run's configuration (a missing ground truth or valid list, a cfg darknet would misread, no
darknet binary) is found once per run and pass by `prepare_run`, raised as an OrchError, and
costs no weights file an attempt: once it is fixed, every file is evaluated.
"""

from __future__ import annotations

import datetime as _dt
import functools
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator import __version__
from orchestrator.base.errors import OrchError
from orchestrator.base.fsutil import atomic_write
from orchestrator.config import Dataset
from orchestrator.darknet.cfg import read_cfg, render_data
from orchestrator.darknet.structure import raise_cfg_problems
from orchestrator.darknet.validation import evaluate_detections, load_ground_truth
from orchestrator.darknet.weights import parameter_count, size_mismatch
from orchestrator.evaluation.darknet_valid import (
    EvaluationFailed,
    ProgressCallback,
    ValidCall,
    check_outputs,
    clear_outputs,
    resolve_binary,
    run_valid,
)
from orchestrator.evaluation.discovery import WeightsFile
from orchestrator.evaluation.progress import count_images
from orchestrator.evaluation.store import EvalRecord
from orchestrator.metrics.boxes import GroundTruth
from orchestrator.metrics.measures import THRESHOLDS
from orchestrator.metrics.results import EvaluationResult
from orchestrator.runs import RunManifest
from orchestrator.workspace import Workspace

MIN_VALID_IMAGES = 4


@dataclass(frozen=True)
class JobRef:
    """Where an evaluation ran: `orch eval` itself (local, no id) or a Slurm job (`<job>_<task>`)."""

    executor: str = "local"
    id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"executor": self.executor, "id": self.id}


@dataclass(frozen=True)
class Target:
    """What to evaluate: one weights file of a run on one split of its dataset."""

    manifest: RunManifest
    weights: WeightsFile
    split: str
    attempt: int
    job: JobRef = JobRef()

    @property
    def key(self) -> tuple[str, str, int, float]:
        return (self.split, *self.weights.key)


@dataclass(frozen=True)
class RunSetup:
    """What every evaluation of one run needs, checked once per pass before darknet starts."""

    dataset: Dataset
    darknet: str  # the binary, resolved to an absolute path
    parameters: int | None  # floats the run's cfg needs in a weights file (None: beyond counting)
    ground_truth: dict[str, GroundTruth]  # per split to evaluate


def prepare_run(ws: Workspace, manifest: RunManifest, splits: set[str] | list[str]) -> RunSetup:
    """The run's setup, or OrchError naming the configuration problem (one line)."""
    dataset = dataset_of(ws, manifest)
    darknet = resolve_binary(ws.config.darknet.binary, ws.root)
    cfg_path = ws.root / manifest.files["cfg"]
    cfg = read_cfg(cfg_path)
    raise_cfg_problems(cfg, ws.relative(cfg_path))
    truths = {}
    for split in splits:
        check_valid_list(ws.root, dataset, split)
        truths[split] = ground_truth(ws.root, dataset, split)
    return RunSetup(dataset, darknet, parameter_count(cfg), truths)


def evaluate(
    ws: Workspace,
    target: Target,
    gpu: int | None,
    stop: threading.Event,
    on_progress: ProgressCallback | None = None,
    setup: RunSetup | None = None,
) -> EvalRecord:
    """Evaluate the target and return its record (status ok or failed); Interrupted propagates,
    and so does the OrchError of a run whose configuration is unusable (no `setup` given)."""
    setup = setup or prepare_run(ws, target.manifest, [target.split])
    timings: dict[str, float | None] = {"darknet_seconds": None, "metric_seconds": None}
    try:
        gt = setup.ground_truth[target.split]
        darknet_output = _run_darknet(ws, target, setup, list(gt.class_names), gpu, stop, on_progress, timings)
        started = time.monotonic()
        result = _score(ws, gt, setup.dataset, darknet_output)
        timings["metric_seconds"] = round(time.monotonic() - started, 3)
    except EvaluationFailed as failure:
        return make_record(ws, target, setup.dataset, timings, error=failure.error, log_tail=failure.log_tail)
    return make_record(ws, target, setup.dataset, timings, result=result)


def dataset_of(ws: Workspace, manifest: RunManifest) -> Dataset:
    """The run's dataset as configured (its files are checked when used, as failures)."""
    try:
        return ws.config.datasets[manifest.dataset]
    except KeyError:
        raise OrchError(
            f"run {manifest.name} uses dataset '{manifest.dataset}', which orch.yaml no longer defines",
            str(ws.config.path),
        ) from None


def check_valid_list(root: Path, dataset: Dataset, split: str) -> None:
    """Darknet aborts on an empty list and misreads one of fewer than 4 images (its batch of threads)."""
    list_file = root / dataset.valid[split]
    if not list_file.is_file():
        raise OrchError(f"the valid list of split {split} is missing", dataset.valid[split])
    images = count_images(str(list_file))
    if images < MIN_VALID_IMAGES:
        raise OrchError(
            f"the valid list of split {split} has {images} image(s); "
            f"darknet detector valid needs at least {MIN_VALID_IMAGES}",
            dataset.valid[split],
        )


def output_folder(ws: Workspace, target: Target) -> Path:
    return ws.results_dir(target.manifest.name) / target.weights.label / target.split


def _run_darknet(
    ws: Workspace,
    target: Target,
    setup: RunSetup,
    class_names: list[str],
    gpu: int | None,
    stop: threading.Event,
    on_progress: ProgressCallback | None,
    timings: dict[str, float | None],
) -> Path:
    """Write the eval .data, run darknet, and return its checked output (file or folder)."""
    try:
        problem = size_mismatch(ws.root / target.weights.path, setup.parameters)
    except OSError as exc:
        raise EvaluationFailed(f"cannot read the weights file: {exc.strerror}") from None
    if problem:
        raise EvaluationFailed(problem)
    folder = output_folder(ws, target)
    folder.mkdir(parents=True, exist_ok=True)  # darknet segfaults when results= is missing
    clear_outputs(folder)
    data = folder / "eval.data"
    atomic_write(data, render_data(eval_data(ws, target, setup.dataset, len(class_names), folder)))
    config = ws.config
    call = ValidCall(
        darknet=setup.darknet,
        data=ws.relative(data),
        cfg=target.manifest.files["cfg"],
        weights=target.weights.path,
        gpu=gpu,
        cwd=ws.root,
        log=folder / "darknet.log",
        timeout=config.eval.timeout,
        lib_folder=config.darknet.lib_folder,
    )
    timings["darknet_seconds"] = round(run_valid(call, stop, on_progress), 3)
    return check_outputs(folder, setup.dataset.eval, class_names, call.log)


def eval_data(ws: Workspace, target: Target, dataset: Dataset, classes: int, folder: Path) -> dict[str, object]:
    """The eval `.data`: the split's image list, and darknet's outputs into `folder`."""
    return {
        "classes": classes,
        "valid": dataset.valid[target.split],
        "names": dataset.names,
        "results": ws.relative(folder),
        "eval": dataset.eval,
    }


def _score(ws: Workspace, gt: GroundTruth, dataset: Dataset, darknet_output: Path) -> EvaluationResult:
    """The metrics engine on darknet's output; unreadable output is the weights' failure."""
    config = ws.config.eval
    try:
        return evaluate_detections(gt, darknet_output, dataset.eval, config.ap_method, config.metrics)
    except (OrchError, ValueError) as exc:
        raise EvaluationFailed(f"cannot score darknet's output: {exc}") from None


def ground_truth(root: Path, dataset: Dataset, split: str) -> GroundTruth:
    """The split's ground truth, loaded once per process (not once per weights file)."""
    gt_path = str(root / dataset.ground_truth) if dataset.ground_truth else None
    try:
        return _cached_ground_truth(dataset.eval, str(root / dataset.valid[split]), str(root / dataset.names), gt_path)
    except (OrchError, OSError, ValueError) as exc:
        raise OrchError(f"cannot load the ground truth of split {split}: {exc}", dataset.ground_truth) from None


@functools.lru_cache(maxsize=16)
def _cached_ground_truth(style: str, valid_list: str, names: str, gt_path: str | None) -> GroundTruth:
    return load_ground_truth(style, valid_list, names, gt_path)


def make_record(
    ws: Workspace,
    target: Target,
    dataset: Dataset,
    timings: dict[str, float | None],
    *,
    result: EvaluationResult | None = None,
    error: str | None = None,
    log_tail: str | None = None,
) -> EvalRecord:
    """The metrics.jsonl record of the target: its results, or why there are none."""
    weights, manifest = target.weights, target.manifest
    return EvalRecord(
        run=manifest.name,
        split=target.split,
        weights=weights.path,
        size=weights.size,
        mtime=weights.mtime,
        iteration=weights.iteration,
        phase=weights.phase,
        also=weights.also,
        job=target.job.as_dict(),
        style=dataset.eval,
        ap_method=result.ap_method if result else ws.config.eval.ap_method,
        status="ok" if result is not None else "failed",
        thresholds=THRESHOLDS,
        metrics=result.metrics if result is not None else {},
        darknet_seconds=timings["darknet_seconds"],
        metric_seconds=timings["metric_seconds"],
        flavor=manifest.flavor,
        orch_version=__version__,
        timestamp=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        attempt=target.attempt,
        error=error,
        log_tail=log_tail,
    )
