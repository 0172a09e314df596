"""Terraform's built-in file functions, paths resolved against the module's directory
(``path.module``) the way ``terraform plan`` run there resolves them.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stkpi_tools.terraform.hcl.errors import HclError, NotSupported
from stkpi_tools.terraform.hcl.values import HclSet, to_string

if TYPE_CHECKING:
    from stkpi_tools.terraform.hcl.nodes import Ctx


def _module_dir(ctx: Ctx) -> Path:
    return ctx.module.directory if ctx.module is not None else Path.cwd()


def _resolve(ctx: Ctx, path: Any) -> Path:
    p = Path(to_string(path))
    return p if p.is_absolute() else _module_dir(ctx) / p


def _f_abspath(ctx: Ctx, path: Any) -> str:
    return os.path.abspath(_resolve(ctx, path))


def _f_fileset(ctx: Ctx, path: Any, pattern: Any) -> HclSet:
    root = _resolve(ctx, path)
    if not root.is_dir():
        return HclSet()
    found = glob.glob(to_string(pattern), root_dir=root, recursive=True, include_hidden=True)
    return HclSet.of(f.replace(os.sep, "/") for f in found if (root / f).is_file())


def _f_file(ctx: Ctx, path: Any) -> str:
    p = _resolve(ctx, path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HclError(f"file(): no file {p}") from None


def _f_templatefile(_: Ctx, *args: Any) -> Any:
    raise NotSupported("templatefile() is not supported by this evaluator")


# name -> implementation: files
FILE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    # files
    "abspath": _f_abspath,
    "basename": lambda _, p: os.path.basename(to_string(p)),
    "dirname": lambda _, p: os.path.dirname(to_string(p)),
    "fileset": _f_fileset,
    "file": _f_file,
    "fileexists": lambda ctx, p: _resolve(ctx, p).is_file(),
    "templatefile": _f_templatefile,
}
