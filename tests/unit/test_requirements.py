"""Every third-party module the code imports is a declared dependency, pinned as in
constraints.txt: the runtime's (``shared/stkpi``, ``functions/``) in requirements.txt,
which the function zips install; everything else's in requirements-dev.txt. A module that
arrives only as another package's dependency (sqlglot through bqemulator, Flask through
functions-framework) goes the day that package stops bringing it."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"stkpi", "stkpi_tools", "main", "tests", "conftest"}


def _pins(name: str) -> dict[str, str]:
    """Distribution (normalized) -> version, from ``name`` and the files it ``-r``
    includes."""
    pins: dict[str, str] = {}
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(_pins(line[3:].strip()))
        elif "==" in line:
            dist, version = line.split("==", 1)
            pins[_norm(dist)] = version.strip()
    return pins


def _norm(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower().strip()


def _third_party(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level module -> the files importing it, for modules outside the standard library
    and the project."""
    local = {p.parent.name for p in paths} | {p.stem for p in paths}
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in FIRST_PARTY or top in local:
                    continue
                found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _undeclared(modules: dict[str, set[str]], declared: dict[str, str]) -> list[str]:
    dists = packages_distributions()
    missing = []
    for module, users in sorted(modules.items()):
        names = {_norm(d) for d in dists.get(module, [module])}
        if not names & set(declared):
            missing.append(f"{module} ({'/'.join(sorted(names))}), imported by {sorted(users)[0]}")
    return missing


def _py(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((ROOT / f).rglob("*.py"))]


def test_runtime_imports_are_in_requirements_txt() -> None:
    runtime = _third_party(_py("shared/stkpi", "functions"))
    assert "google" in runtime  # the scan saw the runtime's imports
    assert not _undeclared(runtime, _pins("requirements.txt"))


def test_every_import_is_declared_in_the_requirements() -> None:
    modules = _third_party(_py("shared", "functions", "scripts", "tests", "bench"))
    assert {"numpy", "pytest"} <= set(modules)
    missing = _undeclared(modules, _pins("requirements-dev.txt"))
    assert not missing, "imported but not declared in requirements*.txt:\n" + "\n".join(missing)


def test_declared_pins_match_constraints() -> None:
    constraints = _pins("constraints.txt")
    declared = _pins("requirements-dev.txt")
    differ = {d: (v, constraints.get(d)) for d, v in declared.items() if constraints.get(d) != v}
    assert not differ, f"requirements pin -> constraints pin: {differ}"
