"""Synthetic lines for the formats without a real log (printf formats of each fork)."""

from __future__ import annotations

import math

import pytest

from orchestrator.logs import parse_bytes, parse_gdarknet_csv

GDARKNET = b"""yolov3-giou
Learning Rate: 0.001, Momentum: 0.9, Decay: 0.0005
v3 (giou loss, Normalizer: (iou: 0.500000, cls: 1.000000) Region 82 Avg (IOU: 0.61, GIOU: 0.55), Class: 0.78, Obj: 0.27, No Obj: 0.05, .5R: 0.91, .75R: 0.08, count: 12
v3 (giou loss, Normalizer: (iou: 0.500000, cls: 1.000000) Region 82 Avg (IOU: 0.41, GIOU: 0.35), Class: 0.58, Obj: 0.07, No Obj: 0.03, .5R: 0.51, .75R: -nan, count: 8
v3 (giou loss, Normalizer: (iou: 0.500000, cls: 1.000000) Region 94 Avg (IOU: -nan, GIOU: -nan), Class: -nan, Obj: -nan, No Obj: 0.01, .5R: -nan, .75R: -nan, count: 0
7: 12.500000, 13.000000 avg, 0.000100 rate, 1.500000 seconds, 448 images
"""


def test_gdarknet_v3_lines_average_subdivisions_per_layer():
    log = parse_bytes(GDARKNET)
    assert log.format == "g-darknet"
    assert log.loss_settings == {"iou_loss": "giou", "iou_normalizer": 0.5, "cls_normalizer": 1.0}
    layer82 = log.region["82"]
    assert list(layer82["iteration"]) == [7]
    assert layer82["iou"][0] == pytest.approx(0.51)
    assert layer82["giou"][0] == pytest.approx(0.45)
    assert layer82["recall75"][0] == pytest.approx(0.08)  # the -nan subdivision is ignored
    assert layer82["count"][0] == 10
    assert math.isnan(log.region["94"]["iou"][0]) and log.region["94"]["count"][0] == 0


def test_yolov2_region_lines():
    log = parse_bytes(
        b"Region Avg IOU: 0.8, Class: 0.99, Obj: 0.75, No Obj: 0.0048, "
        b"Avg Recall: 1.000000,  count: 8\n"
        b"Region Avg IOU: 0.6, Class: 0.97, Obj: 0.70, No Obj: 0.0050, "
        b"Avg Recall: 0.500000,  count: 6\n"
        b"9001: 0.043959, 0.043959 avg, 0.001000 rate, 3.566000 seconds, "
        b"576064 images\n"
    )
    layer = log.region["region"]
    assert layer["iou"][0] == pytest.approx(0.7) and layer["recall50"][0] == pytest.approx(0.75)
    assert layer["count"][0] == 7


def test_hank_ai_with_ansi_colours_and_last_accuracy():
    log = parse_bytes(
        b"\x1b[1;37m5988\x1b[0m: loss=0.500, avg loss=0.330, rate=0.000026, 64.000 milliseconds,"
        b" 383232 images, time remaining=2 minutes\n"
        b"5989: loss=0.444, avg loss=0.329, last=42.67%, best=78.32%, rate=0.000026, "
        b"64.424 milliseconds, 383296 images, time remaining=7 seconds\n"
        b"-> last accuracy mAP@0.50=42.67%, best=78.32%\n"
    )
    assert log.format == "hank-ai"
    assert list(log.series["iteration"]) == [5988, 5989]
    last = log.row(-1)
    assert (last["loss"], last["avg_loss"], last["rate"], last["images"]) == (0.444, 0.329, 0.000026, 383296)
    assert last["seconds"] == pytest.approx(0.064424)
    assert last["hours_left"] == pytest.approx(7 / 3600)
    assert log.row(0)["hours_left"] == pytest.approx(2 / 60)
    assert log.last_accuracy == {"iteration": 5989, "iou_threshold": 0.5, "map": 0.4267, "best": 0.7832}


def test_nan_losses_missing_files_and_truncated_line():
    log = parse_bytes(
        b"Couldn't open file: data/train.txt\n"
        b"1: 10.0, 10.0 avg, 0.001 rate, 1.0 seconds, 64 images\n"
        b"2: -nan, -nan avg, 0.001 rate, 1.0 seconds, 128 images\n"
        b"3: nan, nan avg, 0.001 rate, 1.0 seconds, 192 images\n"
        b"4: 5.0, 6.0 avg, 0.001 rate, 1.0 seconds, 256 images\n"
        b"5: nan, nan avg, 0.001 rate, 1.0 seconds, 320 images\n"
        b"6: 4.0, 5.0 avg, 0.0"
    )
    assert log.iterations == 5
    assert math.isnan(log.series["loss"][1])
    assert [(e["line"], e["kind"]) for e in log.errors] == [
        (1, "missing-file"),
        (3, "nan-loss"),
        (6, "nan-loss"),
        (7, "truncated"),
    ]
    assert log.errors[-1]["text"] == "6: 4.0, 5.0 avg, 0.0"


