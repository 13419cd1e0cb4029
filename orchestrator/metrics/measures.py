"""The evaluation vocabulary every reader of results shares: thresholds, named measures, and
the layout of COCO's 12 summary numbers.

Thresholds are whole percents so that they are exact: a measure names its threshold (AP75 is
the AP at 75), never a position in a list. Importing this module costs nothing (no NumPy): the
CLI builds its choices from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Matching thresholds .50:.05:.95, in percent.
THRESHOLD_PERCENTS = tuple(range(50, 100, 5))
#: The same as the floats nearest to the decimals (0.5, 0.55, ... 0.95), as records store them.
THRESHOLDS = tuple(p / 100 for p in THRESHOLD_PERCENTS)


def linspace(start: float, stop: float, num: int) -> tuple[float, ...]:
    """NumPy's linspace (endpoint included), operation for operation: ``i * step + start``."""
    step = (stop - start) / (num - 1)
    return tuple(i * step + start for i in range(num - 1)) + (stop,)


#: The thresholds as COCOeval computes them (``np.linspace(.5, .95, 10)``: .90 is
#: 0.8999999999999999), bit-identical so that matches at a threshold agree with pycocotools.
#: Both evaluators compare overlaps with these values.
COCOEVAL_THRESHOLDS = linspace(THRESHOLDS[0], THRESHOLDS[-1], len(THRESHOLDS))


def threshold_index(percent: int) -> int:
    """Position of a threshold (in percent) in every per-threshold list of a result."""
    return THRESHOLD_PERCENTS.index(percent)


@dataclass(frozen=True)
class Measure:
    """One number read off a metric's result: the mean AP over all thresholds, or the AP at one."""

    name: str
    label: str
    threshold: int | None  # percent; None: the mean over .50:.05:.95

    def read(self, ap: Sequence[float], mean: float) -> float:
        return mean if self.threshold is None else ap[threshold_index(self.threshold)]


#: Keyed by the name `orch best --measure` and its JSON use.
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (Measure("mean", "mAP@[.50:.95]", None), Measure("ap50", "AP50", 50), Measure("ap75", "AP75", 75))
}


@dataclass(frozen=True)
class SummaryLine:
    """One of COCOeval.summarize's 12 numbers: AP or AR, at a threshold (percent) or averaged
    over all of them (None), for an area range and a maxDets."""

    precision: bool
    threshold: int | None
    area: str
    max_dets: int

    def text(self, value: float) -> str:
        """The line as COCOeval.summarize prints it."""
        title, short = ("Average Precision", "AP") if self.precision else ("Average Recall", "AR")
        iou = "0.50:0.95" if self.threshold is None else f"{self.threshold / 100:.2f}"
        return (
            f" {title + ' ':<18} ({short}) @[ IoU={iou:<9} | area={self.area:>6s} | "
            f"maxDets={self.max_dets:>3d} ] = {value:0.3f}"
        )


#: COCOeval.summarize's 12 numbers (a COCO result's `stats`), in order.
COCO_SUMMARY = (
    SummaryLine(True, None, "all", 100),
    SummaryLine(True, 50, "all", 100),
    SummaryLine(True, 75, "all", 100),
    SummaryLine(True, None, "small", 100),
    SummaryLine(True, None, "medium", 100),
    SummaryLine(True, None, "large", 100),
    SummaryLine(False, None, "all", 1),
    SummaryLine(False, None, "all", 10),
    SummaryLine(False, None, "all", 100),
    SummaryLine(False, None, "small", 100),
    SummaryLine(False, None, "medium", 100),
    SummaryLine(False, None, "large", 100),
)
