"""The workspace: a folder with orch.yaml and its folders (runs/, batch/, backup/, logs/, results/, reports/).

Commands find it from the current folder upwards (like git) or from -C, and ask it for every
path, so the layout is spelled out in exactly one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.base.fsutil import atomic_write
from orchestrator.config import Config, load_config

CONFIG_NAME = "orch.yaml"
LAYOUT = ("cfg_templates", "runs", "batch", "backup", "logs", "results", "reports")
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

DEFAULT_CONFIG = """\
# orch workspace configuration. Paths are relative to this folder (darknet runs from here).

darknet:
  binary: darknet          # the darknet executable (a name on PATH or a path)
  flavor: pjreddie         # pjreddie | g-darknet | alexeyab | hank-ai
  lib_folder: null         # put on LD_LIBRARY_PATH when set (a darknet built with CUDA/cuDNN)

# One entry per dataset; `orch new-run --dataset NAME` uses it.
datasets: {}
#  voc:
#    train: datasets/voc/train.txt             # image list for training
#    valid: datasets/voc/2007_test.txt         # or a mapping of split name -> image list
#    names: data/voc.names                     # one class name a line
#    eval: voc                                 # voc | coco: how checkpoints are scored
#    ground_truth: datasets/voc/VOCdevkit/VOC2007/Annotations   # VOC XML folder | COCO json
#                                              # | omitted: Darknet label files next to the images
#    pretrained: darknet53.conv.74             # initial weights (optional)

slurm:
  partition: null          # sbatch --partition
  time: "7-00:00:00"       # sbatch --time
  cpus_per_task: 8
  mem: 32G
  gres_type: null          # e.g. v100 gives --gres=gpu:v100:N
  extra: {}                # more sbatch options, e.g. {account: myproj, qos: high}

executor: auto             # auto = slurm when sbatch is on PATH, else local

eval:
  gpu: 0                   # the spare GPU evaluations run on
  every: 10m               # orch watch / orch crontab interval: 90s, 10m, 1h (bare number: minutes)
  min_weight_id: 0         # ignore weights of earlier iterations
  settle_seconds: 60       # a weights file modified more recently is still being written
  max_attempts: 3          # failed evaluations are retried this often
  ap_method: 11point       # 11point (VOC2007) | all (VOC2010+)
  metrics: [iou, giou]     # matching metrics for AP at .50:.05:.95
  timeout: 3600            # seconds for one `darknet detector valid`
  report: true             # rebuild the report after every pass that recorded something
  report_dir: reports      # the report's folder (index.html), relative to the workspace
  submit: false            # true: cron and `orch watch` submit Slurm jobs (orch eval --submit)
  slurm:                   # one evaluation job's partition, time, mem, cpus_per_task, gres_type, extra;
    max_parallel: 4        # keys left out take the slurm section's. Tasks of one array job at once.
"""


def check_run_name(name: str) -> str:
    """Refuse names that could escape a folder or break a shell line (`../x`, `a b`, `a;rm`)."""
    if not RUN_NAME.fullmatch(name):
        raise OrchError(
            f"invalid run name {name!r}: use letters, digits, '.', '_', '-' (first a letter or digit, at most 64)",
            "run name",
        )
    return name


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def find(cls, start: Path, explicit: bool = False) -> Workspace:
        """The workspace at `start` (explicit -C) or the nearest one above it."""
        start = start.resolve()
        candidates = [start] if explicit else [start, *start.parents]
        for folder in candidates:
            if (folder / CONFIG_NAME).is_file():
                return cls(folder)
        where = str(start)
        raise OrchError(
            f"no {CONFIG_NAME} found{'' if explicit else ' here or above'}; create a workspace with 'orch init DIR'",
            where,
        )

    @cached_property
    def config(self) -> Config:
        return load_config(self.root / CONFIG_NAME)

    def run_dir(self, name: str) -> Path:
        return self.root / "runs" / check_run_name(name)

    def backup_dir(self, name: str) -> Path:
        return self.root / "backup" / check_run_name(name)

    def logs_dir(self, name: str) -> Path:
        return self.root / "logs" / check_run_name(name)

    def results_dir(self, name: str) -> Path:
        return self.root / "results" / check_run_name(name)

    def eval_lock_path(self, name: str) -> Path:
        """The run's evaluation lock (held by whoever evaluates or submits its evaluations)."""
        return self.results_dir(name) / ".eval.lock"

    def jobs_dir(self) -> Path:
        """What Slurm jobs leave behind: `<id>.rc`, the exit status their script wrote, and
        `<id>.state`, the final state orch saw (both outlive Slurm's memory of the job)."""
        return self.root / "logs" / ".jobs"

    def eval_batch_dir(self) -> Path:
        """Scripts and task lists of evaluation jobs (`orch eval --submit`)."""
        return self.root / "batch" / "eval"

    def sbatch_path(self, name: str) -> Path:
        return self.root / "batch" / f"{check_run_name(name)}.sbatch"

    def reports_dir(self) -> Path:
        """The report's folder: eval.report_dir of orch.yaml, relative to the workspace."""
        return self.root / self.config.eval.report_dir

    def run_names(self) -> list[str]:
        """Runs that exist (have a run.yaml), sorted by name."""
        runs = self.root / "runs"
        if not runs.is_dir():
            return []
        return sorted(p.parent.name for p in runs.glob("*/run.yaml") if RUN_NAME.fullmatch(p.parent.name))

    def relative(self, path: Path) -> str:
        """A path as written into generated files: relative to the root when inside it."""
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)


def init_workspace(folder: Path, force: bool = False) -> Workspace:
    """Create the workspace folders and a commented orch.yaml (kept unless `force`)."""
    config = folder / CONFIG_NAME
    if config.exists() and not force:
        raise OrchError("workspace already initialised (use --force to rewrite orch.yaml)", str(config))
    if folder.exists() and not folder.is_dir():
        raise OrchError("not a folder", str(folder))
    for sub in LAYOUT:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    atomic_write(config, DEFAULT_CONFIG)
    return Workspace(folder.resolve())
