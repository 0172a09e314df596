"""What a bare name in an expression resolves to before an attribute is read: ``var``,
``local``, ``data``, a resource type, and a resource's instances (one, or a map/list of
them under for_each/count).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stkpi_tools.terraform.hcl.config import Resource, key_repr
from stkpi_tools.terraform.hcl.errors import HclError
from stkpi_tools.terraform.hcl.values import Lazy, as_number, to_string

if TYPE_CHECKING:
    from stkpi_tools.terraform.hcl.module import Module
    from stkpi_tools.terraform.hcl.views import Instance


class Collection(Lazy):
    """``google_x.name``: one instance, or a map/list of them (for_each/count)."""

    def __init__(self, module: Module, res: Resource) -> None:
        self._module, self._res = module, res

    def describe(self) -> str:
        return self._res.address

    def _instances(self) -> dict[Any, Instance]:
        return self._module._instances(self._res)

    def _expanded(self) -> bool:
        return "for_each" in self._res.body.attrs or "count" in self._res.body.attrs

    def hcl_attr(self, name: str) -> Any:
        if self._expanded():
            raise HclError(
                f"{self._res.address} has for_each or count: index it before reading {name!r}"
            )
        return self._instances()[None].hcl_attr(name)

    def hcl_index(self, key: Any) -> Any:
        if not self._expanded():
            raise HclError(
                f"{self._res.address} has neither for_each nor count: it cannot be indexed"
            )
        insts = self._instances()
        k = as_number(key, "count index") if "count" in self._res.body.attrs else to_string(key)
        if k not in insts:
            have = ", ".join(json.dumps(x) for x in insts) or "none"
            raise HclError(f"{self._res.address} has no instance {key_repr(k)} (instances: {have})")
        return insts[k]

    def hcl_value(self) -> Any:
        insts = self._instances()
        if "count" in self._res.body.attrs:
            return list(insts.values())
        if "for_each" in self._res.body.attrs:
            return dict(insts)
        return insts[None]


class TypeNamespace(Lazy):
    def __init__(self, module: Module, mode: str, type_: str) -> None:
        self._module, self._mode, self._type = module, mode, type_

    def describe(self) -> str:
        return ("data." if self._mode == "data" else "") + self._type

    def hcl_attr(self, name: str) -> Any:
        res = self._module._lookup(self._mode, self._type, name)
        return Collection(self._module, res)


class DataNamespace(Lazy):
    def __init__(self, module: Module) -> None:
        self._module = module

    def describe(self) -> str:
        return "data"

    def hcl_attr(self, name: str) -> Any:
        if not any(
            r.type == name for (m, _t, _n), r in self._module._resources.items() if m == "data"
        ):
            raise HclError(f"no data source of type {name!r} in this module")
        return TypeNamespace(self._module, "data", name)


class NameSpace(Lazy):
    def __init__(self, label: str, getter: Callable[[str], Any]) -> None:
        self._label, self._get = label, getter

    def describe(self) -> str:
        return self._label

    def hcl_attr(self, name: str) -> Any:
        return self._get(name)
