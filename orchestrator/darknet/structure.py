"""What darknet needs of a cfg beyond its syntax, checked before a run is built or evaluated.

Darknet reads numbers with atoi/atof, which never fail: `filters=abc` becomes 0 filters and
`size=x3` a 0×0 kernel, so a bad value surfaces as a segfault or garbage hours later. A route or
shortcut to a layer that does not exist reads outside the network. A [yolo] head whose
convolution does not give (classes + 5) × masks filters crashes at the first image. These are
refused here, each problem with its section and key; keys darknet does not know in a section
are named (with the closest known key) so a typo is not silently ignored.

The tables follow darknet's parser (pjreddie and the AlexeyAB family); keys of other sections
and section types beyond them are left alone.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from orchestrator.base.errors import OrchError
from orchestrator.base.values import INT_MAX
from orchestrator.darknet.cfg import CfgFile, Section

# Keys read with option_find_int (a list: comma-separated ints), and the smallest value that works.
INTEGERS: dict[str, dict[str, int]] = {
    "net": {
        "batch": 1,
        "subdivisions": 1,
        "width": 1,
        "height": 1,
        "channels": 1,
        "max_batches": 0,
        "burn_in": 0,
        "max_crop": 0,
        "min_crop": 0,
        "time_steps": 1,
        "step": 1,
        "inputs": 1,
        "flip": 0,
        "mosaic": 0,
        "letter_box": 0,
    },
    "convolutional": {
        "filters": 1,
        "size": 1,
        "stride": 1,
        "pad": 0,
        "padding": 0,
        "groups": 1,
        "batch_normalize": 0,
        "binary": 0,
        "xnor": 0,
        "dilation": 1,
        "stride_x": 1,
        "stride_y": 1,
    },
    "maxpool": {"size": 1, "stride": 1, "padding": 0, "stride_x": 1, "stride_y": 1, "maxpool_depth": 0},
    "avgpool": {},
    "upsample": {"stride": -INT_MAX},
    "route": {"groups": 1, "group_id": 0},
    "yolo": {"classes": 1, "num": 1, "max": 1, "new_coords": 0},
    "region": {"classes": 1, "num": 1, "coords": 1, "max": 1, "random": 0, "softmax": 0, "rescore": 0, "bias_match": 0},
    "reorg": {"stride": 1, "reverse": 0, "extra": 0, "flatten": 0},
    "dropout": {},
}
#: AlexeyAB reads shortcut `from` as a list too (one layer in pjreddie's cfgs).
INTEGER_LISTS = {"net": {"steps"}, "yolo": {"mask"}, "route": {"layers"}, "shortcut": {"from"}}
FLOATS = {
    "net": {
        "learning_rate",
        "momentum",
        "decay",
        "power",
        "gamma",
        "scale",
        "saturation",
        "exposure",
        "hue",
        "angle",
        "aspect",
        "jitter",
    },
    "convolutional": set(),
    "yolo": {
        "ignore_thresh",
        "truth_thresh",
        "jitter",
        "iou_normalizer",
        "cls_normalizer",
        "obj_normalizer",
        "scale_x_y",
        "iou_thresh",
        "beta_nms",
        "max_delta",
        "label_smooth_eps",
        "resize",
        "random",  # AlexeyAB: a resize factor (random=1.2); pjreddie's 0/1 reads the same
    },
    "region": {"jitter", "object_scale", "noobject_scale", "class_scale", "coord_scale", "thresh", "absolute"},
    "dropout": {"probability"},
    "shortcut": {"alpha", "beta"},
    "upsample": {"scale"},
}
FLOAT_LISTS = {"net": {"scales"}, "yolo": {"anchors"}, "region": {"anchors"}}
WORDS = {
    "net": {"policy", "optimized_memory", "adam", "B1", "B2", "eps", "mixup", "blur", "cutmix", "track"},
    "convolutional": {"activation", "share_index", "antialiasing", "assisted_excitation"},
    "shortcut": {"activation", "weights_type", "weights_normalization"},
    "yolo": {"iou_loss", "nms_kind", "representation", "counters_per_class", "map", "focal_loss", "iou_thresh_kind"},
    "region": {"tree", "map", "absolute", "log"},
    "route": set(),
    "maxpool": set(),
    "upsample": set(),
    "reorg": set(),
    "dropout": set(),
    "avgpool": set(),
}
NET_NAMES = ("net", "network")


@dataclass(frozen=True)
class Layer:
    """A section of the network after [net]: its type and its index as routes count it."""

    index: int
    section: Section


def known_keys(section_name: str) -> set[str] | None:
    """Every key darknet reads in a section of this type; None for types beyond our tables."""
    name = "net" if section_name in NET_NAMES else section_name
    if name not in WORDS:
        return None
    return (
        set(INTEGERS.get(name, {}))
        | INTEGER_LISTS.get(name, set())
        | FLOATS.get(name, set())
        | FLOAT_LISTS.get(name, set())
        | WORDS[name]
    )


def closest_key(section_name: str, key: str) -> str | None:
    """The known key of the section a misspelt `key` most likely meant (None when nothing is close)."""
    known = known_keys(section_name) or set()
    found = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key_warning(section_name: str, key: str) -> str | None:
    """A warning when darknet does not read `key` in this kind of section (it would ignore it)."""
    known = known_keys(section_name)
    if known is None or key in known:
        return None
    closest = closest_key(section_name, key)
    hint = f"; did you mean {closest}?" if closest else ""
    return f"darknet does not read {key} in a [{section_name}] section (it is ignored){hint}"


def cfg_problems(cfg: CfgFile, where: str) -> list[OrchError]:
    """Everything in the cfg that darknet would misread, one OrchError each (empty: usable)."""
    found: list[OrchError] = []
    layers = [Layer(i, s) for i, s in enumerate(s for s in cfg.sections if s.name not in NET_NAMES)]
    for position, section in enumerate(cfg.sections):
        found.extend(_value_problems(section, f"{where} section {position + 1}"))
    for layer in layers:
        found.extend(_reference_problems(layer, len(layers), where))
    for number, yolo in enumerate(cfg.named("yolo"), start=1):
        found.extend(_head_problems(cfg, yolo, number, where))
    return found


def raise_cfg_problems(cfg: CfgFile, where: str) -> None:
    """OrchError naming every problem of the cfg (one message), or nothing when it is usable."""
    found = cfg_problems(cfg, where)
    if found:
        raise OrchError("; ".join(e.what for e in found), where)


def _value_problems(section: Section, where: str) -> list[OrchError]:
    name = "net" if section.name in NET_NAMES else section.name
    found = []
    for key, value in section.items():
        if key in INTEGERS.get(name, {}):
            found.extend(_integer_problem(section, key, [value], INTEGERS[name][key], where))
        elif key in INTEGER_LISTS.get(name, set()):
            found.extend(_integer_problem(section, key, value.split(","), -INT_MAX, where))
        elif key in FLOATS.get(name, set()) | FLOAT_LISTS.get(name, set()):
            found.extend(_float_problem(section, key, value, where))
    return found


def _integer_problem(section: Section, key: str, items: list[str], minimum: int, where: str) -> list[OrchError]:
    for item in items:
        if item == "" and len(items) > 1:
            continue  # a trailing comma: darknet skips it
        try:
            number = int(item)
        except ValueError:
            return [OrchError(f"[{section.name}] {key}={item!r} is not an integer", where)]
        if not minimum <= number <= INT_MAX:
            return [OrchError(f"[{section.name}] {key}={number} is outside {minimum}..{INT_MAX}", where)]
    return []


def _float_problem(section: Section, key: str, value: str, where: str) -> list[OrchError]:
    for item in value.split(","):
        if not item:
            continue
        try:
            number = float(item)
        except ValueError:
            return [OrchError(f"[{section.name}] {key}={item!r} is not a number", where)]
        if not math.isfinite(number):
            return [OrchError(f"[{section.name}] {key}={item} is not a finite number", where)]
    return []


def _layer_indexes(section: Section, key: str) -> list[int] | None:
    try:
        return [int(item) for item in (section.get(key) or "").split(",") if item]
    except ValueError:
        return None  # reported by _value_problems


def _reference_problems(layer: Layer, count: int, where: str) -> list[OrchError]:
    """`layers=` of a route and `from=` of a shortcut name earlier layers (negative: relative)."""
    key = {"route": "layers", "shortcut": "from"}.get(layer.section.name)
    if key is None:
        return []
    indexes = _layer_indexes(layer.section, key)
    if indexes is None:
        return []
    if layer.section.name == "route" and not indexes:
        return [OrchError(f"[route] layer {layer.index} names no layers", where)]
    for given in indexes:
        target = layer.index + given if given < 0 else given
        if not 0 <= target < layer.index:
            return [
                OrchError(
                    f"[{layer.section.name}] layer {layer.index}: {key}={given} names layer {target}, "
                    f"not one of the {layer.index} layers before it",
                    where,
                )
            ]
    return []


def mask_of(yolo: Section) -> list[int] | None:
    """The anchors a [yolo] head predicts (`mask`, default all `num`); None when unreadable."""
    try:
        num = int(yolo.get("num", "1"))
        return [int(m) for m in (yolo.get("mask") or ",".join(map(str, range(num)))).split(",") if m]
    except ValueError:
        return None


def _head_problems(cfg: CfgFile, yolo: Section, number: int, where: str) -> list[OrchError]:
    """A [yolo] head: mask within num, two anchor numbers per anchor, and the convolution before
    it giving (classes + 5) filters per mask entry."""
    try:
        classes = int(yolo.get("classes", "20"))
        num = int(yolo.get("num", "1"))
    except ValueError:
        return []  # reported by _value_problems
    mask = mask_of(yolo)
    if mask is None:
        return []
    anchors = [a for a in (yolo.get("anchors") or "").split(",") if a]
    found = []
    if anchors and len(anchors) != 2 * num:
        found.append(OrchError(f"[yolo] layer {number}: {len(anchors)} anchor numbers for num={num}", where))
    if any(m < 0 or m >= num for m in mask):
        found.append(OrchError(f"[yolo] layer {number}: mask {mask} outside 0..{num - 1}", where))
    conv = cfg.conv_before(yolo)
    if conv is None:
        found.append(OrchError(f"[yolo] layer {number} is not preceded by a [convolutional]", where))
        return found
    expected = (classes + 5) * len(mask)
    if conv.get("filters") != str(expected):
        found.append(
            OrchError(
                f"[yolo] layer {number}: the [convolutional] before it has filters={conv.get('filters')}, "
                f"(classes {classes} + 5) x {len(mask)} masks needs {expected}",
                where,
            )
        )
    return found
