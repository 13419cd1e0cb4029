"""A small synthetic detection dataset (coloured shapes on textured noise) for the demo and tests.

Darknet needs real images and labels to train; shipping a dataset would bloat the repository and
downloading one is not possible everywhere, so we draw one, deterministically from a seed. The
same boxes are written in the three ground-truth forms orch reads (Darknet label files next to
the images, VOC XML, a COCO json), so every evaluation path can be exercised on one dataset.

Paths avoid the substrings Darknet rewrites to find label files (`images`, `JPEGImages`, `raw`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import yaml
from PIL import Image, ImageDraw

from orchestrator.base.fsutil import atomic_write
from orchestrator.darknet.coco_ids import category_ids
from orchestrator.workspace import CONFIG_NAME, Workspace, init_workspace

CLASSES = ("square", "circle", "triangle")
# The COCO json's category ids are the ones darknet's own json writes for these classes.
COCO_CATEGORY_IDS = category_ids(len(CLASSES))


@dataclass(frozen=True)
class Box:
    """A drawn object: class index and pixel box [x0, x1) × [y0, y1), 0-based, exclusive end."""

    cls: int
    x0: int
    y0: int
    x1: int
    y1: int

    def darknet_label(self, size: int) -> str:
        cx, cy = (self.x0 + self.x1) / 2 / size, (self.y0 + self.y1) / 2 / size
        w, h = (self.x1 - self.x0) / size, (self.y1 - self.y0) / size
        return f"{self.cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n"


@dataclass(frozen=True)
class ShapesDataset:
    """Where `generate` put things, relative to the folder it was given."""

    train_list: Path
    valid_list: Path
    names: Path
    coco_json: Path
    voc_annotations: Path


def generate(
    folder: Path, n_train: int = 200, n_valid: int = 40, size: int = 96, seed: int = 0, relative_to: Path | None = None
) -> ShapesDataset:
    """Draw the dataset into `folder`; list files name images relative to `relative_to`
    (the workspace root darknet runs from), so the dataset works wherever the workspace lives."""
    folder = Path(folder)
    base = Path(relative_to) if relative_to else folder
    rng = np.random.default_rng(seed)
    names = folder / "shapes.names"
    atomic_write(names, "".join(f"{c}\n" for c in CLASSES))
    splits = {"train": range(1, n_train + 1), "valid": range(n_train + 1, n_train + n_valid + 1)}
    written: dict[str, list[tuple[Path, list[Box]]]] = {}
    for split, ids in splits.items():
        written[split] = [_draw_sample(folder / split / f"shape_{i:06d}.jpg", size, rng) for i in ids]
        lines = "".join(f"{_relative(path, base)}\n" for path, _ in written[split])
        atomic_write(folder / f"{split}.txt", lines)
    coco_json = folder / "valid_coco.json"
    atomic_write(coco_json, json.dumps(_coco_ground_truth(written["valid"], size)))
    annotations = folder / "annotations"
    for path, boxes in written["valid"]:
        atomic_write(annotations / f"{path.stem}.xml", _voc_xml(path.name, boxes, size))
    return ShapesDataset(folder / "train.txt", folder / "valid.txt", names, coco_json, annotations)


def shapes_workspace(
    folder: Path,
    n_train: int,
    n_valid: int,
    eval_style: str = "voc",
    ground_truth: str | None = "annotations",
    settings: dict[str, Any] | None = None,
) -> Workspace:
    """A new workspace whose orch.yaml has the drawn dataset as `shapes` (what the demo and the
    tests start from). `ground_truth`: "annotations" (VOC XML), "coco" (json) or None (Darknet
    labels); `settings` update orch.yaml's sections, e.g. {"eval": {"settle_seconds": 0}}."""
    ws = init_workspace(folder)
    data = generate(folder / "datasets" / "shapes", n_train=n_train, n_valid=n_valid, relative_to=folder)
    dataset = {
        "train": ws.relative(data.train_list),
        "valid": ws.relative(data.valid_list),
        "names": ws.relative(data.names),
        "eval": eval_style,
    }
    if ground_truth is not None:
        dataset["ground_truth"] = ws.relative(
            {"annotations": data.voc_annotations, "coco": data.coco_json}[ground_truth]
        )
    config = yaml.safe_load((folder / CONFIG_NAME).read_text())
    config["datasets"] = {"shapes": dataset}
    for section, values in (settings or {}).items():
        if isinstance(values, dict):
            config[section].update(values)
        else:
            config[section] = values
    atomic_write(folder / CONFIG_NAME, yaml.safe_dump(config, sort_keys=False))
    return Workspace(ws.root)


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())


