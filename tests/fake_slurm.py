"""A scripted stand-in for the Slurm commands, to inject faults and count calls (happy paths
run on the real cluster)."""

from __future__ import annotations

import subprocess


class FakeSlurm:
    """Answers Slurm commands from a table of (command -> handler) and records every call."""

    def __init__(self, **handlers):
        self.calls: list[list[str]] = []
        self.handlers = handlers
        self.next_id = 100

    def __call__(self, argv: list[str]) -> subprocess.CompletedProcess:
        self.calls.append(argv)
        handler = self.handlers.get(argv[0], getattr(self, argv[0], None))
        rc, out, err = handler(argv) if handler else (127, "", f"{argv[0]}: command not found")
        return subprocess.CompletedProcess(argv, rc, out, err)

    def sbatch(self, argv):
        self.next_id += 1
        return 0, f"{self.next_id}\n", ""

    def count(self, command: str) -> int:
        return sum(1 for call in self.calls if call[0] == command)
