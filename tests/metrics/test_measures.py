"""The evaluation vocabulary: thresholds, named measures, COCO's summary lines."""

from __future__ import annotations

import numpy as np

from orchestrator.metrics.measures import COCO_SUMMARY, COCOEVAL_THRESHOLDS, MEASURES, THRESHOLDS
from orchestrator.metrics.results import MetricResult


def test_thresholds_are_pycocotools_own_and_the_decimals():
    """COCOeval's expression, bit for bit (its .90 is 0.8999999999999999), and the decimals records store."""
    expected = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
    assert tuple(expected.tolist()) == COCOEVAL_THRESHOLDS
    assert THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_measures_name_their_threshold():
    result = MetricResult(ap=tuple(v / 10 for v in range(10)), mean=0.42)
    assert [result.measure(name) for name in MEASURES] == [0.42, 0.0, 0.5]


def test_coco_summary_lines_print_as_cocoeval():
    assert COCO_SUMMARY[2].text(0.5729816669904824) == (
        " Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = 0.573"
    )
    assert (
        COCO_SUMMARY[6].text(0.386) == " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.386"
    )
