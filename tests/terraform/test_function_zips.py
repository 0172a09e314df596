"""The function zips, built from terraform/main.tf's ``archive_file`` exactly as Terraform
builds them: they carry the runtime package ``stkpi`` and ``sql/`` only (no simulator,
local stack, chaos, bench, demo or CLI), and each imports cleanly on its own.

The import check runs each zip in a fresh interpreter whose only copy of the project is the
zip (``stkpi.__file__`` must point into it) and in which importing ``stkpi_tools`` fails:
a runtime module that reaches for the tooling breaks here instead of in the cloud, where
the package is simply absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path

import pytest
from test_alerts import TF, example_tfvars, module

from stkpi_tools.terraform.topology import Topology, load_topology

TOOLING = ("stkpi_tools", "sim", "localstack", "chaos", "bench", "cli", "terraform", "demo")
FUNCTIONS = sorted(p.name for p in (TF.parent / "functions").iterdir() if p.is_dir())


@cache
def _sources() -> dict[str, dict[str, str]]:
    """Function name -> {file name in the zip: content}, from the archive_file's source
    blocks (the dynamic ones expanded over library, SQL and function files)."""
    out: dict[str, dict[str, str]] = {}
    for key, inst in module().instances("archive_file", "function", data=True).items():
        out[key] = {b.attr("filename"): b.attr("content") for b in inst.block("source")}
    return out


@cache
def _deployed() -> Topology:
    """The example deploy's topology: each function's environment and secret names."""
    return load_topology(variables=example_tfvars())


def _build_zip(fn: str, directory: Path) -> Path:
    path = directory / f"{fn}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in sorted(_sources()[fn].items()):
            zf.writestr(name, content)
    return path


def test_every_function_has_a_zip() -> None:
    assert sorted(_sources()) == FUNCTIONS


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_zip_holds_the_runtime_only(fn: str) -> None:
    names = set(_sources()[fn])
    top = {n.split("/", 1)[0] for n in names}
    assert top == {"main.py", "requirements.txt", "constraints.txt", "stkpi", "sql"}, top
    modules = {n for n in names if n.startswith("stkpi/") and n.endswith(".py")}
    # the runtime is there: the registry, the client and every step the functions run
    for needed in ("registry.py", "servicetitan/client.py", "steps.py", "rebuild.py"):
        assert f"stkpi/{needed}" in modules
    tooling = sorted(
        n for n in modules if n.removeprefix("stkpi/").split("/")[0].removesuffix(".py") in TOOLING
    )
    assert not tooling, f"tooling modules in the {fn} zip: {tooling}"
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


# Runs inside the fresh interpreter: block the tooling, import main and every runtime module.
_PROBE = """
import importlib, importlib.abc, json, pkgutil, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "stkpi_tools" or name.startswith("stkpi_tools."):
            raise ImportError(f"the runtime imported the tooling: {name}")
sys.meta_path.insert(0, Block())
sys.path.insert(0, ".")
import main, stkpi
mods = [m.name for m in pkgutil.walk_packages(stkpi.__path__, "stkpi.")]
for m in mods:
    importlib.import_module(m)
print(json.dumps({"stkpi": stkpi.__file__, "modules": len(mods)}))
"""


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_zip_imports_cleanly(fn: str, tmp_path: Path) -> None:
    root = tmp_path / "unzipped"
    with zipfile.ZipFile(_build_zip(fn, tmp_path)) as zf:
        zf.extractall(root)
    deployed = _deployed().functions[fn]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(deployed.env)
    # the secrets come from Secret Manager in the cloud; any value passes the start checks
    env.update({name: "fake-for-import" for name in deployed.secret_env})
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(got["stkpi"]).resolve().is_relative_to(root.resolve()), got
    assert got["modules"] >= 40
