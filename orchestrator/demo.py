"""The demo: two real darknet trainings compared checkpoint by checkpoint, on any machine.

`orch demo DIR` draws the shapes dataset, creates a workspace, builds two `tiny-shapes` runs
that differ in their learning rate (a key pjreddie darknet honours), submits both (local
executor, or Slurm when a cluster answers), evaluates every checkpoint while they train (the
same pass `orch watch` and cron run) and writes the report. It is the main job on an embedded
default, and the end-to-end test runs it shortened.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.evaluation import PassOptions, load_results, run_pass
from orchestrator.evaluation.best import best_record
from orchestrator.evaluation.store import EvalRecord
from orchestrator.executors import JobState, current_chain, executor_named, job_states, new_run, submit_run
from orchestrator.executors.base import COMPLETED
from orchestrator.metrics.overlaps import OVERLAPS
from orchestrator.runs import RunSpec, load_manifest
from orchestrator.shapes import shapes_workspace
from orchestrator.views.status import collect_status
from orchestrator.workspace import Workspace

MARKER = ".orch-demo"
DEFAULT_ITERATIONS = 600
#: The two runs: name -> single-GPU base learning rate.
RUNS = {"shapes-lr1e-3": 0.001, "shapes-lr5e-4": 0.0005}
PROGRESS_EVERY = 10.0  # seconds between progress lines (evaluations are shown as they end)

Printer = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    workspace: Workspace
    report: Path
    best: dict[str, dict[str, EvalRecord]]  # run -> metric -> best record (by AP50)
    seconds: float


def run_demo(
    folder: Path,
    iterations: int = DEFAULT_ITERATIONS,
    n_train: int = 200,
    n_valid: int = 40,
    force: bool = False,
    out: Printer = print,
    poll_seconds: float = 3.0,
) -> DemoResult:
    """Build, train, evaluate while training, report. Returns where things are and the best AP."""
    started = time.monotonic()
    ws = prepare_workspace(Path(folder), n_train, n_valid, force)
    out(f"workspace {ws.root}: {n_train} training and {n_valid} validation images of shapes")
    for name, rate in RUNS.items():
        steps = [iterations * 5 // 6, iterations * 11 // 12]
        new_run(
            ws,
            name,
            RunSpec(template="tiny-shapes", dataset="shapes", learning_rate=rate, max_batches=iterations, steps=steps),
        )
        out(f"built run {name}: tiny-shapes, learning rate {rate:g}, {iterations} iterations")
    executor = executor_named(ws, ws.config.executor)
    for name in RUNS:
        record = submit_run(ws, name, executor)[-1]
        out(f"submitted {name} with the {record.executor} executor (job {record.job_id})")
    follow_training(ws, list(RUNS), out, poll_seconds)
    report = write_demo_report(ws).parent
    best = best_per_run(ws)
    elapsed = time.monotonic() - started
    out(f"\nreport: {report / 'index.html'}  ({elapsed:.0f} s in all)")
    out(summary_table(best))
    return DemoResult(ws, report, best, elapsed)


def prepare_workspace(folder: Path, n_train: int, n_valid: int, force: bool) -> Workspace:
    """A new workspace with the shapes dataset; only a previous demo workspace is replaced."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise OrchError("folder exists and is not an orch demo workspace; choose another", str(folder))
        if not force:
            raise OrchError("a demo workspace is already there (--force replaces it)", str(folder))
        shutil.rmtree(folder)
    ws = shapes_workspace(
        folder,
        n_train,
        n_valid,
        settings={
            "executor": "slurm" if slurm_answers() else "local",
            "slurm": {"cpus_per_task": 1, "mem": "1G", "time": "1:00:00"},
            "eval": {"settle_seconds": 1, "ap_method": "all", "timeout": 600},
        },
    )
    (folder / MARKER).write_text("made by 'orch demo'; 'orch demo --force' may delete this folder\n")
    return ws


