"""Weights files: checkpoint names as darknet writes them; truncated files caught from the cfg's
parameter count (darknet itself reads garbage)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from conftest import REPO

from orchestrator.darknet.cfg import read_cfg
from orchestrator.darknet.weights import Checkpoint, checkpoint_of, parameter_count, truncation

DEBIAN_CFGS = Path("/usr/share/darknet/cfg")


@pytest.mark.parametrize(
    "cfg, weights_bytes",
    [
        ("yolov3.cfg", 248007048),  # sizes of the published yolov3.weights / yolov3-tiny.weights
        ("yolov3-tiny.cfg", 35434956),
    ],
)
def test_parameter_count_matches_the_published_weights(cfg, weights_bytes):
    if not (DEBIAN_CFGS / cfg).is_file():
        pytest.skip("Debian package darknet not installed")
    assert 20 + 4 * parameter_count(read_cfg(DEBIAN_CFGS / cfg)) == weights_bytes


def test_a_weights_file_cut_short_is_truncated_and_a_whole_one_is_not(tmp_path):
    cfg = REPO / "cfg_templates" / "tiny-shapes.cfg"
    whole = struct.pack("<iiiq", 0, 2, 0, 1600) + bytes(4 * parameter_count(read_cfg(cfg)))
    weights = tmp_path / "w.weights"
    weights.write_bytes(whole)
    assert truncation(weights, cfg) is None
    weights.write_bytes(whole[: len(whole) // 2])
    assert "truncated" in truncation(weights, cfg)
    weights.write_bytes(whole[:8])
    assert "header" in truncation(weights, cfg)


@pytest.mark.parametrize(
    "name, checkpoint",
    [
        ("yolo.v2_100.weights", Checkpoint(100)),
        ("yolo.v2_final.weights", Checkpoint(None)),
        ("yolo.v2.backup", None),  # overwritten while training: not a checkpoint
        ("yolo.v2_100.weights.tmp", None),
        ("yolo.v2_last.weights", None),
        ("yoloXv2_100.weights", None),  # the base is matched literally, not as a regex
    ],
)
def test_checkpoint_names_as_darknet_writes_them(name, checkpoint):
    assert checkpoint_of(name, "yolo.v2") == checkpoint


def test_final_is_the_checkpoint_without_iteration():
    assert Checkpoint(None).final and not Checkpoint(100).final
