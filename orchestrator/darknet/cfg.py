"""Darknet `.cfg` files parsed structurally, edited by key, written back verbatim; `.data` and
`.names` files; basecfg().

Darknet reads cfg and .data files line by line, removing ALL whitespace from a line, skipping lines
that start with `#` or `;`, opening a section on `[name]` and otherwise splitting `key=value`
at the first `=`. We follow the same rules but keep every original line, so a file whose keys
were not touched is written back byte for byte and an edited one differs only on edited lines.
Repeated sections (`[convolutional]` ×75) stay separate objects in file order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import overload

from orchestrator.base.errors import OrchError
from orchestrator.base.values import plain_text


@dataclass
class Line:
    """One physical line; `key` is None for blanks, comments and section headers."""

    raw: str
    key: str | None = None
    value: str | None = None

    @classmethod
    def entry(cls, key: str, value: str, newline: str = "\n") -> Line:
        return cls(f"{key}={value}{newline}", key, value)

    def with_value(self, value: str) -> Line:
        """The same line with a new value, keeping the key's spelling and the line ending."""
        body = self.raw.rstrip("\r\n")
        ending = self.raw[len(body) :]
        head = body[: body.index("=") + 1]
        spacing = " " if head.endswith(" =") or body[len(head) :].startswith(" ") else ""
        return Line(f"{head}{spacing}{value}{ending}", self.key, value)


@dataclass
class KeyValues:
    """An ordered run of lines holding `key=value` entries (the body of a cfg section)."""

    lines: list[Line] = field(default_factory=list)

    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: str) -> str: ...

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value darknet would use: the FIRST occurrence of the key."""
        for line in self.lines:
            if line.key == key:
                return line.value
        return default

    def __contains__(self, key: str) -> bool:
        return any(line.key == key for line in self.lines)

    def items(self) -> list[tuple[str, str]]:
        return [(line.key, line.value) for line in self.lines if line.key is not None]  # type: ignore[misc]

    def set(self, key: str, value: object) -> None:
        """Change the key's value in place, or add it after the section's last entry."""
        text = cfg_token(format_value(value), key)
        for i, line in enumerate(self.lines):
            if line.key == key:
                self.lines[i] = line.with_value(text)
                return
        self.lines.insert(self._insert_at(), Line.entry(key, text, self._newline()))

    def _insert_at(self) -> int:
        last = max((i for i, line in enumerate(self.lines) if line.key is not None), default=-1)
        return last + 1

    def _newline(self) -> str:
        return "\r\n" if any(line.raw.endswith("\r\n") for line in self.lines) else "\n"


@dataclass
class Section(KeyValues):
    """A `[name]` section: its header line plus its key/value and comment lines."""

    name: str = ""
    header: str = ""

    def render(self) -> str:
        return self.header + "".join(line.raw for line in self.lines)


@dataclass
class CfgFile:
    """A parsed network cfg: lines before the first section, then the sections in order."""

    preamble: list[Line]
    sections: list[Section]

    def render(self) -> str:
        return "".join(line.raw for line in self.preamble) + "".join(s.render() for s in self.sections)

    def named(self, name: str) -> list[Section]:
        return [s for s in self.sections if s.name == name]

    @property
    def net(self) -> Section:
        """The `[net]` (or `[network]`) section darknet reads the training parameters from."""
        for section in self.sections:
            if section.name in ("net", "network"):
                return section
        raise OrchError("cfg has no [net] section")

    def conv_before(self, section: Section) -> Section | None:
        """The `[convolutional]` right before `section` (whose filters feed a [yolo] layer)."""
        index = self.sections.index(section)
        previous = self.sections[index - 1] if index > 0 else None
        return previous if previous is not None and previous.name == "convolutional" else None


def format_value(value: object) -> str:
    """Values as darknet cfgs spell them: lists comma-separated, floats without noise."""
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")  # 1e-05 -> 0.00001, as cfgs are written
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def _split_entry(raw: str, where: str, number: int) -> Line:
    compact = "".join(raw.split())
    if not compact or compact[0] in "#;":
        return Line(raw)
    if "=" not in compact:
        raise OrchError(f"line {number}: expected key=value or [section], got {raw.strip()!r}", where)
    key, value = compact.split("=", 1)
    if not key:
        raise OrchError(f"line {number}: missing key before '='", where)
    return Line(raw, key, value)


def parse_cfg(text: str, where: str = "<cfg>") -> CfgFile:
    """Parse a darknet network cfg; malformed lines are reported with their line number."""
    preamble: list[Line] = []
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(keepends=True), start=1):
        compact = "".join(raw.split())
        if compact.startswith("["):
            if not compact.endswith("]") or len(compact) < 3:
                raise OrchError(f"line {number}: malformed section header {raw.strip()!r}", where)
            sections.append(Section(name=compact[1:-1], header=raw))
            continue
        line = _split_entry(raw, where, number)
        if sections:
            sections[-1].lines.append(line)
        elif line.key is not None:
            raise OrchError(f"line {number}: '{line.key}' appears before the first [section]", where)
        else:
            preamble.append(line)
    if not sections:
        raise OrchError("no [section] found: not a darknet cfg", where)
    return CfgFile(preamble, sections)


def read_cfg(path: Path) -> CfgFile:
    return parse_cfg(_read_text(path, "cfg"), str(path))


def render_data(values: dict[str, object]) -> str:
    """A fresh .data file from an ordered mapping (what the run builder and evaluator write)."""
    return "".join(f"{key} = {cfg_token(format_value(value), key)}\n" for key, value in values.items())


def cfg_token(text: str, key: str) -> str:
    """A value darknet reads back as written: darknet drops every blank of a cfg or .data line,
    so a path with a space names another file, and a newline would add a line of its own."""
    plain_text(text, key)
    if any(character.isspace() for character in text):
        raise OrchError(f"{text!r} contains a blank, which darknet removes from cfg and .data lines", key)
    return text


def read_names(path: str | os.PathLike) -> list[str]:
    """A `.names` file: one class name a line (names may hold spaces; blank lines skipped)."""
    names = [line.strip() for line in _read_text(Path(path), ".names file").splitlines() if line.strip()]
    if not names:
        raise OrchError("names file lists no class", str(path))
    return names


def basecfg(path: str | Path) -> str:
    """Darknet's basecfg(): a file name cut at its FIRST dot. Applied to the cfg it is the stem
    of the weights files (`<base>_<n>.weights`); applied to an image path, the image name that
    `detector valid` prints in comp4 lines."""
    return Path(path).name.split(".", 1)[0]


def _read_text(path: Path, what: str) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as handle:  # keep CRLF for the round trip
            return handle.read()
    except FileNotFoundError:
        raise OrchError(f"{what} not found", str(path)) from None
    except UnicodeDecodeError:
        raise OrchError(f"{what} is not a text file", str(path)) from None
