"""What executors run: the training script of each phase and the warm-up cfg, rendered from
the run's manifest and orch.yaml.

The script is the same for Slurm and the local executor (the `#SBATCH` lines are comments to
bash). `new_run` is `orch new-run`: the run's files (runs.build_run) plus its training script,
all validated in memory before anything is written.
"""

from __future__ import annotations

import shlex

from orchestrator.base.values import plain_text
from orchestrator.darknet.cfg import parse_cfg
from orchestrator.runs import BuiltRun, RunManifest, RunSpec, build_run, write_run
from orchestrator.templates import fill, shipped
from orchestrator.workspace import Workspace

TRAIN, WARMUP = "train", "warmup"


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
    """`#SBATCH` lines (our own rendering: every value shell-quoted, tested line by line)."""
    slurm = ws.config.slurm
    gres = f"gpu:{slurm.gres_type}:{gpus}" if slurm.gres_type else f"gpu:{gpus}"
    options: dict[str, object] = {
        "job-name": job_name,
        "chdir": str(ws.root),
        "output": f"logs/{manifest.name}/%j.log",
        "gres": gres,
        "cpus-per-task": slurm.cpus_per_task,
        "mem": slurm.mem,
        "time": slurm.time,
    }
    if slurm.partition:
        options["partition"] = slurm.partition
    options.update({str(k).replace("_", "-"): v for k, v in slurm.extra.items()})
    # a newline in a value would end the #SBATCH comment and start a command of bash's
    lines = [
        f"#SBATCH --{key}={shlex.quote(plain_text(str(value), f'sbatch --{key}'))}" for key, value in options.items()
    ]
    return lines + ["#SBATCH --requeue"]


def render_sbatch(ws: Workspace, manifest: RunManifest, cfg_rel: str, gpus: int, phase: str) -> str:
    """The training script for one phase of a run (also what the local executor runs)."""
    dataset = ws.config.datasets[manifest.dataset]
    darknet = ws.config.darknet
    environment = ""
    if darknet.lib_folder:
        environment = f"export LD_LIBRARY_PATH={shlex.quote(darknet.lib_folder)}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
    job_name = manifest.name if phase == TRAIN else f"{manifest.name}.{phase}"
    values = {
        "header": "\n".join(sbatch_header(ws, manifest, gpus, job_name)),
        "run": manifest.name,
        "phase": phase,
        "workspace": shlex.quote(str(ws.root)),
        "backup_dir": shlex.quote(manifest.files["backup"]),
        "logs_dir": shlex.quote(f"logs/{manifest.name}"),
        "environment": environment,
        "pretrained": shlex.quote(dataset.pretrained or ""),
        "darknet": shlex.quote(darknet.binary),
        "data": shlex.quote(manifest.files["data"]),
        "cfg": shlex.quote(cfg_rel),
        "gpu_list": ",".join(str(i) for i in range(gpus)),
    }
    template = shipped("batch/train.sbatch.tmpl")
    return fill(template.read_text(), values, str(template))


def render_warmup_cfg(ws: Workspace, manifest: RunManifest, iterations: int) -> str:
    """The run's cfg for the one-GPU warm-up: the single-GPU base learning rate and burn-in,
    stopping at `iterations` (its `_final.weights` is where the N-GPU phase resumes)."""
    cfg_path = ws.root / manifest.files["cfg"]
    cfg = parse_cfg(cfg_path.read_text(), str(cfg_path))
    cfg.net.set("learning_rate", manifest.scaling.base_learning_rate)
    cfg.net.set("burn_in", manifest.scaling.base_burn_in)
    cfg.net.set("max_batches", iterations)
    return cfg.render()
