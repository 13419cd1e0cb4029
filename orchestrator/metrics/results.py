"""Evaluation results as typed values, and the JSON they are written as.

An `EvaluationResult` holds one `MetricResult` per overlap (see overlaps). Its JSON is the
object `orch map --json` prints, ``{"style", "ap_method", "metrics": {name: {"thresholds",
"ap", "mean", "per_class": [{"id", "name", "ap"}], ["stats"]}}}``; an evaluation record stores the metric blocks
without their thresholds (the record states them once). Floats are plain Python floats, and
the module needs no NumPy: the evaluation store reads records with it at CLI start-up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.metrics.measures import MEASURES, THRESHOLDS


@dataclass(frozen=True)
class ClassAP:
    """One category's AP per threshold. The category id identifies it (two categories may share
    a name); the name is its label. `id` is None in records written before ids were kept."""

    id: int | None
    name: str
    ap: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "ap": list(self.ap)}


@dataclass(frozen=True)
class MetricResult:
    """One overlap's result: AP per threshold, their mean, AP per class and threshold (-1 where
    COCO leaves a class undefined), and for COCO the 12 summary numbers (measures.COCO_SUMMARY)."""

    ap: tuple[float, ...]
    mean: float
    per_class: tuple[ClassAP, ...] = ()
    stats: tuple[float, ...] | None = None

    def measure(self, name: str) -> float:
        """A named measure (measures.MEASURES: mean, ap50, ap75)."""
        return MEASURES[name].read(self.ap, self.mean)

    def by_label(self) -> dict[str, tuple[float, ...]]:
        """Per-class AP under a label per category: its name, or `name (id N)` where names repeat."""
        counts = Counter(c.name for c in self.per_class)
        return {(c.name if counts[c.name] == 1 else f"{c.name} (id {c.id})"): c.ap for c in self.per_class}

    def to_json(self) -> dict[str, Any]:
        block: dict[str, Any] = {
            "ap": list(self.ap),
            "mean": self.mean,
            "per_class": [c.to_json() for c in self.per_class],
        }
        if self.stats is not None:
            block["stats"] = list(self.stats)
        return block

    @classmethod
    def from_json(cls, block: Mapping[str, Any]) -> MetricResult:
        stats = block.get("stats")
        return cls(
            ap=tuple(block["ap"]),
            mean=block["mean"],
            per_class=per_class_from_json(block.get("per_class", [])),
            stats=None if stats is None else tuple(stats),
        )


def per_class_from_json(value: list | Mapping[str, Any]) -> tuple[ClassAP, ...]:
    """A list of {id, name, ap}, or the {name: ap} mapping records held before ids were kept."""
    if isinstance(value, Mapping):
        return tuple(ClassAP(None, name, tuple(ap)) for name, ap in value.items())
    return tuple(ClassAP(c["id"], c["name"], tuple(c["ap"])) for c in value)


@dataclass(frozen=True)
class EvaluationResult:
    """What an evaluator returns: its style and AP method, the thresholds, one result per overlap."""

    style: str
    ap_method: str
    metrics: Mapping[str, MetricResult]
    thresholds: tuple[float, ...] = THRESHOLDS

    def to_json(self) -> dict[str, Any]:
        """The `orch map --json` object."""
        thresholds = [round(float(t), 10) for t in self.thresholds]
        return {
            "style": self.style,
            "ap_method": self.ap_method,
            "metrics": {name: {"thresholds": thresholds, **m.to_json()} for name, m in self.metrics.items()},
        }


def metric_result(
    per_class: Iterable[Iterable[float]],
    class_ids: Iterable[int],
    class_names: Sequence[str],
    ap: Iterable[float],
    mean: float,
    stats: Iterable[float] | None = None,
) -> MetricResult:
    """A MetricResult from the evaluators' arrays (per class x thresholds, per threshold), as floats."""
    return MetricResult(
        ap=tuple(float(v) for v in ap),
        mean=float(mean),
        per_class=tuple(
            ClassAP(int(i), name, tuple(float(v) for v in row))
            for i, name, row in zip(class_ids, class_names, per_class)
        ),
        stats=None if stats is None else tuple(float(v) for v in stats),
    )
