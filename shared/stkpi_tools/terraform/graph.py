"""Terraform's dependency graph of terraform/, read statically: which resources each
resource waits for before it is created.

Terraform orders an apply by references: a resource is created after every resource (or
data source) its arguments, blocks, ``for_each``/``count`` and ``depends_on`` name,
directly or through local values. Like Terraform's own graph, an edge is between whole
resources (``google_project_service.apis``), not instances. This module finds those
edges in the parsed expressions of :mod:`stkpi_tools.terraform.hcl` without evaluating
anything, so values only known after apply do not matter; ``tests/terraform/
test_deploy_graph.py`` uses it to hold every resource to the API it calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from stkpi_tools.terraform.hcl import Module
from stkpi_tools.terraform.hcl.config import Attr, Body
from stkpi_tools.terraform.hcl.nodes import GetAttr, Index, Node, Splat, Template, TFor, TIf, Var

__all__ = ["Graph", "dependency_graph"]

_NOT_RESOURCES = {"var", "path", "terraform", "each", "count", "self", "module"}


@dataclass(frozen=True)
class Graph:
    """Resource address -> the resource addresses it references directly."""

    edges: dict[str, frozenset[str]]

    def depends_on(self, address: str) -> frozenset[str]:
        """Every resource ``address`` waits for, directly or through others."""
        if address not in self.edges:
            raise KeyError(f"no resource {address} in terraform/")
        seen: set[str] = set()
        todo = list(self.edges[address])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self.edges.get(node, ()))
        return frozenset(seen)


def dependency_graph(module: Module) -> Graph:
    """The graph of ``module``'s resources and data sources (``data.`` addresses)."""
    types = {(mode, rtype) for (mode, rtype, _n) in module._resources}
    local_refs: dict[str, set[str]] = {}

    def resolve_local(name: str, stack: tuple[str, ...]) -> set[str]:
        if name in local_refs:
            return local_refs[name]
        if name in stack:
            return set()  # a cycle: the evaluator reports it; no edge to add here
        attr = module._locals.get(name)
        found = set() if attr is None else refs_of(_attr_nodes(attr), (*stack, name))
        local_refs[name] = found
        return found

    def refs_of(nodes: list[Node], stack: tuple[str, ...]) -> set[str]:
        out: set[str] = set()
        for root, names in _chains(nodes):
            if root == "local" and names:
                out |= resolve_local(names[0], stack)
            elif root == "data" and len(names) >= 2 and ("data", names[0]) in types:
                out.add(f"data.{names[0]}.{names[1]}")
            elif root not in _NOT_RESOURCES and names and ("managed", root) in types:
                out.add(f"{root}.{names[0]}")
        return out

    edges: dict[str, frozenset[str]] = {}
    for (mode, rtype, name), res in module._resources.items():
        address = f"{'data.' if mode == 'data' else ''}{rtype}.{name}"
        edges[address] = frozenset(refs_of(list(_body_nodes(res.body)), ()) - {address})
    return Graph(edges)


def _attr_nodes(attr: Attr) -> list[Node]:
    return [attr.node]


def _body_nodes(body: Body) -> Iterator[Node]:
    for attr in body.attrs.values():  # depends_on, for_each and count included
        yield attr.node
    for blocks in body.blocks.values():
        for block in blocks:
            yield from _body_nodes(block)
    for dynamics in body.dynamic.values():
        for dyn in dynamics:
            yield dyn.for_each.node
            yield from _body_nodes(dyn.content)


def _chains(nodes: list[Node]) -> Iterator[tuple[str, list[str]]]:
    """(root name, the attribute names after it) of every traversal in ``nodes``:
    ``google_x.a["k"].b`` -> ("google_x", ["a", "b"])."""
    todo: list[object] = list(nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, GetAttr | Index | Splat):
            names: list[str] = []
            cur: object = node
            while isinstance(cur, GetAttr | Index | Splat):
                if isinstance(cur, GetAttr):
                    names.append(cur.name)
                    cur = cur.obj
                elif isinstance(cur, Index):
                    todo.append(cur.key)
                    cur = cur.obj
                else:
                    todo.extend(arg for kind, arg in cur.ops if kind == "index")
                    names.extend(arg for kind, arg in reversed(cur.ops) if kind == "attr")
                    cur = cur.src
            if isinstance(cur, Var):
                yield cur.name, list(reversed(names))
            else:
                todo.append(cur)
        elif isinstance(node, Var):
            yield node.name, []
        elif isinstance(node, Template | TIf | TFor | Node):
            todo.extend(_children(node))
        elif isinstance(node, list | tuple):
            todo.extend(node)


def _children(node: object) -> list[object]:
    out: list[object] = []
    for slot in getattr(type(node), "__slots__", ()):
        value = getattr(node, slot, None)
        if isinstance(value, Node):
            out.append(value)
        elif isinstance(value, list | tuple):
            out.extend(v for v in value if isinstance(v, Node | list | tuple))
    return out
