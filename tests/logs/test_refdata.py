"""Every real log in tests/data/logs gives the counts and values tests/data/PROVENANCE.md lists."""

from __future__ import annotations

import csv
import math

import pytest
from conftest import REFDATA

from orchestrator.logs import parse_bytes, parse_file

LOGS = REFDATA / "logs"


@pytest.fixture(scope="module")
def pjreddie():
    return parse_file(LOGS / "pjreddie-yolov3-voc.log")


@pytest.fixture(scope="module")
def crlf():
    return parse_file(LOGS / "alexeyab-tiny-yolov3-map-crlf.log")


@pytest.fixture(scope="module")
def escapes():
    return parse_file(LOGS / "alexeyab-yolov3-map-title-escapes.log")


def test_pjreddie_counts_first_and_last(pjreddie):
    assert pjreddie.format == "pjreddie"
    assert pjreddie.iterations == 6000
    assert list(pjreddie.series["iteration"]) == list(range(1, 6001))
    assert pjreddie.row(0) | {"hours_left": 0} == {
        "iteration": 1,
        "loss": 1123.449341,
        "avg_loss": 1123.449341,
        "rate": 0.0,
        "seconds": 0.190143,
        "images": 1,
        "hours_left": 0,
    }
    last = pjreddie.row(-1)
    assert (last["iteration"], last["loss"], last["avg_loss"], last["rate"], last["seconds"], last["images"]) == (
        6000,
        0.121626,
        0.752329,
        0.00001,
        0.196614,
        6000,
    )
    assert pjreddie.map_points == [] and pjreddie.restarts == [] and pjreddie.errors == []


def test_pjreddie_region_layers(pjreddie):
    # 18000 Region lines: 6000 per layer, one subdivision per iteration in this log.
    assert sorted(pjreddie.region, key=int) == ["82", "94", "106"]
    for columns in pjreddie.region.values():
        assert len(columns["iteration"]) == 6000
    layer94 = pjreddie.region["94"]
    # Last iteration: `Region 94 Avg IOU: 0.833717, Class: 0.964432, … count: 3`
    assert layer94["iou"][-1] == pytest.approx(0.833717, abs=1e-6)
    assert layer94["class"][-1] == pytest.approx(0.964432, abs=1e-6)
    assert layer94["count"][-1] == 3
    # Layer 82 had no object at the first iteration: `Avg IOU: -nan`, `No Obj: 0.537247`.
    assert math.isnan(pjreddie.region["82"]["iou"][0])
    assert pjreddie.region["82"]["noobj"][0] == pytest.approx(0.537247, abs=1e-6)


def test_alexeyab_crlf_series_and_map(crlf):
    assert crlf.format == "alexeyab"
    assert crlf.iterations == 10007
    first, last = crlf.row(0), crlf.row(-1)
    assert (first["iteration"], first["loss"], first["avg_loss"]) == (1, 4113.835938, 4113.835938)
    assert (last["iteration"], last["loss"], last["avg_loss"], last["rate"], last["images"], last["hours_left"]) == (
        10007,
        1.571393,
        1.818007,
        0.001,
        640448,
        80.336352,
    )
    assert len(crlf.map_points) == 91
    assert crlf.map_points[0]["map"] == 0.028207
    assert crlf.map_points[0]["iteration"] == 1000
    assert crlf.map_points[0]["per_class"] == {"fire": 0.0564, "smoke": 0.0}
    assert crlf.map_points[-1]["map"] == 0.446338
    assert all(p["iou_threshold"] == 0.5 for p in crlf.map_points)
    assert crlf.last_accuracy["map"] == 0.4463 and crlf.last_accuracy["best"] == 0.4812


def test_alexeyab_title_escapes(escapes):
    assert escapes.iterations == 2497
    assert escapes.series["iteration"][0] == 1 and escapes.series["iteration"][-1] == 2500
    last = escapes.row(-1)
    assert (last["loss"], last["avg_loss"], last["rate"], last["seconds"], last["images"], last["hours_left"]) == (
        0.772856,
        0.574155,
        0.001,
        21.194184,
        160000,
        0.423661,
    )
    assert [p["map"] for p in escapes.map_points] == [0.807477, 0.836247, 0.847292, 0.866229]
    assert escapes.map_points[-1]["per_class"] == {
        "Eagle": 0.9468,
        "Elephant": 0.7203,
        "Lion": 0.9057,
        "Monkey": 0.8869,
        "Parrot": 0.8715,
    }
    # Iterations 703-705 are missing: a gap, not a resumed run.
    assert escapes.gaps == [{"line": 3188, "iteration": 706, "previous": 702}]
    assert escapes.restarts == []


def test_alexeyab_escapes_match_origin_csv_row_for_row(escapes):
    with open(LOGS / "alexeyab-yolov3-map-title-escapes.avg-loss.csv", newline="") as handle:
        rows = [(int(it), float(avg)) for it, avg in csv.reader(handle)]
    assert len(rows) == 2497
    assert list(zip(escapes.series["iteration"], escapes.series["avg_loss"])) == rows


def test_crash_before_training_surfaces_the_error():
    log = parse_file(LOGS / "alexeyab-crash-before-training.log")
    assert log.iterations == 0
    assert log.errors == [
        {
            "line": 114,
            "kind": "darknet-error",
            "text": "Darknet error location: ./src/parser.c, parse_yolo(), line #458",
        }
    ]


def test_excerpts_v3_lines_give_loss_settings():
    giou = parse_file(LOGS / "excerpts" / "alexeyab_darknet_issue4597_v3_mse_giou.txt")
    assert giou.loss_settings == {"iou_loss": "mse", "iou_normalizer": 0.75, "cls_normalizer": 1.0}
    iou = parse_file(LOGS / "excerpts" / "alexeyab_darknet_issue7090_v3_iou_loss.txt")
    assert iou.loss_settings == {
        "iou_loss": "iou",
        "iou_normalizer": 0.05,
        "obj_normalizer": 4.0,
        "cls_normalizer": 0.5,
    }
    assert iou.series["iteration"][0] == 2649


def test_excerpt_loss_components_printed_before_total_loss_are_read():
    """AlexeyAB prints `count: N, class_loss = …, iou_loss = …, total_loss = …` (g-darknet puts
    `loss = …` first): both orders give the components, averaged per layer."""
    text = (LOGS / "excerpts" / "alexeyab_darknet_issue7090_v3_iou_loss.txt").read_bytes()
    text += b" 2650: 3244.609375, 3629.767578 avg loss, 0.004000 rate, 93.576549 seconds, 339136 images, 4160.8 hours left\n"
    region = parse_bytes(text).region
    assert list(region["144"]["iteration"]) == [2650]
    assert region["144"]["class_loss"][0] == pytest.approx((11399.327148 + 13232.225586) / 2, rel=1e-6)
    assert region["144"]["iou_loss"][0] == pytest.approx((-8518.097656 - 9893.580078) / 2, rel=1e-6)
    assert region["174"]["iou_loss"][0] == pytest.approx(4.333503, rel=1e-6)
