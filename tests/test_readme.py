"""The README's command table and `orch --help` describe the same commands and options."""

from __future__ import annotations

import argparse
import re

from conftest import REPO

from orchestrator.cli import build_parser

# Options every command takes; the README states them once above the table.
COMMON = {"--help", "--workspace", "--debug"}


def readme_commands() -> dict[str, set[str]]:
    """Command (with its style for `map`) -> the long options the README's table names for it."""
    commands: dict[str, set[str]] = {}
    for line in (REPO / "README.md").read_text().splitlines():
        if not line.startswith("| `orch "):
            continue
        first_cell = line.split(" | ")[0]
        for usage in re.findall(r"`(orch [^`]+)`", first_cell):
            words = usage.split()
            name = " ".join(words[1:3]) if words[1] == "map" else words[1]
            commands.setdefault(name, set()).update(re.findall(r"--[a-z][a-z0-9-]*", usage))
    return commands


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-commands `--help` lists (internal ones registered without help are not)."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest for choice in action._choices_actions}
            found.update({name: sub for name, sub in action.choices.items() if name in listed})
    return found


def parser_commands() -> dict[str, set[str]]:
    """The same, read from the parser `orch --help` prints."""
    commands = {}
    for name, parser in subcommands(build_parser()).items():
        nested = subcommands(parser)
        for full, command in ({f"{name} {n}": p for n, p in nested.items()} if nested else {name: parser}).items():
            options = {o for action in command._actions for o in action.option_strings if o.startswith("--")}
            commands[full] = options - COMMON
    return commands


def test_the_readme_names_every_command_and_no_other():
    assert sorted(readme_commands()) == sorted(parser_commands())


def test_the_readme_names_every_option_of_each_command_and_no_other():
    readme = readme_commands()
    differences = {
        name: {
            "missing in README": sorted(options - readme.get(name, set())),
            "unknown": sorted(readme[name] - options),
        }
        for name, options in parser_commands().items()
        if options != readme.get(name, set())
    }
    assert differences == {}


def test_the_readme_status_example_has_the_columns_orch_status_prints():
    from orchestrator.views.status import status_table

    readme = (REPO / "README.md").read_text().splitlines()
    header = next(line for line in readme if line.startswith("RUN ") and "STATE" in line)
    assert re.split(r"\s{2,}", header.strip()) == status_table([])[0]
