"""A Terraform root module read from a directory: loading the ``*.tf`` files, variables
(overrides converted to their declared type), locals with cycle detection, outputs, and
the expansion of each resource into instances by for_each or count.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

from stkpi_tools.terraform.hcl.config import Attr, Body, Resource, parse_body, unquote
from stkpi_tools.terraform.hcl.errors import (
    CycleError,
    HclError,
    MissingVariable,
    NotSupported,
    ParseError,
)
from stkpi_tools.terraform.hcl.namespaces import Collection, DataNamespace, NameSpace, TypeNamespace
from stkpi_tools.terraform.hcl.nodes import Ctx
from stkpi_tools.terraform.hcl.values import (
    HclSet,
    as_bool,
    as_number,
    from_python,
    materialize,
    to_string,
    type_name,
)
from stkpi_tools.terraform.hcl.views import Instance


@dataclass
class _Variable:
    name: str
    body: Body

    def type_text(self) -> str:
        t = self.body.attrs.get("type")
        if t is None or not isinstance(t.raw, str):
            return "any"
        raw = t.raw
        return raw[2:-1] if raw.startswith("${") else raw


def _convert_override(var: _Variable, value: Any) -> Any:
    value = from_python(value)
    t = var.type_text()
    try:
        if t == "number" and isinstance(value, str):
            return as_number(value)
        if t == "string" and isinstance(value, int | float | bool):
            return to_string(value)
        if t == "bool" and isinstance(value, str):
            return as_bool(value)
        if t.startswith("set(") and isinstance(value, list):
            return HclSet.of(value)
    except HclError as e:
        raise HclError(f"var.{var.name}: {e.message} (type {t})") from None
    return value


class Module:
    """A Terraform root module read from a directory of ``*.tf`` files.

    ``variables`` override the defaults (as ``-var`` would); a variable without default and
    without override is an error only where it is used.
    """

    def __init__(
        self, directory: str | os.PathLike[str], variables: Mapping[str, Any] | None = None
    ) -> None:
        self.directory = Path(directory).resolve()
        if not self.directory.is_dir():
            raise HclError(f"no Terraform directory at {self.directory}")
        self._variables: dict[str, _Variable] = {}
        self._locals: dict[str, Attr] = {}
        self._outputs: dict[str, Attr] = {}
        self._resources: dict[tuple[str, str, str], Resource] = {}
        self._providers: dict[str, Body] = {}
        self._local_cache: dict[str, Any] = {}
        self._local_stack: list[str] = []
        self._attr_stack: list[tuple[str, str]] = []
        self._var_cache: dict[str, Any] = {}
        self._inst_cache: dict[tuple[str, str, str], dict[Any, Instance]] = {}
        files = sorted(self.directory.glob("*.tf"))
        if not files:
            raise HclError(f"no *.tf files in {self.directory}")
        for path in files:
            if path.name == "override.tf" or path.name.endswith("_override.tf"):
                raise NotSupported(f"{path.name}: override files are not supported")
            self._load_file(path)
        overrides = dict(variables or {})
        undeclared = sorted(set(overrides) - set(self._variables))
        if undeclared:
            raise HclError(
                f"values given for undeclared variables: {', '.join(undeclared)} "
                f"(declared: {', '.join(sorted(self._variables))})"
            )
        self._overrides = {
            k: _convert_override(self._variables[k], v) for k, v in overrides.items()
        }

    # -- loading
    def _load_file(self, path: Path) -> None:
        name = path.name
        try:
            with path.open(encoding="utf-8") as f:
                data = hcl2.load(f)
        except Exception as e:  # lark's errors have no common base worth naming here
            raise ParseError(f"{name}: python-hcl2 could not parse the file: {e}") from None
        for kind, items in data.items():
            if kind.startswith("__"):
                continue
            for item in items if isinstance(items, list) else [items]:
                if kind == "locals":
                    for lname, value in item.items():
                        if lname.startswith("__"):
                            continue
                        if lname in self._locals:
                            prev = self._locals[lname].file
                            raise HclError(
                                f"{name}: local.{lname} is defined twice (also in {prev})"
                            )
                        self._locals[lname] = Attr(lname, value, name, "locals")
                elif kind == "variable":
                    for label, body in item.items():
                        if label.startswith("__"):
                            continue
                        vname = unquote(label)
                        where = f'variable "{vname}"'
                        self._variables[vname] = _Variable(vname, parse_body(body, name, where))
                elif kind in ("resource", "data"):
                    mode = "managed" if kind == "resource" else "data"
                    for tlabel, named in item.items():
                        if tlabel.startswith("__"):
                            continue
                        rtype = unquote(tlabel)
                        for nlabel, body in named.items():
                            if nlabel.startswith("__"):
                                continue
                            rname = unquote(nlabel)
                            where = f'{kind} "{rtype}" "{rname}"'
                            key = (mode, rtype, rname)
                            if key in self._resources:
                                raise HclError(f"{name}: {where} is declared twice")
                            self._resources[key] = Resource(
                                mode, rtype, rname, parse_body(body, name, where)
                            )
                elif kind == "output":
                    for label, body in item.items():
                        if label.startswith("__"):
                            continue
                        oname = unquote(label)
                        if "value" in body:
                            self._outputs[oname] = Attr(
                                "value", body["value"], name, f'output "{oname}"'
                            )
                elif kind == "provider":
                    for label, body in item.items():
                        if label.startswith("__"):
                            continue
                        pbody = parse_body(body, name, f'provider "{unquote(label)}"')
                        if "alias" not in pbody.attrs:
                            self._providers[unquote(label)] = pbody
                # terraform, module, moved, import, check, removed: not part of the shape

    # -- public API
    def eval(self, expr_text: str, each: Any = None) -> Any:
        """Evaluate expression text in the module's scope; ``each`` = (key, value) or a
        mapping with "key"/"value" binds ``each``."""
        env: dict[str, Any] = {}
        if each is not None:
            if isinstance(each, Mapping):
                k, v = each["key"], each["value"]
            else:
                k, v = each
            env["each"] = {"key": from_python(k), "value": from_python(v)}
        attr = Attr("expression", expr_text, "<eval>", "Module.eval")
        return _materialize_top(attr.evaluate(Ctx(self, env)))

    def var(self, name: str) -> Any:
        if name in self._var_cache:
            return self._var_cache[name]
        v = self._variables.get(name)
        if v is None:
            raise HclError(
                f"undeclared variable var.{name} (declared: {', '.join(sorted(self._variables))})"
            )
        if name in self._overrides:
            value = self._overrides[name]
        elif "default" in v.body.attrs:
            value = v.body.attrs["default"].evaluate(Ctx(None))
        else:
            raise MissingVariable(
                f'var.{name} has no default and no value was given ({v.body.file}: variable "{name}"); '
                f"pass it in variables={{{name!r}: ...}}"
            )
        self._var_cache[name] = value
        return value

    def local(self, name: str) -> Any:
        if name in self._local_cache:
            return self._local_cache[name]
        a = self._locals.get(name)
        if a is None:
            raise HclError(f"undeclared local value local.{name}")
        if name in self._local_stack:
            chain = " -> ".join(
                f"local.{x}" for x in [*self._local_stack[self._local_stack.index(name) :], name]
            )
            raise CycleError(f"cycle between local values: {chain}")
        self._local_stack.append(name)
        try:
            value = a.evaluate(Ctx(self))
        finally:
            self._local_stack.pop()
        self._local_cache[name] = value
        return value

    def output(self, name: str) -> Any:
        a = self._outputs.get(name)
        if a is None:
            raise HclError(f"undeclared output {name!r}")
        return _materialize_top(a.evaluate(Ctx(self)))

    @property
    def variables(self) -> list[str]:
        return sorted(self._variables)

    @property
    def locals(self) -> list[str]:
        return sorted(self._locals)

    @property
    def outputs(self) -> list[str]:
        return sorted(self._outputs)

    def resources(self, type_: str | None = None, *, data: bool = False) -> list[tuple[str, str]]:
        """(type, name) of every resource (or data source), optionally of one type."""
        mode = "data" if data else "managed"
        return [
            (t, n) for (m, t, n) in self._resources if m == mode and (type_ is None or t == type_)
        ]

    def resource_types(self, *, data: bool = False) -> list[str]:
        return sorted({t for t, _ in self.resources(data=data)})

    def instances(self, type_: str, name: str, *, data: bool = False) -> dict[Any, Instance]:
        """The instances of ``type_.name`` (``data.type`` or data=True for a data source):
        keyed by for_each key, count index, or ``None`` for a single instance."""
        mode = "managed"
        if type_.startswith("data."):
            mode, type_ = "data", type_[5:]
        elif data:
            mode = "data"
        return dict(self._instances(self._lookup(mode, type_, name)))

    @functools.cached_property
    def project(self) -> str:
        """The google provider's project (its ``project`` argument), else var.project_id."""
        p = self._providers.get("google")
        if p is not None and "project" in p.attrs:
            return to_string(p.attrs["project"].evaluate(Ctx(self)))
        return to_string(self.var("project_id"))

    # -- internals
    def _lookup(self, mode: str, type_: str, name: str) -> Resource:
        res = self._resources.get((mode, type_, name))
        if res is None:
            kind = "data source" if mode == "data" else "resource"
            prefix = "data." if mode == "data" else ""
            raise HclError(f"no {kind} {prefix}{type_}.{name} in this module")
        return res

    def _instances(self, res: Resource) -> dict[Any, Instance]:
        key = (res.mode, res.type, res.name)
        cached = self._inst_cache.get(key)
        if cached is not None:
            return cached
        attrs = res.body.attrs
        out: dict[Any, Instance] = {}
        if "for_each" in attrs and "count" in attrs:
            raise HclError(f"{res.body.file}: {res.body.where}: for_each and count together")
        if "for_each" in attrs:
            fe = attrs["for_each"]
            coll = materialize(fe.evaluate(Ctx(self)))
            if isinstance(coll, dict):
                for k, v in coll.items():
                    out[k] = Instance(self, res, k, {"each": {"key": k, "value": v}})
            elif isinstance(coll, HclSet):
                for v in coll:
                    if not isinstance(v, str):
                        raise HclError(
                            f"for_each over a set needs strings, got a {type_name(v)}"
                        ).add_context(fe.location())
                    out[v] = Instance(self, res, v, {"each": {"key": v, "value": v}})
            else:
                raise HclError(
                    f"for_each needs a map or a set of strings, got {type_name(coll)}"
                    + (" (wrap a list in toset())" if isinstance(coll, list) else "")
                ).add_context(fe.location())
        elif "count" in attrs:
            c = attrs["count"]
            n = as_number(materialize(c.evaluate(Ctx(self))), "count")
            if not isinstance(n, int) or n < 0:
                raise HclError(f"count must be a whole number >= 0, got {n}").add_context(
                    c.location()
                )
            for i in range(n):
                out[i] = Instance(self, res, i, {"count": {"index": i}})
        else:
            out[None] = Instance(self, res, None, {})
        self._inst_cache[key] = out
        return out

    def _root(self, name: str) -> Any:
        if name == "var":
            return NameSpace("var", self.var)
        if name == "local":
            return NameSpace("local", self.local)
        if name == "path":
            d = str(self.directory)
            return {"module": d, "root": d, "cwd": d}
        if name == "terraform":
            return {"workspace": "default"}
        if name == "data":
            return DataNamespace(self)
        if name in ("each", "count"):
            raise HclError(
                f"{name} is only valid inside a resource with {'for_each' if name == 'each' else 'count'}"
            )
        if name == "self":
            raise NotSupported("self is not supported (provisioners and connections are ignored)")
        if name == "module":
            raise NotSupported("module calls are not supported")
        if any(t == name for (m, t, _n) in self._resources if m == "managed"):
            return TypeNamespace(self, "managed", name)
        raise HclError(
            f"unknown name {name!r} (not a variable, local, resource type or bound name)"
        )


def _materialize_top(v: Any) -> Any:
    """A result handed back to Python: resource collections become maps/lists of instances."""
    return v.hcl_value() if isinstance(v, Collection) else v


def iter_instances(module: Module, type_: str, *, data: bool = False) -> Iterator[Instance]:
    """Every instance of every resource (or data source) of ``type_``."""
    for t, n in module.resources(type_, data=data):
        yield from module.instances(t, n, data=data).values()
