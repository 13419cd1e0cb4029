"""The real darknet's outputs scored through every ground-truth path give the same AP.

`darknet detector valid` runs on the session's trained tiny-shapes weights (3 classes). Its
coco_results.json names class i by coco_ids[i]; its comp4 files by class name. The shapes set
holds the same boxes as label files, VOC XML and a COCO json, so COCO style from the json ==
COCO style from label files, and VOC style from XML == VOC style from label files.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.darknet.cfg import render_data
from orchestrator.darknet.validation import evaluate_detections, load_ground_truth
from orchestrator.metrics.results import EvaluationResult

pytestmark = pytest.mark.slow

SHAPES = Path("datasets/shapes")


def detector_valid(root: Path, out: Path, style: str) -> Path:
    """Run darknet on the valid list of the trained workspace, writing into `out`."""
    out.mkdir()
    data = out / "eval.data"
    data.write_text(
        render_data(
            {
                "classes": 3,
                "valid": SHAPES / "valid.txt",
                "names": SHAPES / "shapes.names",
                "results": out,
                "eval": style,
            }
        )
    )
    cfg = root / "runs" / "tiny-shapes" / "tiny-shapes.cfg"
    weights = root / "backup" / "tiny-shapes" / "tiny-shapes_final.weights"
    subprocess.run(
        ["darknet", "detector", "valid", str(data), str(cfg), str(weights)],
        cwd=root,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return out


@pytest.fixture(scope="module")
def scored(trained_run: Path, tmp_path_factory) -> dict[str, EvaluationResult]:
    root = trained_run.parent.parent
    out = tmp_path_factory.mktemp("valid")
    outputs = {
        "coco": detector_valid(root, out / "coco", "coco") / "coco_results.json",
        "voc": detector_valid(root, out / "voc", "voc"),
    }
    sources = {"json": SHAPES / "valid_coco.json", "xml": SHAPES / "annotations", "labels": None}
    scores = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # the valid list names images relative to the workspace root, as darknet read them
        for style, ground_truths in (("coco", ("json", "labels")), ("voc", ("xml", "labels"))):
            for source in ground_truths:
                gt = load_ground_truth(style, SHAPES / "valid.txt", SHAPES / "shapes.names", sources[source])
                scores[f"{style} {source}"] = evaluate_detections(gt, outputs[style], style, "11point")
    return scores


@pytest.mark.parametrize("style, first, second", [("coco", "json", "labels"), ("voc", "xml", "labels")])
def test_both_ground_truth_paths_give_the_same_ap(scored, style, first, second):
    for metric in ("iou", "giou"):
        a, b = scored[f"{style} {first}"].metrics[metric], scored[f"{style} {second}"].metrics[metric]
        assert a.ap == pytest.approx(b.ap, abs=1e-12) and a.mean == pytest.approx(b.mean, abs=1e-12)
    assert scored[f"{style} {first}"].metrics["iou"].ap[0] > 0.1  # the detector found shapes
