"""Weights files: checkpoint names as darknet writes them; truncated files caught from the cfg's
parameter count (darknet itself reads garbage)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from conftest import REPO

from orchestrator.darknet.cfg import read_cfg
from orchestrator.darknet.weights import Checkpoint, checkpoint_of, parameter_count, size_mismatch

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


@pytest.mark.parametrize(
    "header",
    [
        struct.pack("<iiiq", 0, 2, 0, 1600),  # pjreddie: version 0.2, seen as int64
        struct.pack("<iiiq", 0, 2, 5, 1600),  # AlexeyAB and its successors: revision 5
        struct.pack("<iiiq", 1, 0, 0, 1600),  # a major version: int64 as well
        struct.pack("<iiii", 0, 1, 0, 1600),  # version 0.1 and older: seen as int32
    ],
)
def test_weights_must_fit_the_cfg_exactly_for_every_header_version(tmp_path, header):
    cfg = REPO / "cfg_templates" / "tiny-shapes.cfg"
    parameters = parameter_count(read_cfg(cfg))
    whole = header + bytes(4 * parameters)
    weights = tmp_path / "w.weights"
    weights.write_bytes(whole)
    assert size_mismatch(weights, parameters) is None
    weights.write_bytes(whole[: len(whole) // 2])
    assert (
        size_mismatch(weights, parameters)
        == f"weights file is truncated: {len(whole) // 2} bytes, the cfg needs {len(whole)}"
    )
    weights.write_bytes(whole + bytes(4 * 2552))  # one conv layer more: another cfg's weights
    assert size_mismatch(weights, parameters).startswith(
        f"weights file does not fit the cfg: {len(whole) + 4 * 2552} bytes, the cfg needs {len(whole)}"
    )
    weights.write_bytes(whole[:8])
    assert "header" in size_mismatch(weights, parameters)
    weights.write_bytes(whole + b"x")
    assert size_mismatch(weights, None) is None  # a cfg beyond counting: only the header is checked


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
