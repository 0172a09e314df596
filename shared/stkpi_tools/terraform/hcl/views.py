"""Evaluated views of configuration: an :class:`Instance` of a resource (one for_each key or
count index) and its nested :class:`Block` s, evaluating arguments lazily, once, in their
scope, with computed attributes for what the block does not set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stkpi_tools.terraform.hcl.computed import COMPUTED
from stkpi_tools.terraform.hcl.config import META_ATTRS, META_BLOCKS, Body, Resource, key_repr
from stkpi_tools.terraform.hcl.errors import CycleError, HclError, NotSupported, Unknown
from stkpi_tools.terraform.hcl.nodes import Ctx
from stkpi_tools.terraform.hcl.values import HclSet, Lazy, materialize, to_string, type_name

if TYPE_CHECKING:
    from stkpi_tools.terraform.hcl.module import Module


_MISSING: Any = object()


class View(Lazy):
    """A block body seen from one scope (an instance's each/count, dynamic iterators)."""

    def __init__(
        self, module: Module, instance: Instance | None, body: Body, env: dict[str, Any], path: str
    ) -> None:
        self._module = module
        self._instance = instance
        self._body = body
        self._env = env
        self._path = path  # "" for the instance itself, "service_config" for a nested block
        self._cache: dict[str, Any] = {}

    @property
    def labels(self) -> tuple[str, ...]:
        return self._body.labels

    def describe(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        raise NotImplementedError

    def has(self, name: str) -> bool:
        """Whether the block sets argument ``name`` (not computed attributes)."""
        return name in self._body.attrs

    def attr_names(self) -> list[str]:
        return [n for n in self._body.attrs if n not in META_ATTRS]

    def block_names(self) -> list[str]:
        names = [*self._body.blocks, *self._body.dynamic]
        return [n for n in dict.fromkeys(names) if n not in META_BLOCKS]

    def attr(self, name: str, default: Any = _MISSING) -> Any:
        """The evaluated argument ``name``; ``default`` (or an error) when it is not set."""
        if name in self._cache:
            return self._cache[name]
        a = self._body.attrs.get(name)
        if a is None:
            if default is not _MISSING:
                return default
            raise HclError(f"{self.address} has no argument {name!r}")
        token = (self.address, name)
        stack = self._module._attr_stack
        if token in stack:
            chain = " -> ".join(f"{x}.{y}" for x, y in [*stack[stack.index(token) :], token])
            raise CycleError(f"cycle: {chain}")
        stack.append(token)
        try:
            value = a.evaluate(Ctx(self._module, self._env))
        finally:
            stack.pop()
        self._cache[name] = value
        return value

    def attrs(self) -> dict[str, Any]:
        """Every argument evaluated (meta-arguments left out)."""
        return {n: self.attr(n) for n in self.attr_names()}

    def block(self, name: str) -> list[Block]:
        """Nested blocks ``name`` (static, then dynamic ones expanded), in this scope."""
        path = f"{self._path}.{name}" if self._path else name
        out: list[Block] = []
        for i, b in enumerate(self._body.blocks.get(name, [])):
            out.append(Block(self._module, self._instance, b, self._env, path, self, i))
        for dyn in self._body.dynamic.get(name, []):
            coll = materialize(dyn.for_each.evaluate(Ctx(self._module, self._env)))
            if isinstance(coll, dict):
                pairs = list(coll.items())
            elif isinstance(coll, HclSet):
                pairs = [(x, x) for x in coll]
            elif isinstance(coll, list | tuple):
                pairs = list(enumerate(coll))
            else:
                raise HclError(
                    f"dynamic {name!r}: for_each must be a collection, got {type_name(coll)}"
                ).add_context(dyn.for_each.location())
            for k, v in pairs:
                env = {**self._env, dyn.iterator: {"key": k, "value": v}}
                out.append(
                    Block(self._module, self._instance, dyn.content, env, path, self, len(out))
                )
        return out

    def get(self, name: str) -> Any:
        """What ``<address>.<name>`` evaluates to in an expression: the argument, the
        nested blocks (a list), or a computed attribute (``COMPUTED``); else ``Unknown``."""
        return self.hcl_attr(name)

    # -- references from expressions
    def hcl_attr(self, name: str) -> Any:
        if name in self._body.attrs and name not in META_ATTRS:
            return self.attr(name)
        if name in self._body.blocks or name in self._body.dynamic:
            return self.block(name)
        return self._computed(name)

    def _computed(self, name: str) -> Any:
        inst = self._instance
        assert inst is not None
        path = f"{self._path}.{name}" if self._path else name
        rule = COMPUTED.get((inst.kind, path))
        if rule is not None:
            return rule(inst)
        if path == "project" and inst.type.startswith("google_"):
            return inst.project
        raise Unknown(f"{self.address}.{name}")

    def hcl_value(self) -> Any:
        raise NotSupported(
            f"{self.address} used as a whole object; refer to one of its attributes instead"
        )


class Instance(View):
    """One instance of a resource or data source (one for_each key, one count index)."""

    def __init__(self, module: Module, res: Resource, key: Any, env: dict[str, Any]) -> None:
        super().__init__(module, None, res.body, env, "")
        self._instance = self
        self.resource = res
        self.key = key

    @property
    def type(self) -> str:
        return self.resource.type

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def mode(self) -> str:
        return self.resource.mode

    @property
    def kind(self) -> str:
        """``type`` for resources, ``data.type`` for data sources (the COMPUTED keys)."""
        return f"data.{self.type}" if self.mode == "data" else self.type

    @property
    def file(self) -> str:
        return self.resource.body.file

    @property
    def address(self) -> str:
        base = self.resource.address
        return base if self.key is None else base + key_repr(self.key)

    @property
    def project(self) -> str:
        """The instance's own ``project`` argument, else the module's default project."""
        if self.has("project"):
            return to_string(self.attr("project"))
        return self._module.project

    def __repr__(self) -> str:
        return f"<Instance {self.address}>"


class Block(View):
    """A nested block of an instance, evaluated in the instance's scope."""

    def __init__(
        self,
        module: Module,
        instance: Instance | None,
        body: Body,
        env: dict[str, Any],
        path: str,
        parent: View,
        index: int,
    ) -> None:
        super().__init__(module, instance, body, env, path)
        self._parent = parent
        self._index = index

    @property
    def address(self) -> str:
        return f"{self._parent.address}.{self._path.rsplit('.', 1)[-1]}[{self._index}]"

    def __repr__(self) -> str:
        return f"<Block {self.address}>"
