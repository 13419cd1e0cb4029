"""Which jobs train a run: one job, or a one-GPU warm-up followed by the N-GPU phase.

A multi-GPU run first trains ~1000 iterations on ONE GPU from the pretrained
weights with the base learning rate and burn-in, then continues on N GPUs with the scaled cfg.
The warm-up has its own cfg (`runs/<run>/warmup-<run>.cfg`, another weights base) and script
(`batch/<run>.warmup.sbatch`); the run's script picks the newest weights in `backup/<run>/`,
which after the warm-up is `warmup-<run>_final.weights` — darknet reads the iteration count
from its header, so the N-GPU phase continues from the warm-up's last iteration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.darknet.cfg import basecfg
from orchestrator.darknet.weights import weights_pattern
from orchestrator.executors.base import Job
from orchestrator.executors.render import TRAIN, WARMUP, render_sbatch, render_warmup_cfg
from orchestrator.runs import RunManifest, warmup_cfg_path
from orchestrator.workspace import Workspace

DEFAULT_WARMUP = 1000


@dataclass
class Plan:
    """The jobs of one submission and the generated files they need (written before submitting)."""

    run: str
    jobs: list[Job]
    files: dict[Path, str] = field(default_factory=dict)


def plan_run(ws: Workspace, manifest: RunManifest, warmup: int = DEFAULT_WARMUP) -> Plan:
    """Two phases for a multi-GPU run whose warm-up is not done and whose N-GPU phase has not
    started (an interrupted warm-up is redone from its `.backup`); one job otherwise."""
    train = Job(manifest.name, TRAIN, ws.sbatch_path(manifest.name), manifest.gpus)
    if warmup < 0:
        raise OrchError(f"--warmup must be >= 0, got {warmup}", "--warmup")
    if manifest.gpus == 1 or warmup == 0 or warmup_done(ws, manifest) or has_weights(ws, manifest, main_base(manifest)):
        return Plan(manifest.name, [train])
    if warmup >= manifest.max_batches:
        raise OrchError(
            f"--warmup {warmup} must be below max_batches {manifest.max_batches} "
            "(or 0 to train on all GPUs from the start)",
            manifest.name,
        )
    cfg_path = warmup_cfg_path(ws, manifest.name)
    if basecfg(cfg_path) == main_base(manifest):
        raise OrchError("warm-up and run cfgs would share weights names", ws.relative(cfg_path))
    script = warmup_script_path(ws, manifest.name)
    files = {
        cfg_path: render_warmup_cfg(ws, manifest, warmup),
        script: render_sbatch(ws, manifest, ws.relative(cfg_path), 1, WARMUP),
    }
    return Plan(manifest.name, [Job(manifest.name, WARMUP, script, 1), train], files)


def warmup_script_path(ws: Workspace, run: str) -> Path:
    sbatch = ws.sbatch_path(run)
    return sbatch.with_name(f"{run}.{WARMUP}.sbatch")


def main_base(manifest: RunManifest) -> str:
    return manifest.files["weights_base"]


def warmup_done(ws: Workspace, manifest: RunManifest) -> bool:
    final = f"{basecfg(warmup_cfg_path(ws, manifest.name))}_final.weights"
    return (ws.root / manifest.files["backup"] / final).is_file()


def final_weights(ws: Workspace, manifest: RunManifest) -> Path | None:
    """The run's `_final.weights` when training finished (darknet writes it at max_batches;
    submitting again would only make darknet rewrite it)."""
    final = ws.root / manifest.files["backup"] / f"{main_base(manifest)}_final.weights"
    return final if final.is_file() else None


def has_weights(ws: Workspace, manifest: RunManifest, base: str) -> bool:
    """Whether darknet saved anything under this weights base in the run's backup folder."""
    folder = ws.root / manifest.files["backup"]
    checkpoint = weights_pattern(base)
    return folder.is_dir() and any(p.name == f"{base}.backup" or checkpoint.fullmatch(p.name) for p in folder.iterdir())
