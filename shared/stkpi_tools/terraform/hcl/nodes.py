"""The expression tree: one node class per HCL construct, each evaluating itself in a scope
(:class:`Ctx`: the module and the names bound by ``each``, ``count``, for expressions and
dynamic-block iterators). The parser builds these; nothing else knows HCL's grammar.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stkpi_tools.terraform.hcl.errors import HclError, NotSupported, Unknown
from stkpi_tools.terraform.hcl.functions import FUNCTIONS, NOT_SUPPORTED_FUNCTIONS
from stkpi_tools.terraform.hcl.values import (
    as_bool,
    as_number,
    equal,
    get_attr,
    get_index,
    iter_pairs,
    materialize,
    norm_num,
    sorted_dict,
    to_string,
    type_name,
)

if TYPE_CHECKING:
    from stkpi_tools.terraform.hcl.module import Module


@dataclass
class Ctx:
    module: Module | None
    env: dict[str, Any] = field(default_factory=dict)

    def bind(self, **names: Any) -> Ctx:
        return Ctx(self.module, {**self.env, **names})


class Node:
    __slots__ = ()

    def ev(self, ctx: Ctx) -> Any:  # pragma: no cover - every node overrides it
        raise NotImplementedError


class Lit(Node):
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def ev(self, ctx: Ctx) -> Any:
        return self.value


class Template(Node):
    """Parts: ``str`` literals, ``Node`` interpolations, ``TIf``/``TFor`` directives."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts

    def ev(self, ctx: Ctx) -> Any:
        if len(self.parts) == 1 and isinstance(self.parts[0], Node):
            return self.parts[0].ev(ctx)  # "${x}" is x itself, whatever its type
        return _render(self.parts, ctx)


def _render(parts: list[Any], ctx: Ctx) -> str:
    out: list[str] = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        else:
            out.append(to_string(materialize(p.ev(ctx))))
    return "".join(out)


class TIf(Node):
    __slots__ = ("cond", "else_", "then")

    def __init__(self, cond: Node, then: list[Any], else_: list[Any]) -> None:
        self.cond, self.then, self.else_ = cond, then, else_

    def ev(self, ctx: Ctx) -> Any:
        branch = self.then if as_bool(self.cond.ev(ctx), "template if condition") else self.else_
        return _render(branch, ctx)


class TFor(Node):
    __slots__ = ("body", "coll", "kvar", "vvar")

    def __init__(self, kvar: str | None, vvar: str, coll: Node, body: list[Any]) -> None:
        self.kvar, self.vvar, self.coll, self.body = kvar, vvar, coll, body

    def ev(self, ctx: Ctx) -> Any:
        out = []
        for k, v in iter_pairs(self.coll.ev(ctx), "template for"):
            names = {self.vvar: v} if self.kvar is None else {self.kvar: k, self.vvar: v}
            out.append(_render(self.body, ctx.bind(**names)))
        return "".join(out)


class Var(Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def ev(self, ctx: Ctx) -> Any:
        if self.name in ctx.env:
            return ctx.env[self.name]
        if ctx.module is None:
            raise HclError(f"{self.name!r} cannot be resolved outside a module")
        return ctx.module._root(self.name)


class GetAttr(Node):
    __slots__ = ("name", "obj")

    def __init__(self, obj: Node, name: str) -> None:
        self.obj, self.name = obj, name

    def ev(self, ctx: Ctx) -> Any:
        return get_attr(self.obj.ev(ctx), self.name)


class Index(Node):
    __slots__ = ("key", "obj")

    def __init__(self, obj: Node, key: Node) -> None:
        self.obj, self.key = obj, key

    def ev(self, ctx: Ctx) -> Any:
        obj = self.obj.ev(ctx)
        return get_index(obj, materialize(self.key.ev(ctx)))


class Splat(Node):
    """``src[*].a[0]`` / ``src.*.a``: ops (("attr", name) / ("index", node)) per element."""

    __slots__ = ("ops", "src")

    def __init__(self, src: Node, ops: list[tuple[str, Any]]) -> None:
        self.src, self.ops = src, ops

    def ev(self, ctx: Ctx) -> Any:
        src = materialize(self.src.ev(ctx))
        if src is None:
            return []
        items = list(src) if isinstance(src, list | tuple) else [src]
        out = []
        for item in items:
            v = item
            for kind, arg in self.ops:
                v = get_attr(v, arg) if kind == "attr" else get_index(v, materialize(arg.ev(ctx)))
            out.append(v)
        return out


class Unary(Node):
    __slots__ = ("op", "x")

    def __init__(self, op: str, x: Node) -> None:
        self.op, self.x = op, x

    def ev(self, ctx: Ctx) -> Any:
        v = materialize(self.x.ev(ctx))
        if self.op == "!":
            return not as_bool(v, "operand of !")
        return norm_num(-as_number(v, "operand of unary -"))


def _arith(op: str, a: Any, b: Any) -> Any:
    x, y = as_number(a, f"left operand of {op}"), as_number(b, f"right operand of {op}")
    if op == "+":
        return norm_num(x + y)
    if op == "-":
        return norm_num(x - y)
    if op == "*":
        return norm_num(x * y)
    if y == 0:
        raise HclError(f"division by zero ({x} {op} 0)")
    if op == "/":
        return norm_num(x / y)
    return norm_num(math.fmod(x, y))  # Terraform's % keeps the dividend's sign


def _compare(op: str, a: Any, b: Any) -> bool:
    x, y = as_number(a, f"left operand of {op}"), as_number(b, f"right operand of {op}")
    return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]


