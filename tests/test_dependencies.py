"""Honest dependencies: what pyproject declares is what the code imports.

The package's imports (including the lazy ones inside functions: they run too) must all be
declared in `dependencies` or in an optional feature extra; every runtime dependency must be
imported by the package; the tests and benchmarks may use the test/bench extras besides.
Generic on purpose: a new dependency passes once it is both declared and used.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from conftest import REPO

# Extras that serve the repository's own checks, never the package at run time.
CHECK_EXTRAS = {"test", "bench", "dev"}


def canonical(requirement: str) -> str:
    """The distribution name of a requirement, normalised as pip compares names."""
    name = re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def declared(*, runtime: bool) -> set[str]:
    """Runtime: `dependencies` + feature extras; otherwise the test/bench extras only."""
    extras = project().get("optional-dependencies", {})
    if not runtime:
        return {canonical(r) for name, reqs in extras.items() if name in CHECK_EXTRAS for r in reqs}
    feature = {canonical(r) for name, reqs in extras.items() if name not in CHECK_EXTRAS for r in reqs}
    return {canonical(r) for r in project()["dependencies"]} | feature


def third_party_imports(folder: Path) -> dict[str, str]:
    """Top-level module names imported anywhere under `folder` (not stdlib, not orch's own),
    each with one file that imports it."""
    tests = REPO / "tests"
    own = (
        {"orchestrator", "conftest", "tests"}
        | {p.stem for p in tests.rglob("*.py")}
        | {p.name for p in tests.iterdir()}
    )
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in own:
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


def distributions(modules: dict[str, str]) -> dict[str, str]:
    """Distribution name → importing file, for the modules of installed distributions; a module
    no installed distribution provides maps to itself (and is then reported as undeclared)."""
    provider = packages_distributions()
    return {canonical(provider.get(module, [module])[0]): where for module, where in modules.items()}


def test_everything_the_package_imports_is_declared():
    used = distributions(third_party_imports(REPO / "orchestrator"))
    missing = {dist: where for dist, where in used.items() if dist not in declared(runtime=True)}
    assert missing == {}


def test_every_runtime_dependency_is_imported_by_the_package():
    used = set(distributions(third_party_imports(REPO / "orchestrator")))
    assert {canonical(r) for r in project()["dependencies"]} - used == set()


def test_tests_and_benchmarks_import_only_what_is_declared():
    used = distributions(third_party_imports(REPO / "tests") | third_party_imports(REPO / "benchmarks"))
    everything = declared(runtime=True) | declared(runtime=False)
    assert {dist: where for dist, where in used.items() if dist not in everything} == {}
