"""The runtime package never imports the tooling, not even lazily inside a function: the
function zips carry ``stkpi`` only, so such an import would fail in the cloud on the first
call that reaches it (the zip import test sees module-level imports only).

Within the tooling, only the CLI imports the CLI: the demo, the chaos lab and the local
stack use ``stkpi_tools.runs`` / ``stkpi_tools.render`` / ``stkpi_tools.stack_root``,
which the CLI's commands use too."""

from __future__ import annotations

import ast
from pathlib import Path

import stkpi
import stkpi_tools


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _offenders(root: Path, paths: list[Path], package: str) -> dict[str, list[str]]:
    """Module (relative to ``root``) -> the names it imports from ``package``, if any."""
    found = {
        str(path.relative_to(root)): sorted(
            n for n in _imported(path) if n == package or n.startswith(package + ".")
        )
        for path in paths
    }
    return {k: v for k, v in found.items() if v}


def test_runtime_modules_never_import_the_tooling() -> None:
    root = Path(stkpi.__file__).parent
    modules = sorted(root.rglob("*.py"))
    offenders = _offenders(root, modules, "stkpi_tools")
    assert not offenders, f"runtime modules importing the tooling: {offenders}"
    assert len(modules) > 40  # the scan saw the package


def test_only_the_cli_imports_the_cli() -> None:
    root = Path(stkpi_tools.__file__).parent
    modules = [p for p in sorted(root.rglob("*.py")) if p.relative_to(root).parts[0] != "cli"]
    offenders = _offenders(root, modules, "stkpi_tools.cli")
    assert not offenders, f"tooling modules outside stkpi_tools/cli importing the CLI: {offenders}"
    assert any(p.name == "demo.py" for p in modules) and len(modules) > 40  # the scan saw them