class Binary(Node):
    __slots__ = ("a", "b", "op")

    def __init__(self, op: str, a: Node, b: Node) -> None:
        self.op, self.a, self.b = op, a, b

    def ev(self, ctx: Ctx) -> Any:
        op = self.op
        if op == "&&":
            return as_bool(self.a.ev(ctx), "left operand of &&") and as_bool(
                self.b.ev(ctx), "right operand of &&"
            )
        if op == "||":
            return as_bool(self.a.ev(ctx), "left operand of ||") or as_bool(
                self.b.ev(ctx), "right operand of ||"
            )
        a, b = materialize(self.a.ev(ctx)), materialize(self.b.ev(ctx))
        if op == "==":
            return equal(a, b)
        if op == "!=":
            return not equal(a, b)
        if op in ("<", ">", "<=", ">="):
            return _compare(op, a, b)
        return _arith(op, a, b)


class Cond(Node):
    __slots__ = ("a", "b", "c")

    def __init__(self, c: Node, a: Node, b: Node) -> None:
        self.c, self.a, self.b = c, a, b

    def ev(self, ctx: Ctx) -> Any:
        return self.a.ev(ctx) if as_bool(self.c.ev(ctx), "condition") else self.b.ev(ctx)


class Tuple(Node):
    __slots__ = ("items",)

    def __init__(self, items: list[Node]) -> None:
        self.items = items

    def ev(self, ctx: Ctx) -> Any:
        return [x.ev(ctx) for x in self.items]


def _object_key(k: Any) -> str:
    k = materialize(k)
    if k is None:
        raise HclError("an object key cannot be null")
    return to_string(k)


class Object(Node):
    __slots__ = ("items",)

    def __init__(self, items: list[tuple[Node, Node]]) -> None:
        self.items = items

    def ev(self, ctx: Ctx) -> Any:
        out: dict[str, Any] = {}
        for k, v in self.items:
            out[_object_key(k.ev(ctx))] = v.ev(ctx)
        return sorted_dict(out)


class For(Node):
    """``[for k, v in coll : val if cond]`` or ``{for k, v in coll : key => val... if cond}``."""

    __slots__ = ("coll", "cond", "group", "key", "kvar", "val", "vvar")

    def __init__(
        self,
        kvar: str | None,
        vvar: str,
        coll: Node,
        key: Node | None,
        val: Node,
        cond: Node | None,
        group: bool,
    ) -> None:
        self.kvar, self.vvar, self.coll = kvar, vvar, coll
        self.key, self.val, self.cond, self.group = key, val, cond, group

    def ev(self, ctx: Ctx) -> Any:
        pairs = iter_pairs(self.coll.ev(ctx), "for expression")
        tuple_out: list[Any] = []
        obj_out: dict[str, Any] = {}
        for k, v in pairs:
            names = {self.vvar: v} if self.kvar is None else {self.kvar: k, self.vvar: v}
            inner = ctx.bind(**names)
            if self.cond is not None and not as_bool(self.cond.ev(inner), "for expression if"):
                continue
            if self.key is None:
                tuple_out.append(self.val.ev(inner))
                continue
            key = _object_key(self.key.ev(inner))
            val = self.val.ev(inner)
            if self.group:
                obj_out.setdefault(key, []).append(val)
            elif key in obj_out:
                raise HclError(
                    f"duplicate key {key!r} in a for expression (use '...' after the value to group)"
                )
            else:
                obj_out[key] = val
        return tuple_out if self.key is None else sorted_dict(obj_out)


class Call(Node):
    __slots__ = ("args", "expand", "name")

    def __init__(self, name: str, args: list[Node], expand: bool) -> None:
        self.name, self.args, self.expand = name, args, expand

    def ev(self, ctx: Ctx) -> Any:
        if self.name in ("try", "can"):
            return self._try_can(ctx)
        fn = FUNCTIONS.get(self.name)
        if fn is None:
            if self.name in NOT_SUPPORTED_FUNCTIONS:
                raise NotSupported(f"function {self.name}() is not supported by this evaluator")
            raise HclError(f"unknown function {self.name}()")
        args = [materialize(a.ev(ctx)) for a in self.args]
        if self.expand:
            last = args.pop() if args else None
            if not isinstance(last, list | tuple):
                raise HclError(
                    f"{self.name}(...): the argument before '...' must be a list, got {type_name(last)}"
                )
            args.extend(materialize(x) for x in last)
        try:
            return fn(ctx, *args)
        except HclError as e:
            if not e.message.startswith(f"{self.name}()"):
                e.message = f"{self.name}(): {e.message}"
            raise
        except TypeError as e:
            raise HclError(f"{self.name}(): wrong arguments ({e})") from None
        except (ValueError, KeyError, IndexError, OSError, re.error) as e:
            raise HclError(f"{self.name}(): {e}") from None

    def _try_can(self, ctx: Ctx) -> Any:
        if self.expand or not self.args:
            raise HclError(f"{self.name}() needs at least one argument, without '...'")
        if self.name == "can":
            if len(self.args) != 1:
                raise HclError("can() takes exactly one argument")
            try:
                materialize(self.args[0].ev(ctx))
            except Unknown:
                raise
            except HclError:
                return False
            return True
        errors = []
        for a in self.args:
            try:
                return materialize(a.ev(ctx))
            except Unknown:
                raise
            except HclError as e:
                errors.append(e.message)
        raise HclError("try(): no argument could be evaluated: " + "; ".join(errors))
