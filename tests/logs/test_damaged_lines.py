"""`orch log` on hostile logs: escape sequences never reach the terminal, NUL-damaged lines count."""

from __future__ import annotations

import json

from orchestrator.cli import main

ITERATION = b" %d: 800.0, 790.0 avg, 0.000000 rate, 1.0 seconds, 64 images\n"


def test_escape_sequences_never_reach_the_terminal_and_nul_damaged_lines_are_errors(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_bytes(
        b"\x1b]0;title\x07" + ITERATION % 1 + b"Segmentation fault \x1b[2J\x1b[31mred\n"
        b"\x00\x00\x00\x00\x00\x00\x00\x00\n" + b"\x00" * 4096 + b"\n" + ITERATION % 2
    )
    assert main(["log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x00" not in out and "\x07" not in out
    assert "\\x00" in out  # the damaged line's text, escaped
    assert main(["log", str(log), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["iterations"] == 2
    assert [(e["line"], e["kind"]) for e in summary["errors"]] == [(2, "crash"), (3, "damaged"), (4, "damaged")]
    assert summary["errors"][0]["text"] == "Segmentation fault red"  # as a terminal shows it
