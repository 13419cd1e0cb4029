"""Runs: building a run's `.data`, `.cfg` and `run.yaml` from a template, and reading them.

A run is one training experiment. Everything that defines it (template, dataset, loss keys,
GPU count and the learning-rate scaling applied) is recorded in `runs/<run>/run.yaml` so that
`--from` can clone it and reports can show it. Building validates everything first and writes
only at the end, so a rejected `orch new-run` leaves the workspace exactly as it was. The
training script that goes with them is the executors' (executors.render.new_run writes all).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from orchestrator.base.errors import OrchError, Problems
from orchestrator.base.fsutil import atomic_write
from orchestrator.base.values import INT_MAX, darknet_int, finite
from orchestrator.config import Dataset
from orchestrator.darknet.cfg import CfgFile, Section, basecfg, parse_cfg, render_data
from orchestrator.darknet.coco_ids import refuse_beyond_table
from orchestrator.darknet.forks import LOSS_KEYS, fork
from orchestrator.darknet.structure import cfg_problems, mask_of, unknown_key_warning
from orchestrator.darknet.weights import checkpoint_warning
from orchestrator.templates import cfg_template
from orchestrator.workspace import Workspace, check_run_name

REPRESENTATIONS = ("lin", "exp")
SAFE_VALUE = re.compile(r"[^\s#;=\[\]]+")
# libyaml's safe loader when present: `orch eval --all` and `orch status` read every run.yaml.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class RunSpec:
    """What the user chose for a run; None means "as the template has it"."""

    template: str
    dataset: str
    gpus: int = 1
    iou_loss: str | None = None
    iou_normalizer: float | None = None
    cls_normalizer: float | None = None
    representation: str | None = None
    learning_rate: float | None = None  # single-GPU base rate
    burn_in: int | None = None  # single-GPU base burn-in
    max_batches: int | None = None
    steps: list[int] | None = None
    batch: int | None = None
    subdivisions: int | None = None
    settings: dict[str, str] = field(default_factory=dict)  # --set SECTION.KEY=VALUE

    def updated(self, **changes: Any) -> RunSpec:
        """This spec with the given (non-None) changes; `settings` are merged, not replaced."""
        given = {k: v for k, v in changes.items() if v is not None and k != "settings"}
        merged = {**self.settings, **(changes.get("settings") or {})}
        return replace(self, **given, settings=merged)


@dataclass
class Scaling:
    """The GPU scaling applied to the cfg (recorded because it is easy to get wrong by hand)."""

    rule: str
    gpus: int
    base_learning_rate: float
    base_burn_in: int
    cfg_learning_rate: float
    cfg_burn_in: int


@dataclass
class JobRecord:
    """One submitted job of a run: an entry of run.yaml's `submissions`.

    Executors create them (`job_id` is Slurm's job id or the local executor's job number) and
    decide their state; `chain` numbers the submit calls of a run. The fields after `submitted`
    belong to one executor or phase and are left out of run.yaml when unset.
    """

    executor: str
    phase: str
    job_id: str
    chain: int = 0
    gpus: int = 1
    script: str = ""
    submitted: str = ""
    after: str | None = None  # Slurm: the job this one waits for (afterok)
    warmup: int | None = None  # the warm-up phase's iterations
    pid: int | None = None  # local: the chain's process (group) and its start time in clock ticks
    pid_start: int | None = None
    log: str | None = None  # local: the job's output and the file its exit status is written to
    rc_file: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        """An entry as read from run.yaml (keys unknown to this version are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {"executor": "", "phase": "", **{k: v for k, v in data.items() if k in known}}
        values["job_id"] = str(values["job_id"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


#: The files every run.yaml names (`files:`), workspace-relative.
MANIFEST_FILES = ("data", "cfg", "sbatch", "weights_base", "backup")


@dataclass
class RunManifest:
    """`runs/<run>/run.yaml`: the run's parameters, files and submissions."""

    name: str
    template: str
    dataset: str
    flavor: str
    gpus: int
    params: dict[str, Any]
    scaling: Scaling
    files: dict[str, str]
    created: str
    classes: int = 0
    max_batches: int = 0
    submissions: list[JobRecord] = field(default_factory=list)
    parent: str | None = None  # the run `new-run --from` cloned

    def spec(self) -> RunSpec:
        known = {f.name for f in fields(RunSpec)}
        return RunSpec(
            template=self.template,
            dataset=self.dataset,
            gpus=self.gpus,
            **{k: v for k, v in self.params.items() if k in known},
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunManifest:
        """run.yaml's mapping (scaling and submissions as plain mappings) as typed records;
        KeyError when a file the commands need is not named."""
        missing = [key for key in MANIFEST_FILES if key not in (data.get("files") or {})]
        if missing:
            raise KeyError(f"files.{missing[0]}")
        return cls(
            **{
                **data,
                "scaling": Scaling(**data["scaling"]),
                "submissions": [JobRecord.from_dict(r) for r in data.get("submissions") or []],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """run.yaml's mapping; `parent` only for a clone (a run.yaml of before it reads back unchanged)."""
        data = {**asdict(self), "submissions": [r.to_dict() for r in self.submissions]}
        if self.parent is None:
            del data["parent"]
        return data

    def job_ids(self) -> list[str]:
        """The ids of the run's jobs in submission order (how its logs are ordered)."""
        return [r.job_id for r in self.submissions]


@dataclass
class BuiltRun:
    """Everything `new-run` is about to write, kept in memory until all of it validated."""

    manifest: RunManifest
    files: dict[Path, str]
    warnings: list[str]


def scale_for_gpus(flavor: str, gpus: int, base_lr: float, base_burn_in: int) -> Scaling:
    """learning_rate = base / N and burn_in = base × N for forks that multiply the rate by N
    internally; the others keep the base rate, and the burn-in still grows with N to keep the
    warm-up as gentle per image seen."""
    darknet = fork(flavor)
    if not darknet.multiplies_lr_by_gpus:
        return Scaling(
            f"{darknet.name}: lr = base, burn_in = base x N", gpus, base_lr, base_burn_in, base_lr, base_burn_in * gpus
        )
    return Scaling(
        "lr = base / N, burn_in = base x N", gpus, base_lr, base_burn_in, base_lr / gpus, base_burn_in * gpus
    )


def build_run(ws: Workspace, name: str, spec: RunSpec, force: bool = False, parent: str | None = None) -> BuiltRun:
    """Validate everything and render the run's files in memory (nothing is written here).

    The checks of the input that do not depend on each other all run, and their problems are
    reported together."""
    config = ws.config
    flavor = config.darknet.flavor
    problems = Problems()
    problems.check(lambda: check_run_name(name))
    if not force and not problems.found:  # an invalid name has no folder to look at
        problems.check(lambda: _refuse_existing(ws, name))
    problems.found.extend(_spec_problems(spec, flavor))
    dataset = problems.check(lambda: config.dataset(spec.dataset))
    class_names = problems.check(lambda: dataset.class_names(ws.root)) if dataset else None
    if dataset is not None and class_names is not None and dataset.eval == "coco":
        problems.check(lambda: refuse_beyond_table(len(class_names), f"orch.yaml datasets.{spec.dataset}.eval"))
    template_path = problems.check(lambda: cfg_template(ws.root, spec.template))
    problems.raise_any()
    assert dataset is not None and class_names is not None and template_path is not None  # raise_any passed
    cfg = parse_cfg(_template_text(template_path), str(template_path))
    base_lr = spec.learning_rate if spec.learning_rate is not None else _net_float(cfg, "learning_rate", 0.001)
    base_burn = spec.burn_in if spec.burn_in is not None else int(_net_float(cfg, "burn_in", 0))
    scaling = scale_for_gpus(flavor, spec.gpus, base_lr, base_burn)
    warnings = apply_spec(cfg, spec, len(class_names), template_path)
    cfg.net.set("learning_rate", scaling.cfg_learning_rate)
    cfg.net.set("burn_in", scaling.cfg_burn_in)
    problems.found.extend(cfg_problems(cfg, f"template {spec.template} with the options given"))
    problems.raise_any()
    _check_steps(cfg.net, template_path)

    run_dir = ws.run_dir(name)
    cfg_path, data_path = run_dir / f"{name}.cfg", run_dir / f"{name}.data"
    manifest = RunManifest(
        name=name,
        template=spec.template,
        dataset=spec.dataset,
        flavor=flavor,
        gpus=spec.gpus,
        params={k: v for k, v in asdict(spec).items() if k not in ("template", "dataset", "gpus")},
        scaling=scaling,
        files={
            "data": ws.relative(data_path),
            "cfg": ws.relative(cfg_path),
            "sbatch": ws.relative(ws.sbatch_path(name)),
            "weights_base": basecfg(cfg_path),
            "backup": ws.relative(ws.backup_dir(name)),
        },
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        classes=len(class_names),
        max_batches=int(_net_float(cfg, "max_batches", 0)),
        submissions=_previous_submissions(ws, name),
        parent=parent,
    )
    files = {
        cfg_path: cfg.render(),
        data_path: render_data(run_data(ws, name, dataset, len(class_names), flavor)),
        run_dir / "run.yaml": dump_manifest(manifest),
    }
    return BuiltRun(
        manifest, files, [*warnings, *_flavor_warnings(spec, flavor), *filter(None, [checkpoint_warning(spec.gpus)])]
    )


def _template_text(path: Path) -> str:
    """The template with its line ends made darknet's (it reads `[net]\\r` as an unknown layer)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise OrchError(f"template is not UTF-8 text (byte {exc.start})", str(path)) from None


def _previous_submissions(ws: Workspace, name: str) -> list[JobRecord]:
    """A run rebuilt with --force keeps its job history (status and cancel still need it);
    a damaged run.yaml is what --force is there to replace."""
    if not (ws.run_dir(name) / "run.yaml").is_file():
        return []
    try:
        return load_manifest(ws, name).submissions
    except OrchError:
        return []


def write_run(built: BuiltRun) -> None:
    """Write the files of a validated run (each atomically)."""
    for path, text in built.files.items():
        atomic_write(path, text, mode=0o755 if path.suffix == ".sbatch" else None)


def compose_spec(
    ws: Workspace,
    from_run: str | None,
    template: str | None,
    dataset: str | None,
    settings: dict[str, str],
    **changes: Any,
) -> RunSpec:
    """The spec `new-run` asked for: a fresh one, or `--from RUN`'s with the given changes."""
    if from_run:
        return (
            load_manifest(ws, from_run).spec().updated(template=template, dataset=dataset, settings=settings, **changes)
        )
    missing = [option for option, value in (("--template", template), ("--dataset", dataset)) if value is None]
    if missing:
        raise OrchError(f"new-run needs {' and '.join(missing)} (or --from RUN)", "new-run")
    return RunSpec(template=template, dataset=dataset).updated(settings=settings, **changes)  # type: ignore[arg-type]


def _refuse_existing(ws: Workspace, name: str) -> None:
    for existing in (ws.run_dir(name), ws.sbatch_path(name)):
        if existing.exists():
            raise OrchError(f"run '{name}' already exists (use --force to rebuild it)", ws.relative(existing))


def _spec_problems(spec: RunSpec, flavor: str) -> list[OrchError]:
    """Every value of the spec that cannot be used, with the option that gave it."""
    found = []
    if spec.gpus < 1:
        found.append(OrchError(f"--gpus must be at least 1, got {spec.gpus}", "--gpus"))
    known = fork(flavor).iou_losses
    if spec.iou_loss is not None and spec.iou_loss not in known:
        found.append(
            OrchError(
                f"iou_loss '{spec.iou_loss}' is not known to darknet flavor {flavor} (known: {', '.join(known)})",
                "--iou-loss",
            )
        )
    if spec.representation is not None and spec.representation not in REPRESENTATIONS:
        found.append(OrchError(f"representation must be one of {', '.join(REPRESENTATIONS)}", "--representation"))
    positive = {
        "--iou-normalizer": spec.iou_normalizer,
        "--cls-normalizer": spec.cls_normalizer,
        "--lr": spec.learning_rate,
        "--max-batches": spec.max_batches,
        "--batch": spec.batch,
        "--subdivisions": spec.subdivisions,
    }
    numbers = [*positive.items(), ("--gpus", spec.gpus), ("--burn-in", spec.burn_in)]
    unusable = [
        _unusable_number(value, option) for option, value in [*numbers, *(("--steps", s) for s in spec.steps or [])]
    ]
    found.extend(error for error in unusable if error is not None)
    for option, value in positive.items():
        if value is not None and not value > 0 and option not in {e.where for e in found}:
            found.append(OrchError(f"{option} must be > 0, got {value}", option))
    if spec.burn_in is not None and spec.burn_in < 0:
        found.append(OrchError(f"--burn-in must be >= 0, got {spec.burn_in}", "--burn-in"))
    if spec.steps is not None and (any(s <= 0 for s in spec.steps) or spec.steps != sorted(spec.steps)):
        found.append(OrchError("--steps must be increasing positive iterations", "--steps"))
    if spec.batch and spec.subdivisions and spec.batch % spec.subdivisions:
        found.append(OrchError("--batch must be a multiple of --subdivisions", "--batch"))
    return found


def _unusable_number(value: float | None, option: str) -> OrchError | None:
    """NaN, an infinity or an integer darknet's C int cannot hold, as the error to report."""
    try:
        if isinstance(value, float):
            finite(value, option)
        elif value is not None:
            darknet_int(value, option, minimum=-INT_MAX)
    except OrchError as exc:
        return exc
    return None


def _flavor_warnings(spec: RunSpec, flavor: str) -> list[str]:
    given = [key for key in LOSS_KEYS if getattr(spec, key) is not None]
    if given and not fork(flavor).reads_loss_keys:
        return [
            f"darknet flavor {flavor} ignores {', '.join(given)} (it prints 'Unused field' and "
            "trains with its built-in MSE box loss); use a g-darknet binary (flavor: g-darknet) "
            "for IoU/GIoU losses"
        ]
    return []


# [section] key -> the flag that sets it: orch writes these itself, so a --set would be overwritten.
MANAGED_KEYS = {
    ("net", "learning_rate"): "--lr (the single-GPU base rate; orch scales it for the GPU count)",
    ("net", "burn_in"): "--burn-in (the single-GPU base; orch scales it for the GPU count)",
    ("yolo", "classes"): "--dataset (classes come from its names file)",
    **{("yolo", key): f"--{key.replace('_', '-')}" for key in LOSS_KEYS},
}


def apply_spec(cfg: CfgFile, spec: RunSpec, classes: int, where: Path) -> list[str]:
    """Edit the parsed cfg in place: [net] keys, --set overrides, classes/filters, loss keys.
    Returns warnings about --set keys darknet does not read."""
    net = cfg.net
    for key in ("batch", "subdivisions", "max_batches", "steps"):
        value = getattr(spec, key)
        if value is not None:
            net.set(key, value)
    warnings = []
    for target, value in spec.settings.items():
        for section, key in _set_targets(cfg, target):
            section.set(key, value)
        warning = unknown_key_warning(section.name, key)
        if warning:
            warnings.append(f"--set {target}: {warning}")
    yolos = cfg.named("yolo")
    if not yolos:
        raise OrchError("template has no [yolo] layer (orch builds YOLOv3-style detectors)", str(where))
    for yolo in yolos:
        _fit_classes(cfg, yolo, classes)
        for key in LOSS_KEYS:
            value = getattr(spec, key)
            if value is not None:
                yolo.set(key, value)
    return warnings


def _fit_classes(cfg: CfgFile, yolo: Section, classes: int) -> None:
    """classes= on the [yolo] and filters=(classes+5)×masks on the conv feeding it (a head that
    cannot be fitted is left for the structure check to report)."""
    yolo.set("classes", classes)
    conv, mask = cfg.conv_before(yolo), mask_of(yolo)
    if conv is not None and mask is not None:
        conv.set("filters", (classes + 5) * len(mask))


def _set_targets(cfg: CfgFile, target: str) -> list[tuple[Section, str]]:
    """`net.momentum`, `yolo.ignore_thresh` (every [yolo]), `convolutional[3].filters` (the 4th).
    Keys orch writes itself are refused with the option that sets them."""
    match = re.fullmatch(r"([A-Za-z_]+)(?:\[(\d+)\])?\.([A-Za-z_][A-Za-z0-9_]*)", target)
    if not match:
        raise OrchError(f"--set expects SECTION.KEY=VALUE or SECTION[i].KEY=VALUE, got {target!r}", "--set")
    name, index, key = match.groups()
    sections = [cfg.net] if name in ("net", "network") else cfg.named(name)
    if not sections:
        raise OrchError(f"the cfg has no [{name}] section", f"--set {target}")
    if index is not None:
        if int(index) >= len(sections):
            raise OrchError(f"the cfg has only {len(sections)} [{name}] sections", f"--set {target}")
        sections = [sections[int(index)]]
    managed = MANAGED_KEYS.get(("net" if name == "network" else name, key))
    if managed:
        raise OrchError(f"orch sets {key} itself; use {managed}", f"--set {target}")
    heads = {id(cfg.conv_before(yolo)) for yolo in cfg.named("yolo")}
    if key == "filters" and any(id(section) in heads for section in sections):
        raise OrchError(
            "orch sets filters of the [convolutional] before each [yolo] to (classes + 5) x masks; "
            "choose the classes with --dataset",
            f"--set {target}",
        )
    return [(section, key) for section in sections]


def _check_steps(net: Section, where: Path) -> None:
    max_batches = int(net.get("max_batches") or "0")
    steps = [int(s) for s in (net.get("steps") or "").split(",") if s]
    if max_batches <= 0:
        raise OrchError("[net] max_batches must be > 0", str(where))
    if any(s > max_batches for s in steps):
        raise OrchError(f"[net] steps {steps} beyond max_batches={max_batches}", str(where))


def _net_float(cfg: CfgFile, key: str, default: float) -> float:
    value = cfg.net.get(key)
    try:
        return finite(float(value), f"[net] {key}") if value is not None else default
    except ValueError:
        raise OrchError(f"[net] {key}={value} is not a number") from None


def run_data(ws: Workspace, name: str, dataset: Dataset, classes: int, flavor: str) -> dict[str, object]:
    """The run's .data: weights land in backup/<run>/ whichever fork reads it (a fork that adds
    the cfg prefix itself is given the workspace's backup/)."""
    backup = "backup" if fork(flavor).weights_in_prefix_folder else ws.relative(ws.backup_dir(name))
    return {
        "classes": classes,
        "train": dataset.train,
        "valid": next(iter(dataset.valid.values())),
        "names": dataset.names,
        "backup": backup,
        "prefix": name,
        "eval": dataset.eval,
    }


def dump_manifest(manifest: RunManifest) -> str:
    return "# orch run manifest: written by orch, read by every command\n" + yaml.safe_dump(
        manifest.to_dict(), sort_keys=False, default_flow_style=False
    )


def load_manifest(ws: Workspace, name: str) -> RunManifest:
    path = ws.run_dir(name) / "run.yaml"
    if not path.is_file():
        raise OrchError(f"unknown run '{name}'", ws.relative(path))
    try:
        data = yaml.load(path.read_bytes().decode("utf-8"), Loader=_YAML_LOADER)
        return RunManifest.from_dict(data)
    except (yaml.YAMLError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as exc:
        raise OrchError(f"run.yaml is damaged: {exc}", ws.relative(path)) from None


def manifest_or_none(ws: Workspace, name: str) -> RunManifest | None:
    """The run's manifest, or None when run.yaml is missing or damaged: logs copied in by hand
    are still parsed and reported (job order then falls back to file times)."""
    try:
        return load_manifest(ws, name)
    except OrchError:
        return None


def save_manifest(ws: Workspace, manifest: RunManifest) -> None:
    """Rewrite run.yaml (atomically: executors add submissions while others read it)."""
    atomic_write(ws.run_dir(manifest.name) / "run.yaml", dump_manifest(manifest))


def parse_setting(text: str) -> tuple[str, str]:
    """`SECTION.KEY=VALUE` from --set, value checked to be one darknet cfg token."""
    target, sep, value = text.partition("=")
    if not sep or not SAFE_VALUE.fullmatch(value):
        raise OrchError(f"--set expects SECTION.KEY=VALUE with a value without spaces, got {text!r}", "--set")
    return target.strip(), value


def warmup_cfg_path(ws: Workspace, name: str) -> Path:
    """`runs/<run>/warmup-<run>.cfg`: a name whose weights base (cut at the first dot) differs
    from the run's own, so warm-up weights never overwrite the multi-GPU phase's."""
    return ws.run_dir(name) / f"warmup-{name}.cfg"