def test_restart_backwards_and_after_banner_but_gap_otherwise():
    line = "{}: 1.0, 1.0 avg, 0.001 rate, 1.0 seconds, 64 images\n"
    text = "".join(line.format(i) for i in (1, 2, 3))  # normal
    text += line.format(2)  # backwards: restart
    text += line.format(5)  # jump, no banner: gap
    text += "Learning Rate: 0.001, Momentum: 0.9, Decay: 0.0005\n" + line.format(9)  # resumed
    log = parse_bytes(text.encode())
    assert log.restarts == [{"line": 4, "iteration": 2, "previous": 3}, {"line": 7, "iteration": 9, "previous": 5}]
    assert log.gaps == [{"line": 5, "iteration": 5, "previous": 2}]


def test_gdarknet_log_csv():
    log = parse_gdarknet_csv(
        b"A0.5,G0.4,I1,C2,T3,A0.7,G0.6,I1,C2,T3,BATCH,10,500,2.5\nA0.1,G-nan,I1,C2,T3,BATCH,11,500,2.4\n"
    )
    assert list(log.series["iteration"]) == [10, 11]
    assert list(log.series["avg_loss"]) == [2.5, 2.4]
    assert log.region["all"]["iou"][0] == pytest.approx(0.6)
    assert log.region["all"]["giou"][0] == pytest.approx(0.5)
    assert math.isnan(log.region["all"]["giou"][1])
    assert (log.region["all"]["iou_loss"][0], log.region["all"]["class_loss"][0]) == (1, 2)


def test_gdarknet_v3_line_loss_components_are_read():
    """g-darknet ends its v3 lines with the loss components (values from AlexeyAB/darknet #4597);
    lines without them give NaN, as pjreddie's region lines do."""
    head = b"v3 (mse loss, Normalizer: (iou: 0.750000, cls: 1.000000) Region 82 Avg (IOU: 0.343576, GIOU: 0.244701), "
    stats = b"Class: 0.494423, Obj: 0.501301, No Obj: 0.488903, .5R: 0.115385, .75R: 0.000000, count: 26"
    log = parse_bytes(
        head + stats + b", loss = 316.458832, class_loss = 296.934875, iou_loss = 19.523956\n"
        b"1: 5.0, 5.0 avg, 0.001 rate, 0.3 seconds, 16 images\n" + head + stats + b"\n"
        b"2: 4.0, 4.9 avg, 0.001 rate, 0.3 seconds, 32 images\n"
    )
    layer = log.region["82"]
    assert float(layer["class_loss"][0]) == pytest.approx(296.934875)
    assert float(layer["iou_loss"][0]) == pytest.approx(19.523956)
    assert float(layer["iou"][0]) == pytest.approx(0.343576)
    assert math.isnan(layer["class_loss"][1]) and math.isnan(layer["iou_loss"][1])


def test_a_damaged_number_is_an_error_not_a_crash():
    log = parse_bytes(
        b"1: 5.0, 5.0 avg, 0.001 rate, 0.3 seconds, 16 images\n"
        b"Region 16 Avg IOU: 0.5x, Class: 0.1, Obj: 0.2, No Obj: 0.1, .5R: 0.0, .75R: 0.0,  count: 3\n"
        b"2: 4.0, 4.9 avg, 0.001 rate, 0.3 seconds, 32 images\n"
    )
    assert log.iterations == 2
    assert [(e["line"], e["kind"]) for e in log.errors] == [(2, "unparsable")]


def test_gdarknet_log_csv_damaged_number_is_an_error_not_a_crash():
    log = parse_gdarknet_csv(b"A0.5x,G0.4,I1,C2,T3,BATCH,10,500,2.5\nA0.1,G0.2,I1,C2,T3,BATCH,11,500,2.4\n")
    assert list(log.series["iteration"]) == [11]
    assert list(log.region["all"]["iteration"]) == [11]
    assert [(e["line"], e["kind"]) for e in log.errors] == [(1, "truncated")]
