"""What executors run: the training script of each phase and the warm-up cfg, rendered from
the run's manifest and orch.yaml.

The script is the same for Slurm and the local executor (the `#SBATCH` lines are comments to
bash). `new_run` is `orch new-run`: the run's files (runs.build_run) plus its training script,
all validated in memory before anything is written.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from orchestrator.base.values import plain_text
from orchestrator.config import SlurmConfig
from orchestrator.darknet.cfg import parse_cfg
from orchestrator.runs import BuiltRun, RunManifest, RunSpec, build_run, write_run
from orchestrator.templates import fill, shipped
from orchestrator.workspace import Workspace

TRAIN, WARMUP = "train", "warmup"
EVAL_JOB_NAME = "orch-eval"


def new_run(ws: Workspace, name: str, spec: RunSpec, force: bool = False, parent: str | None = None) -> BuiltRun:
    """Build the run, add its training script (before run.yaml, which is written last) and write;
    `parent` names the run it was cloned from (`--from`)."""
    built = build_run(ws, name, spec, force, parent)
    manifest_path = ws.run_dir(name) / "run.yaml"
    manifest_text = built.files.pop(manifest_path)
    manifest = built.manifest
    built.files[ws.sbatch_path(name)] = render_sbatch(ws, manifest, manifest.files["cfg"], manifest.gpus, TRAIN)
    built.files[manifest_path] = manifest_text
    write_run(built)
    return built


def sbatch_header(ws: Workspace, manifest: RunManifest, gpus: int, job_name: str) -> list[str]:
    """The training job's `#SBATCH` lines (requeued when preempted: it resumes from its weights)."""
    lines = slurm_options(ws, ws.config.slurm, job_name, f"logs/{manifest.name}/%j.log", gpus)
    return lines + ["#SBATCH --requeue"]


def slurm_options(ws: Workspace, slurm: SlurmConfig, job_name: str, output: str, gpus: int) -> list[str]:
    """`#SBATCH` lines (our own rendering: every value shell-quoted, tested line by line)."""
    gres = f"gpu:{slurm.gres_type}:{gpus}" if slurm.gres_type else f"gpu:{gpus}"
    options: dict[str, object] = {
        "job-name": job_name,
        "chdir": str(ws.root),
        "output": output,
        "gres": gres,
        "cpus-per-task": slurm.cpus_per_task,
        "mem": slurm.mem,
        "time": slurm.time,
    }
    if slurm.partition:
        options["partition"] = slurm.partition
    options.update({str(k).replace("_", "-"): v for k, v in slurm.extra.items()})
    # a newline in a value would end the #SBATCH comment and start a command of bash's
    return [
        f"#SBATCH --{key}={shlex.quote(plain_text(str(value), f'sbatch --{key}'))}" for key, value in options.items()
    ]


def render_sbatch(ws: Workspace, manifest: RunManifest, cfg_rel: str, gpus: int, phase: str) -> str:
    """The training script for one phase of a run (also what the local executor runs)."""
    dataset = ws.config.datasets[manifest.dataset]
    darknet = ws.config.darknet
    job_name = manifest.name if phase == TRAIN else f"{manifest.name}.{phase}"
    values = {
        "header": "\n".join(sbatch_header(ws, manifest, gpus, job_name)),
        "run": manifest.name,
        "phase": phase,
        "workspace": shlex.quote(str(ws.root)),
        "backup_dir": shlex.quote(manifest.files["backup"]),
        "logs_dir": shlex.quote(f"logs/{manifest.name}"),
        "environment": library_path(ws),
        "jobs_dir": shlex.quote(ws.relative(ws.jobs_dir())),
        "pretrained": shlex.quote(dataset.pretrained or ""),
        "darknet": shlex.quote(darknet.binary),
        "data": shlex.quote(manifest.files["data"]),
        "cfg": shlex.quote(cfg_rel),
        "gpu_list": ",".join(str(i) for i in range(gpus)),
    }
    template = shipped("batch/train.sbatch.tmpl")
    return fill(template.read_text(), values, str(template))


def render_eval_sbatch(ws: Workspace, tasks: Path, orch: str) -> str:
    """The evaluation job's script: `orch eval-task` for one task of the list `tasks` on one GPU,
    with the resources of orch.yaml's eval.slurm (`orch` is the command that runs this orch)."""
    header = slurm_options(ws, ws.config.eval.slurm, EVAL_JOB_NAME, "logs/eval/%A_%a.log", 1)
    values = {
        "header": "\n".join(header),
        "tasks": shlex.quote(ws.relative(tasks)),
        "jobs_dir": shlex.quote(ws.relative(ws.jobs_dir())),
        "workspace": shlex.quote(str(ws.root)),
        "environment": library_path(ws),
        "orch": orch,
    }
    template = shipped("batch/eval.sbatch.tmpl")
    return fill(template.read_text(), values, str(template))


def library_path(ws: Workspace) -> str:
    """The line putting darknet.lib_folder (a CUDA/cuDNN build's libraries) on LD_LIBRARY_PATH."""
    folder = ws.config.darknet.lib_folder
    return f"export LD_LIBRARY_PATH={shlex.quote(folder)}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" if folder else ""


def render_warmup_cfg(ws: Workspace, manifest: RunManifest, iterations: int) -> str:
    """The run's cfg for the one-GPU warm-up: the single-GPU base learning rate and burn-in,
    stopping at `iterations` (its `_final.weights` is where the N-GPU phase resumes)."""
    cfg_path = ws.root / manifest.files["cfg"]
    cfg = parse_cfg(cfg_path.read_text(), str(cfg_path))
    cfg.net.set("learning_rate", manifest.scaling.base_learning_rate)
    cfg.net.set("burn_in", manifest.scaling.base_burn_in)
    cfg.net.set("max_batches", iterations)
    return cfg.render()
