"""A ``.tf`` file's blocks as python-hcl2 reads them, turned into unevaluated bodies:
attributes (with where they are written), nested and dynamic blocks, resources. Nothing
here evaluates; views do, in the scope of one instance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from stkpi_tools.terraform.hcl.errors import HclError, ParseError
from stkpi_tools.terraform.hcl.nodes import Ctx, Node
from stkpi_tools.terraform.hcl.parser import raw_text, value_node
from stkpi_tools.terraform.hcl.scanner import IDENT


@dataclass
class Attr:
    """One attribute as written: where it is and its parsed expression."""

    name: str
    raw: Any
    file: str
    where: str
    _node: Node | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return raw_text(self.raw)

    @property
    def node(self) -> Node:
        if self._node is None:
            try:
                self._node = value_node(self.raw)
            except HclError as e:
                raise e.add_context(self.location()) from None
        return self._node

    def location(self) -> str:
        return f"{self.file}: {self.where}: {self.name} = {self.text}"

    def evaluate(self, ctx: Ctx) -> Any:
        try:
            return self.node.ev(ctx)
        except HclError as e:
            raise e.add_context(self.location()) from None
        except RecursionError:
            raise HclError("expression nested too deeply").add_context(self.location()) from None


@dataclass
class Dynamic:
    type: str
    for_each: Attr
    iterator: str
    content: Body


@dataclass
class Body:
    """A block body: attributes and nested blocks (static and dynamic), unevaluated."""

    file: str
    where: str
    attrs: dict[str, Attr] = field(default_factory=dict)
    blocks: dict[str, list[Body]] = field(default_factory=dict)
    dynamic: dict[str, list[Dynamic]] = field(default_factory=dict)
    labels: tuple[str, ...] = ()


def unquote(label: str) -> str:
    if len(label) >= 2 and label[0] == '"' and label[-1] == '"':
        return json.loads(label)
    return label


def _is_block(v: Any) -> bool:
    return isinstance(v, dict) and v.get("__is_block__") is True


def _labeled(d: Any) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    """``{'"label"': {... block ...}}`` (nested for more labels) -> (labels, block)."""
    labels: list[str] = []
    while isinstance(d, dict) and not _is_block(d):
        keys = [k for k in d if not k.startswith("__")]
        if len(keys) != 1:
            return None
        labels.append(unquote(keys[0]))
        d = d[keys[0]]
    return (tuple(labels), d) if _is_block(d) and labels else None


def _is_block_list(v: Any) -> bool:
    return (
        isinstance(v, list) and bool(v) and all(_is_block(x) or _labeled(x) is not None for x in v)
    )


META_ATTRS = {"depends_on", "provider", "for_each", "count"}
META_BLOCKS = {"lifecycle", "provisioner", "connection", "precondition", "postcondition"}


def parse_body(d: dict[str, Any], file: str, where: str, labels: tuple[str, ...] = ()) -> Body:
    body = Body(file=file, where=where, labels=labels)
    for k, v in d.items():
        if k.startswith("__"):
            continue
        if k == "dynamic" and _is_block_list(v):
            for item in v:
                lab = _labeled(item)
                if lab is None or len(lab[0]) != 1:
                    raise ParseError(f"{file}: {where}: a dynamic block needs exactly one label")
                (btype,), inner = lab
                dwhere = f'{where} dynamic "{btype}"'
                if "for_each" not in inner or not _is_block_list(inner.get("content")):
                    raise ParseError(f"{file}: {dwhere}: needs for_each and a content block")
                iterator = btype
                if "iterator" in inner:
                    it = inner["iterator"]
                    iterator = it[2:-1] if isinstance(it, str) and it.startswith("${") else it
                    if not isinstance(iterator, str) or not IDENT.fullmatch(iterator):
                        raise ParseError(f"{file}: {dwhere}: iterator must be a name, got {it!r}")
                content = parse_body(inner["content"][0], file, f"{dwhere} content")
                dyn = Dynamic(
                    btype, Attr("for_each", inner["for_each"], file, dwhere), iterator, content
                )
                body.dynamic.setdefault(btype, []).append(dyn)
            continue
        if _is_block_list(v):
            for item in v:
                if _is_block(item):
                    blabels: tuple[str, ...] = ()
                    inner = item
                else:
                    lab = _labeled(item)
                    assert lab is not None
                    blabels, inner = lab
                suffix = "".join(f' "{x}"' for x in blabels)
                nested = parse_body(inner, file, f"{where} {k}{suffix}", blabels)
                body.blocks.setdefault(k, []).append(nested)
            continue
        body.attrs[k] = Attr(k, v, file, where)
    return body


@dataclass
class Resource:
    mode: str  # "managed" or "data"
    type: str
    name: str
    body: Body

    @property
    def address(self) -> str:
        return f"{'data.' if self.mode == 'data' else ''}{self.type}.{self.name}"


def key_repr(key: Any) -> str:
    return f"[{key}]" if isinstance(key, int) else f"[{json.dumps(key)}]"
