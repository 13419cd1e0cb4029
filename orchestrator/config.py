"""orch.yaml: loading and validating the workspace configuration.

Every value is checked when the file is read so that a typo surfaces as one line naming the
key and the file, not as a darknet crash on a compute node hours later. Dataset files are
checked when a dataset is used (`Config.dataset`), so an example dataset nobody uses yet does
not block every command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.base.errors import OrchError
from orchestrator.base.values import INT_MAX, finite, plain_text, printable
from orchestrator.darknet.cfg import read_names
from orchestrator.darknet.forks import FORKS, SPELLINGS
from orchestrator.metrics.evaluators import AP_METHODS, EVALUATORS
from orchestrator.metrics.overlaps import OVERLAPS

EXECUTORS = ("auto", "slurm", "local")


@dataclass(frozen=True)
class DarknetConfig:
    binary: str = "darknet"
    flavor: str = "pjreddie"  # a fork's name (darknet.forks), older spellings already resolved
    lib_folder: str | None = None


@dataclass(frozen=True)
class Dataset:
    """One dataset of orch.yaml; paths are relative to the workspace root (darknet runs there)."""

    name: str
    train: str
    valid: dict[str, str]  # split name -> image list file
    names: str
    eval: str = "voc"
    ground_truth: str | None = None
    pretrained: str | None = None

    def class_names(self, root: Path) -> list[str]:
        return read_names(root / self.names)


def dataset_lines(name: str) -> str:
    """The orch.yaml lines that define dataset `name` (shown when it is missing)."""
    return f"""\
  add it under 'datasets:' in orch.yaml (paths relative to the workspace):
    datasets:
      {name}:
        train: data/{name}/train.txt      # image list for training
        valid: data/{name}/valid.txt      # image list, or a mapping split-name: image list
        names: data/{name}/{name}.names   # one class name a line
        eval: voc                         # voc | coco: how checkpoints are scored
"""


@dataclass(frozen=True)
class SlurmConfig:
    partition: str | None = None
    time: str = "7-00:00:00"
    cpus_per_task: int = 8
    mem: str = "32G"
    gres_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalConfig:
    gpu: int = 0
    every: str = "10m"
    min_weight_id: int = 0
    settle_seconds: float = 60
    max_attempts: int = 3
    ap_method: str = "11point"
    metrics: tuple[str, ...] = tuple(OVERLAPS)
    timeout: float = 3600
    report: bool = True  # rebuild the report after a pass that recorded something
    report_dir: str = "reports"  # the report's folder, relative to the workspace
    submit: bool = False  # cron and watch submit Slurm jobs instead of running darknet themselves
    slurm: SlurmConfig = field(default_factory=SlurmConfig)  # resources of one evaluation job
    max_parallel: int = 4  # evaluation tasks of one array job running at once (%K)

    @property
    def every_seconds(self) -> float:
        return parse_duration(self.every, "eval.every")

    def submits(self, gpu: int | None) -> bool:
        """Whether a pass submits Slurm jobs: eval.submit, unless a GPU was named on the command
        line (`--gpu`: evaluate here, on it). `orch eval`, `watch` and `crontab` all ask this."""
        return self.submit and gpu is None

    def gpu_of(self, gpu: int | None) -> int:
        """The GPU a local pass uses: the one named on the command line, else eval.gpu."""
        return self.gpu if gpu is None else gpu


@dataclass(frozen=True)
class Config:
    path: Path
    darknet: DarknetConfig
    datasets: dict[str, Dataset]
    slurm: SlurmConfig
    executor: str
    eval: EvalConfig

    def dataset(self, name: str) -> Dataset:
        """The named dataset, with its files checked to exist (names, lists, ground truth)."""
        if name not in self.datasets:
            known = ", ".join(sorted(self.datasets)) or "none defined"
            raise OrchError(f"unknown dataset '{name}' (known: {known})", str(self.path), dataset_lines(name))
        dataset = self.datasets[name]
        root = self.path.parent
        files = {
            "train": dataset.train,
            "names": dataset.names,
            **{f"valid.{split}": f for split, f in dataset.valid.items()},
        }
        if dataset.ground_truth:
            files["ground_truth"] = dataset.ground_truth
        if dataset.pretrained:
            files["pretrained"] = dataset.pretrained
        for key, rel in files.items():
            if not (root / rel).exists():
                raise OrchError(f"datasets.{name}.{key}: file not found: {rel}", str(self.path))
        return dataset


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION_SECONDS = 366 * 86400  # beyond it a timer overflows (and means a typo)
# Every interval of orch (orch.yaml's eval.every, `watch --every`, `crontab --every`) reads the
# same way; a bare number is minutes because cron, the coarsest of them, counts minutes.
DURATION_HELP = "a duration such as 90s, 10m, 1h (a bare number is minutes)"


def parse_duration(text: str | int | float, where: str) -> float:
    """'90s', '10m', '2h', '1d' and a bare number of minutes ('10') -> seconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise OrchError(f"{where}: not {DURATION_HELP}: {text!r}")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "m"]
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        raise OrchError(f"{where}: duration must be positive and at most a year: {text!r}")
    return seconds