def _draw_sample(path: Path, size: int, rng: np.random.Generator) -> tuple[Path, list[Box]]:
    image = _textured_noise(size, rng)
    draw = ImageDraw.Draw(image)
    boxes: list[Box] = []
    for _ in range(int(rng.integers(1, 4))):
        box = _place_box(size, boxes, rng)
        if box is not None:
            _draw_shape(draw, box, rng)
            boxes.append(box)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=95)
    atomic_write(path.with_suffix(".txt"), "".join(b.darknet_label(size) for b in boxes))
    return path, boxes


def _textured_noise(size: int, rng: np.random.Generator) -> Image.Image:
    """Blotchy low-frequency colour plus fine grain: enough texture that shapes must be learnt."""
    coarse = rng.integers(60, 190, size=(6, 6, 3), dtype=np.uint8)
    blotches = np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BILINEAR), dtype=np.int16)
    grain = rng.integers(-25, 26, size=(size, size, 3), dtype=np.int16)
    return Image.fromarray(np.clip(blotches + grain, 0, 255).astype(np.uint8))


def _place_box(size: int, others: list[Box], rng: np.random.Generator) -> Box | None:
    """A random box that overlaps no earlier one (a few tries, else none)."""
    for _ in range(20):
        side = int(rng.integers(16, 41))
        x0, y0 = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        box = Box(int(rng.integers(0, len(CLASSES))), x0, y0, x0 + side, y0 + side)
        if all(box.x1 <= o.x0 or o.x1 <= box.x0 or box.y1 <= o.y0 or o.y1 <= box.y0 for o in others):
            return box
    return None


def _draw_shape(draw: ImageDraw.ImageDraw, box: Box, rng: np.random.Generator) -> None:
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    corners = [box.x0, box.y0, box.x1 - 1, box.y1 - 1]
    if CLASSES[box.cls] == "square":
        draw.rectangle(corners, fill=colour)
    elif CLASSES[box.cls] == "circle":
        draw.ellipse(corners, fill=colour)
    else:
        draw.polygon([((box.x0 + box.x1 - 1) / 2, box.y0), (box.x0, box.y1 - 1), (box.x1 - 1, box.y1 - 1)], fill=colour)


def _coco_ground_truth(samples: list[tuple[Path, list[Box]]], size: int) -> dict:
    """COCO GT whose image ids are the number after the last `_` (what darknet writes)."""
    images: list[dict] = []
    annotations: list[dict] = []
    for path, boxes in samples:
        image_id = int(path.stem.rsplit("_", 1)[1])
        images.append({"id": image_id, "file_name": path.name, "width": size, "height": size})
        for box in boxes:
            w, h = box.x1 - box.x0, box.y1 - box.y0
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,  # never id 0
                    "category_id": COCO_CATEGORY_IDS[box.cls],
                    "bbox": [box.x0, box.y0, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    categories = [{"id": cid, "name": name} for cid, name in zip(COCO_CATEGORY_IDS, CLASSES)]
    return {"images": images, "annotations": annotations, "categories": categories}


def _voc_xml(filename: str, boxes: list[Box], size: int) -> str:
    """VOC annotation of the same boxes as the label files, as darknet pairs the two formats.

    Darknet's voc_label.py turns xmin..xmax into a label of width xmax - xmin centred on
    (xmin + xmax) / 2 - 1, and `detector valid` writes a box of extent [x, x + w) as
    x + 1 .. x + w + 1 in comp4 files; so the label extent [x0, x1) is xmin = x0 + 1,
    xmax = x1 + 1 here, and a perfect detection's comp4 box equals its XML box."""
    objects = "".join(
        f"  <object>\n    <name>{escape(CLASSES[b.cls])}</name>\n    <difficult>0</difficult>\n"
        f"    <bndbox><xmin>{b.x0 + 1}</xmin><ymin>{b.y0 + 1}</ymin><xmax>{b.x1 + 1}</xmax><ymax>{b.y1 + 1}</ymax></bndbox>\n"
        "  </object>\n"
        for b in boxes
    )
    return (
        f"<annotation>\n  <filename>{escape(filename)}</filename>\n"
        f"  <size><width>{size}</width><height>{size}</height><depth>3</depth></size>\n{objects}</annotation>\n"
    )
