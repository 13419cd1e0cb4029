"""Finding templates: the workspace's own `cfg_templates/` first, then the ones shipped with orch.

In a source checkout the shipped templates are the repository's `cfg_templates/`, `batch/` and
`crontab.tmpl`; an installed orch carries the same files as `orchestrator._data` (pyproject maps
them), so `pip install .` works without the checkout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.darknet.cfg import parse_cfg

_PACKAGE = Path(__file__).resolve().parent


def shipped(relative: str) -> Path:
    """A file shipped with orch, e.g. 'cfg_templates/tiny-shapes.cfg' or 'crontab.tmpl'."""
    for base in (_PACKAGE / "_data", _PACKAGE.parent):
        candidate = base / relative
        if candidate.exists():
            return candidate
    raise OrchError("orch installation is missing a shipped template", relative)


def template_names(workspace_root: Path | None) -> list[str]:
    """Every cfg template name available to a workspace (its own and the shipped ones)."""
    folders = [shipped("cfg_templates")]
    if workspace_root is not None:
        folders.insert(0, workspace_root / "cfg_templates")
    return sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.cfg")})


def cfg_template(workspace_root: Path | None, name: str) -> Path:
    """The cfg of template `name`: a workspace template shadows a shipped one of the same name."""
    if "/" in name or name.startswith("."):
        raise OrchError(f"invalid template name {name!r}", "--template")
    if workspace_root is not None:
        own = workspace_root / "cfg_templates" / f"{name}.cfg"
        if own.is_file():
            return own
    builtin = shipped("cfg_templates") / f"{name}.cfg"
    if builtin.is_file():
        return builtin
    known = ", ".join(template_names(workspace_root))
    raise OrchError(f"unknown template '{name}' (known: {known})", "--template")


@dataclass(frozen=True)
class TemplateInfo:
    """What `orch templates` tells about a template before anyone opens the cfg."""

    name: str
    path: str
    width: int
    height: int
    classes: int  # as the template has it; new-run refits classes and filters to the dataset
    yolo_layers: int
    max_batches: int
    purpose: str  # the comment lines at the top of the cfg


def describe_template(workspace_root: Path | None, name: str) -> TemplateInfo:
    path = cfg_template(workspace_root, name)
    text = path.read_text()
    cfg = parse_cfg(text, str(path))
    yolos = cfg.named("yolo")

    def number(value: str | None) -> int:
        try:
            return int(str(value).strip())
        except ValueError:
            return 0

    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    return TemplateInfo(
        name=name,
        path=str(path),
        width=number(cfg.net.get("width")),
        height=number(cfg.net.get("height")),
        classes=number(yolos[0].get("classes")) if yolos else 0,
        yolo_layers=len(yolos),
        max_batches=number(cfg.net.get("max_batches")),
        purpose=" ".join(header),
    )


_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def fill(template: str, values: dict[str, str], where: str) -> str:
    """Replace `{{name}}` placeholders; an unknown placeholder is an error, not a silent blank.

    Shell text keeps its own `$var` and `${var}` untouched, which is why orch's templates do not
    use `string.Template`.
    """

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise OrchError(f"unknown placeholder {{{{{name}}}}} (known: {', '.join(sorted(values))})", where)
        return values[name]

    return _PLACEHOLDER.sub(replace, template)
