"""The repository stands on its own: a bare clone has every fixture its tests read, with credit."""

from __future__ import annotations

from pathlib import Path

from conftest import REFDATA, REPO

# Folders that are not part of a clone (made by make, pip, pytest or the demo).
NOT_IN_A_CLONE = {
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "build",
    "demo",
}
# Spelled in two pieces so that this file does not match itself.
OUTSIDE_PATHS = (b"../" + b"shared", b"shared/" + b"refdata", b"/work/" + b"shared")


def repository_files() -> list[Path]:
    """Every file a clone holds (the tree below REPO without build, cache and venv folders)."""
    found = []
    for path in REPO.rglob("*"):
        parts = path.relative_to(REPO).parts
        if path.is_file() and not any(p in NOT_IN_A_CLONE or p.endswith(".egg-info") for p in parts):
            found.append(path)
    return found


def test_nothing_in_the_repository_points_outside_it():
    offenders = [
        str(path.relative_to(REPO))
        for path in repository_files()
        if any(pattern in path.read_bytes() for pattern in OUTSIDE_PATHS)
    ]
    assert offenders == []


def test_fixtures_live_in_the_repository():
    assert REFDATA.is_dir()
    assert REFDATA.resolve().is_relative_to(REPO)


def test_every_fixture_is_credited_in_provenance():
    """Each file is named in PROVENANCE.md, by its own name or as a member of its folder (`comp4/`)."""
    provenance = (REFDATA / "PROVENANCE.md").read_text()
    uncredited = [
        str(path.relative_to(REFDATA))
        for path in REFDATA.rglob("*")
        if path.is_file()
        and path.name not in ("PROVENANCE.md", "LICENSE")
        and path.name not in provenance
        and f"`{path.parent.name}/" not in provenance
    ]
    assert uncredited == []


def test_crlf_log_kept_byte_for_byte():
    """git must not normalise line endings in tests/data (the CRLF log is the point of that fixture)."""
    data = (REFDATA / "logs" / "alexeyab-tiny-yolov3-map-crlf.log").read_bytes()
    assert data.count(b"\r\n") > 10000
