"""Darknet's weights files: how they are named, and how big a complete one is.

Names: darknet saves `<base>_<iteration>.weights` every so often, `<base>_final.weights` at
the end and overwrites `<base>.backup` as it goes, where `<base>` is basecfg() of the cfg.

Size: darknet `fread`s the parameters without checking how many it got: a weights file cut short
(a copy interrupted, a disk full during training) loads without complaint, the missing
parameters keep their random initialisation, and `detector valid` happily writes garbage
detections. The file size is the only honest signal, so it is compared with the size the cfg
implies: a header, then per layer the float32 parameters darknet writes.
"""

from __future__ import annotations

import functools
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from orchestrator.darknet.cfg import CfgFile

FINAL = "final"
CHECKPOINT_EVERY = 100  # darknet saves <base>_<i>.weights when its iteration counter i is a multiple
FLOAT_BYTES = 4
# Layers without parameters that keep their input's channel count.
PASS_THROUGH = {"maxpool", "avgpool", "upsample", "dropout", "yolo", "region", "softmax", "cost", "shortcut"}


@dataclass(frozen=True)
class Checkpoint:
    """What a weights file name says: the iteration it was saved at, or `final` (None)."""

    iteration: int | None

    @property
    def final(self) -> bool:
        return self.iteration is None


@functools.cache
def weights_pattern(base: str) -> re.Pattern[str]:
    """`<base>_<iteration>.weights` or `<base>_final.weights` (not `<base>.backup`); one
    compiled pattern per base (a pass tests every file of every run against its own)."""
    return re.compile(re.escape(base) + rf"_(\d+|{FINAL})\.weights")


def checkpoint_of(name: str, base: str) -> Checkpoint | None:
    """The checkpoint a file name stands for, or None when darknet did not name it so."""
    match = weights_pattern(base).fullmatch(name)
    if match is None:
        return None
    return Checkpoint(None if match.group(1) == FINAL else int(match.group(1)))


def checkpoint_warning(gpus: int) -> str | None:
    """Why a GPU count gives fewer checkpoints: with N GPUs darknet's counter steps by N, so it
    meets a multiple of 100 only every lcm(N, 100) iterations (None when N divides 100)."""
    if CHECKPOINT_EVERY % gpus == 0:
        return None
    every = math.lcm(gpus, CHECKPOINT_EVERY)
    return (
        f"with {gpus} GPUs darknet's iteration counter steps by {gpus} and saves _<n>.weights only at "
        f"multiples of {CHECKPOINT_EVERY}: a checkpoint every {every} iterations instead of {CHECKPOINT_EVERY} "
        "(a GPU count dividing 100 keeps them all: 1, 2, 4, 5, 10)"
    )


def weights_header_bytes(path: Path) -> int | None:
    """major, minor, revision (int32) then `seen` (int64 from version 0.2 on, else int32)."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if len(head) < 12:
        return None
    major, minor, _ = struct.unpack("<iii", head)
    return 20 if major * 10 + minor >= 2 and major < 1000 and minor < 1000 else 16


def parameter_count(cfg: CfgFile) -> int | None:
    """Floats darknet writes for this cfg; None if a layer type is beyond what we can count."""
    channels: list[int] = []
    current = int(cfg.net.get("channels", "3") or 3)
    total = 0
    layers = [s for s in cfg.sections if s.name not in ("net", "network")]
    for index, layer in enumerate(layers):
        if layer.name == "convolutional":
            filters = int(layer.get("filters", "1"))
            size = int(layer.get("size", "1"))
            groups = int(layer.get("groups", "1"))
            normalized = int(layer.get("batch_normalize", "0"))
            total += filters * (1 + 3 * normalized) + filters * (current // groups) * size * size
            current = filters
        elif layer.name == "route":
            current = sum(channels[_absolute(int(i), index)] for i in (layer.get("layers") or "").split(",") if i)
        elif layer.name not in PASS_THROUGH:
            return None
        channels.append(current)
    return total


def size_mismatch(weights: Path, parameters: int | None) -> str | None:
    """Why `weights` cannot hold the cfg's `parameters` floats (header included), or None.

    Shorter: darknet would keep random parameters. Longer: the file belongs to another cfg (a
    wider network) and darknet would load its first parameters into the wrong places; both give
    detections that look valid and mean nothing. `parameters` None: the cfg has a layer beyond
    counting, only the header is checked."""
    header = weights_header_bytes(weights)
    if header is None:
        return "weights file is shorter than its header"
    if parameters is None:
        return None
    expected = header + FLOAT_BYTES * parameters
    size = weights.stat().st_size
    if size < expected:
        return f"weights file is truncated: {size} bytes, the cfg needs {expected}"
    if size > expected:
        return f"weights file does not fit the cfg: {size} bytes, the cfg needs {expected} (weights of another cfg?)"
    return None


def _absolute(layer_index: int, current: int) -> int:
    return current + layer_index if layer_index < 0 else layer_index
