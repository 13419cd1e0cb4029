"""The evaluator registry: an evaluation style (`eval:` in orch.yaml, `--style`) -> its evaluator.

Readers produce the tables (boxes.GroundTruth, boxes.Detections); an evaluator consumes them
and returns a results.EvaluationResult. A new style is one class with `evaluate` and one entry
here. The names are importable without NumPy (orch.yaml validation and the CLI need them at
start-up), so each entry imports its evaluator when it is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from orchestrator.base.errors import OrchError

if TYPE_CHECKING:
    from orchestrator.metrics.boxes import Detections, GroundTruth
    from orchestrator.metrics.results import EvaluationResult


class Evaluator(Protocol):
    def evaluate(self, gt: GroundTruth, detections: Detections, metrics: Iterable[str]) -> EvaluationResult: ...


def _voc(ap_method: str) -> Evaluator:
    from orchestrator.metrics.voc import VocEvaluator

    if ap_method not in AP_METHODS:
        raise OrchError(f"unknown AP method {ap_method!r} (11point or all)")
    return VocEvaluator(ap_method)  # type: ignore[arg-type]


def _coco(ap_method: str) -> Evaluator:
    """COCO style is always pycocotools' 101-point AP: the AP method (VOC's choice) does not apply."""
    from orchestrator.metrics.coco import CocoEvaluator

    return CocoEvaluator()


#: style -> evaluator for an AP method.
EVALUATORS: dict[str, Callable[[str], Evaluator]] = {"voc": _voc, "coco": _coco}
#: VOC's AP methods: 11-point (VOC2007) or all-point (VOC2010+).
AP_METHODS = ("11point", "all")


def evaluator(style: str, ap_method: str = "11point") -> Evaluator:
    """The evaluator of a style; an unknown style is the user's error."""
    try:
        make = EVALUATORS[style]
    except KeyError:
        raise OrchError(f"unknown evaluation style {style!r} ({' or '.join(EVALUATORS)})") from None
    return make(ap_method)
