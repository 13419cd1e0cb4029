"""The ids darknet writes in its coco_results.json: category `coco_ids[class]`, and an image id
read from the image path.

Darknet's `coco_ids` is a table of the 80 COCO category ids, indexed by class, whatever the
dataset: class 0, 1, 2 of a 3-class set are written as categories 1, 2, 3, and class 11 as 13.
For a class beyond 80 darknet reads past the table and writes whatever lies there, so a dataset
with more classes cannot be evaluated from its json. This module imports nothing heavy: the run
builder checks the class count when a run is created.
"""

from __future__ import annotations

from orchestrator.base.errors import OrchError

COCO_IDS = (
    *range(1, 12),
    *range(13, 26),
    27,
    28,
    *range(31, 45),
    *range(46, 66),
    67,
    70,
    *range(72, 83),
    *range(84, 91),
)


def category_ids(n_classes: int) -> tuple[int, ...]:
    """The category id of each class: coco_ids[class], what darknet's json says. Beyond 80
    classes (no json: see `refuse_beyond_table`) class i is simply i."""
    return COCO_IDS[:n_classes] if n_classes <= len(COCO_IDS) else tuple(range(n_classes))


def refuse_beyond_table(n_classes: int, where: str) -> None:
    """Refuse json evaluation for a dataset whose classes darknet's coco_ids cannot name."""
    if n_classes > len(COCO_IDS):
        raise OrchError(
            f"{n_classes} classes: darknet's coco_results.json cannot name classes beyond the {len(COCO_IDS)} of "
            "its coco_ids table; evaluate VOC style (eval: voc, orch map --style voc)",
            where,
        )


def darknet_image_id(path: str) -> int:
    """Darknet's get_coco_image_id(): atoi of what follows the last `_` (or the last `/`)."""
    tail = path[max(path.rfind("/"), path.rfind("_")) + 1 :]
    digits = ""
    for ch in tail.lstrip():
        if not (ch.isdigit() or (not digits and ch in "+-")):
            break
        digits += ch
    try:
        return int(digits)
    except ValueError:
        return 0
