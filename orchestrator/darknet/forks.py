"""The Darknet forks orch drives, and what each of them honours.

The forks share the cfg language but differ where it matters to a run: which `iou_loss` values
(and loss keys at all) they read, whether they multiply the learning rate by the GPU count,
which training line they print, and where they write the weights. Each fork is one `Fork`
record; code that depends on the fork asks its record instead of comparing names.

orch.yaml names the fork in `darknet.flavor`; the spellings written before the names settled
(`gdarknet`, `hankai`) stay accepted, because existing workspaces hold them.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.base.errors import OrchError

#: The `[yolo]` keys that choose and weight the box loss (pjreddie reads none of them).
LOSS_KEYS = ("iou_loss", "iou_normalizer", "cls_normalizer", "representation")


@dataclass(frozen=True)
class Fork:
    """One Darknet fork.

    `iou_losses`: the `iou_loss` values a cfg for it may hold. `reads_loss_keys`: False when it
    ignores them all (prints `Unused field` and trains with its built-in MSE box loss).
    `multiplies_lr_by_gpus`: it multiplies the cfg's
    learning rate by the GPU count internally, so a multi-GPU cfg must divide it. `log_format`:
    the training line it prints (g-darknet prints pjreddie's). `weights_in_prefix_folder`: it
    writes the weights into `<backup>/<cfg prefix>/` instead of `<backup>/`.
    """

    name: str
    iou_losses: tuple[str, ...]
    multiplies_lr_by_gpus: bool
    log_format: str
    reads_loss_keys: bool = True
    weights_in_prefix_folder: bool = False
    aliases: tuple[str, ...] = ()


PJREDDIE = Fork(
    "pjreddie", ("mse", "iou", "giou"), multiplies_lr_by_gpus=True, log_format="pjreddie", reads_loss_keys=False
)
G_DARKNET = Fork(
    "g-darknet",
    ("mse", "iou", "giou"),
    multiplies_lr_by_gpus=True,
    log_format="pjreddie",
    weights_in_prefix_folder=True,
    aliases=("gdarknet",),
)
ALEXEYAB = Fork("alexeyab", ("mse", "iou", "giou", "diou", "ciou"), multiplies_lr_by_gpus=True, log_format="alexeyab")
#: hank-ai darknet stopped multiplying the learning rate by the GPU count in 2025.
HANK_AI = Fork(
    "hank-ai",
    ("mse", "iou", "giou", "diou", "ciou"),
    multiplies_lr_by_gpus=False,
    log_format="hank-ai",
    aliases=("hankai",),
)

FORKS: dict[str, Fork] = {fork.name: fork for fork in (PJREDDIE, G_DARKNET, ALEXEYAB, HANK_AI)}
#: Every accepted spelling -> its fork.
SPELLINGS: dict[str, Fork] = {name: fork for fork in FORKS.values() for name in (fork.name, *fork.aliases)}


def fork(name: str, where: str = "darknet.flavor") -> Fork:
    """The fork called `name` (or one of its older spellings)."""
    found = SPELLINGS.get(name)
    if found is None:
        raise OrchError(f"{name!r} is not one of {', '.join(FORKS)}", where)
    return found