def duration_text(seconds: float) -> str:
    """The shortest exact spelling of a duration in the syntax parse_duration reads: 90s, 10m, 2h."""
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{int(seconds // _UNIT_SECONDS[unit])}{unit}"
    return f"{seconds:g}s"


class _Section:
    """Reads one mapping of orch.yaml, checking types and refusing unknown keys."""

    def __init__(self, data: Any, where: str, path: Path):
        self.where, self.path = where, path
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.fail(f"{where}: expected a mapping, got {type(data).__name__}")
        self.data = data

    def fail(self, message: str) -> None:
        raise OrchError(message, str(self.path))

    def refuse_unknown(self, known: set[str]) -> None:
        for key in self.data:
            if key not in known:
                self.fail(f"{self.where}.{key}: unknown key (known: {', '.join(sorted(known))})")

    def get(
        self,
        key: str,
        types: type | tuple[type, ...],
        default: Any,
        choices: tuple[str, ...] | None = None,
        required: bool = False,
    ) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                self.fail(f"{self.where}.{key}: missing")
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            self.fail(f"{self.where}.{key}: expected {_type_names(types)}, got a boolean")
        if not isinstance(value, types):
            self.fail(f"{self.where}.{key}: expected {_type_names(types)}, got {type(value).__name__}")
        if choices is not None and value not in choices:
            self.fail(f"{self.where}.{key}: {value!r} is not one of {', '.join(choices)}")
        return self.checked(key, value)

    def checked(self, key: str, value: Any) -> Any:
        """Every value is written somewhere (a cfg, a .data, an sbatch, a timer): no control
        characters in text, no NaN or infinity, no integer beyond darknet's C int."""
        where = f"{self.where}.{printable(key)}"
        try:
            if isinstance(value, str):
                plain_text(value, where)
            elif isinstance(value, float):
                finite(value, where)
            elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT_MAX:
                raise OrchError(f"{value} is outside -{INT_MAX}..{INT_MAX}", where)
            elif isinstance(value, dict):
                for sub_key, sub_value in value.items():
                    self.checked(f"{key}.{sub_key}", str(sub_key))
                    self.checked(f"{key}.{sub_key}", sub_value)
        except OrchError as exc:
            self.fail(f"{exc.where}: {exc.what}")
        return value


def _type_names(types: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))


def load_config(path: Path) -> Config:
    """Read and validate orch.yaml (see `orch init` for the commented default)."""
    try:
        raw = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise OrchError(f"orch.yaml is not UTF-8 text (byte {exc.start})", str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise OrchError(f"orch.yaml is not valid YAML{line}: {getattr(exc, 'problem', exc)}", str(path)) from None
    top = _Section(raw, "orch.yaml", path)
    top.refuse_unknown({"darknet", "datasets", "slurm", "executor", "eval"})
    slurm_section = _Section(top.data.get("slurm"), "slurm", path)
    slurm_section.refuse_unknown(SLURM_KEYS)
    slurm = _slurm(slurm_section)
    return Config(
        path=path,
        darknet=_darknet(_Section(top.data.get("darknet"), "darknet", path)),
        datasets=_datasets(_Section(top.data.get("datasets"), "datasets", path)),
        slurm=slurm,
        executor=top.get("executor", str, "auto", EXECUTORS),
        eval=_eval(_Section(top.data.get("eval"), "eval", path), slurm),
    )


def _darknet(s: _Section) -> DarknetConfig:
    s.refuse_unknown({"binary", "flavor", "lib_folder"})
    return DarknetConfig(
        binary=s.get("binary", str, "darknet"),
        flavor=_flavor(s),
        lib_folder=s.get("lib_folder", str, None),
    )


def _flavor(s: _Section) -> str:
    """The fork's name; its older spellings (`gdarknet`, `hankai`) are accepted."""
    spelling = s.get("flavor", str, "pjreddie")
    if spelling not in SPELLINGS:
        s.fail(f"darknet.flavor: {spelling!r} is not one of {', '.join(FORKS)}")
    return SPELLINGS[spelling].name


def _datasets(s: _Section) -> dict[str, Dataset]:
    return {str(name): _dataset(str(name), _Section(body, f"datasets.{name}", s.path)) for name, body in s.data.items()}


def _dataset(name: str, s: _Section) -> Dataset:
    s.refuse_unknown({"train", "valid", "names", "eval", "ground_truth", "pretrained"})
    valid = s.get("valid", (str, dict), None, required=True)
    if isinstance(valid, str):
        valid = {"valid": valid}
    for split, list_file in valid.items():
        if not isinstance(list_file, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(split)):
            s.fail(f"{s.where}.valid.{split}: expected 'split-name: list-file'")
        s.checked(f"valid.{split}", list_file)
    return Dataset(
        name=name,
        train=s.get("train", str, None, required=True),
        valid=valid,
        names=s.get("names", str, None, required=True),
        eval=s.get("eval", str, "voc", tuple(EVALUATORS)),
        ground_truth=s.get("ground_truth", str, None),
        pretrained=s.get("pretrained", str, None),
    )


SLURM_KEYS = {"partition", "time", "cpus_per_task", "mem", "gres_type", "extra"}


def _slurm(s: _Section, defaults: SlurmConfig = SlurmConfig()) -> SlurmConfig:
    """A Slurm resources section; keys it leaves out take `defaults` (eval.slurm: the training's)."""
    cpus = s.get("cpus_per_task", int, defaults.cpus_per_task)
    if cpus < 1:
        s.fail(f"{s.where}.cpus_per_task: must be at least 1")
    extra = s.get("extra", dict, defaults.extra)
    for option, value in extra.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", str(option)):
            s.fail(f"{s.where}.extra.{option}: not an sbatch option name")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            s.fail(f"{s.where}.extra.{option}: expected a string or a number, got {type(value).__name__}")
    return SlurmConfig(
        partition=s.get("partition", str, defaults.partition),
        time=str(s.get("time", (str, int), defaults.time)),
        cpus_per_task=cpus,
        mem=str(s.get("mem", (str, int), defaults.mem)),
        gres_type=s.get("gres_type", str, defaults.gres_type),
        extra=dict(extra),
    )


def _eval(s: _Section, training_slurm: SlurmConfig) -> EvalConfig:
    s.refuse_unknown(
        {
            "gpu",
            "every",
            "min_weight_id",
            "settle_seconds",
            "max_attempts",
            "ap_method",
            "metrics",
            "timeout",
            "report",
            "report_dir",
            "submit",
            "slurm",
        }
    )
    slurm = _Section(s.data.get("slurm"), "eval.slurm", s.path)
    slurm.refuse_unknown({*SLURM_KEYS, "max_parallel"})
    max_parallel = slurm.get("max_parallel", int, 4)
    if max_parallel < 1:
        s.fail("eval.slurm.max_parallel: must be at least 1")
    metrics = s.get("metrics", list, list(OVERLAPS))
    for metric in metrics:
        if metric not in OVERLAPS:
            s.fail(f"eval.metrics: {metric!r} is not one of {', '.join(OVERLAPS)}")
    if not metrics:
        s.fail(f"eval.metrics: give at least one of {', '.join(OVERLAPS)}")
    config = EvalConfig(
        gpu=s.get("gpu", int, 0),
        every=str(s.get("every", (str, int), "10m")),
        min_weight_id=s.get("min_weight_id", int, 0),
        settle_seconds=float(s.get("settle_seconds", (int, float), 60)),
        max_attempts=s.get("max_attempts", int, 3),
        ap_method=s.get("ap_method", str, "11point", AP_METHODS),
        metrics=tuple(dict.fromkeys(metrics)),
        timeout=float(s.get("timeout", (int, float), 3600)),
        report=s.get("report", bool, True),
        report_dir=s.get("report_dir", str, "reports"),
        submit=s.get("submit", bool, False),
        slurm=_slurm(slurm, training_slurm),
        max_parallel=max_parallel,
    )
    try:
        _ = config.every_seconds  # validated now, not at the first scheduled pass
    except OrchError as exc:
        s.fail(exc.what)
    if config.max_attempts < 1:
        s.fail("eval.max_attempts: must be at least 1")
    if config.gpu < 0 or config.min_weight_id < 0:
        s.fail("eval.gpu and eval.min_weight_id must be >= 0")
    if config.settle_seconds < 0 or config.timeout <= 0:
        s.fail("eval.settle_seconds must be >= 0 and eval.timeout > 0")
    return config