def slurm_answers() -> bool:
    """Slurm is used only when a cluster is up (sbatch alone on PATH is not enough)."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return False
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return states.returncode == 0 and any(s.strip().rstrip("*") in ("idle", "mix") for s in states.stdout.split())


def follow_training(ws: Workspace, runs: list[str], out: Printer, poll_seconds: float) -> None:
    """Evaluate checkpoints as they appear and show progress, until training is over and every
    checkpoint has been evaluated.

    The last weights of a run are written as its training ends and are "settled" only
    `eval.settle_seconds` later, so after the end one more pass runs once that time has passed.
    """
    options = PassOptions(gpu=ws.config.eval.gpu)
    settle_wait = ws.config.eval.settle_seconds + poll_seconds
    shown, ended = 0.0, False
    while True:
        states = training_states(ws, runs)
        if time.monotonic() - shown >= PROGRESS_EVERY:
            out(progress_line(collect_status(ws, runs)))
            shown = time.monotonic()
        training = any(state.active for chain in states.values() for state in chain)
        report = run_pass(ws, runs, options)
        for outcome in report.outcomes:
            out(outcome_line(outcome))
        if report.outcomes:
            continue
        if training:
            time.sleep(poll_seconds)
        elif not ended:
            ended = True
            time.sleep(settle_wait)
        else:
            check_finished(states)
            return


def outcome_line(outcome) -> str:
    result = (
        ", ".join(f"mAP@[.5:.95] {m.upper()} {v:.3f}" for m, v in outcome.mean.items())
        if outcome.status == "ok"
        else f"FAILED: {outcome.error}"
    )
    return f"  evaluated {outcome.run} iteration {outcome.iteration}: {result} ({outcome.seconds:.1f} s)"


def training_states(ws: Workspace, runs: list[str]) -> dict[str, list[JobState]]:
    """The states of each run's newest jobs (one query for all runs)."""
    chains = {run: current_chain(load_manifest(ws, run)) for run in runs}
    states = iter(job_states(ws, [r for chain in chains.values() for r in chain]))
    return {run: [next(states) for _ in chain] for run, chain in chains.items()}


def check_finished(states: dict[str, list[JobState]]) -> None:
    failed = [run for run, chain in states.items() if not chain or any(s.state != COMPLETED for s in chain)]
    if failed:
        raise OrchError(f"training did not finish for {', '.join(failed)}: see logs/<run>/", "orch demo")


def progress_line(rows: list[dict]) -> str:
    parts = []
    for row in rows:
        iteration = row.get("iteration") or 0
        loss = f", avg loss {row['avg_loss']:.2f}" if row.get("avg_loss") is not None else ""
        parts.append(
            f"{row['run']} {row['state']} {iteration}/{row['max_batches']}{loss}, "
            f"{row.get('evaluated', 0)} checkpoints evaluated"
        )
    return time.strftime("[%H:%M:%S] ") + " | ".join(parts)


def write_demo_report(ws: Workspace) -> Path:
    from orchestrator.views.report import write_report

    return write_report(ws)


def best_per_run(ws: Workspace) -> dict[str, dict[str, EvalRecord]]:
    split = next(iter(ws.config.datasets["shapes"].valid))
    return {
        run: {metric: best_record(load_results(ws, run), metric, "ap50", split) for metric in OVERLAPS} for run in RUNS
    }


def summary_table(best: dict[str, dict[str, EvalRecord]]) -> str:
    header = f"{'run':<16} {'metric':<6} {'best AP50':>9} {'at iter':>7} {'mAP@[.5:.95]':>13}"
    lines = [header, "-" * len(header)]
    for run, per_metric in best.items():
        for metric, record in per_metric.items():
            block = record.metrics[metric]
            lines.append(
                f"{run:<16} {metric.upper():<6} {block.measure('ap50'):>9.3f} {record.iteration:>7} "
                f"{block.measure('mean'):>13.3f}"
            )
    return "\n".join(lines)
