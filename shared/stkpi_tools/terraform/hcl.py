"""A small, strict evaluator of the Terraform expressions in ``terraform/*.tf``.

python-hcl2 parses the files into dicts whose strings are HCL expression text (a quoted
template ``'"${each.value}-dead-letter"'``, a wrapped expression ``'${max(1, var.a)}'``, a
bare word ``'string'``); numbers, bools and null come as Python values, object literals as
dicts, blocks as lists of dicts marked ``__is_block__``. This module parses that text with
a recursive-descent parser and evaluates it the way Terraform would at plan time:

- values: ``str``, ``int``/``float`` (an integral result is an ``int``), ``bool``,
  ``None`` (null), ``list`` (tuple/list), ``dict`` (object/map, keys kept sorted the way
  Terraform iterates them) and ``HclSet`` (``toset``; a sorted tuple);
- ``var.x`` from the overrides given to :class:`Module`, else the variable's default;
  ``local.x`` evaluated lazily, memoized, with cycle detection;
- ``each``/``count`` inside a resource's instances, dynamic-block iterators, for-expression
  variables, ``path.module`` (the directory, absolute);
- references to resources and data sources: the instance's own argument when its block
  sets it, else a small table of computed attributes (``COMPUTED``); anything else raises
  :class:`Unknown`, which a caller that does not need the value can catch.

Not supported (raises :class:`NotSupported` or a clear :class:`HclError`): module calls
(``module.x``), ``self``, provider-defined functions (``provider::...``), ``templatefile``,
functions whose value is only known at apply (``timestamp``, ``uuid``), type constraints
beyond primitive conversion of overrides, variable validations, override files, and JSON
configuration (``*.tf.json``). Unlike Terraform, ``&&``/``||`` short-circuit and unknown
values are exceptions, not values.
"""

from __future__ import annotations

import base64
import functools
import glob
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

__all__ = [
    "COMPUTED",
    "PROJECT_NUMBER_PLACEHOLDER",
    "Block",
    "CycleError",
    "HclError",
    "HclSet",
    "Instance",
    "MissingVariable",
    "Module",
    "NotSupported",
    "ParseError",
    "Unknown",
    "iter_instances",
    "parse_expression",
    "to_string",
]

PROJECT_NUMBER_PLACEHOLDER = "000000000000"


# ---- Errors ---------------------------------------------------------------------------------


class HclError(Exception):
    """An error in a Terraform expression; ``str()`` says where (file, block, expression)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.context: list[str] = []

    def add_context(self, where: str) -> HclError:
        if where not in self.context:
            self.context.append(where)
        return self

    def __str__(self) -> str:
        return self.message + "".join(f"\n  in {c}" for c in self.context)


class ParseError(HclError):
    """Expression text that is not HCL (or not the subset this module parses)."""


class NotSupported(HclError):
    """Valid Terraform that this evaluator deliberately does not evaluate."""


class MissingVariable(HclError):
    """A variable without default, and without a value given, was used."""


class CycleError(HclError):
    """Locals (or resource attributes) that refer to each other in a cycle."""


class Unknown(HclError):
    """A value Terraform only knows after apply (a computed attribute not modelled here)."""

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"{reference} is known only after apply (not modelled by stkpi_tools.terraform)"
        )
        self.reference = reference


# ---- Values ---------------------------------------------------------------------------------


class HclSet(tuple):
    """A Terraform set: unique elements in Terraform's iteration order (sorted)."""

    __slots__ = ()

    @classmethod
    def of(cls, items: Iterable[Any]) -> HclSet:
        items = list(items)
        if any(isinstance(x, str) for x in items) and all(
            isinstance(x, str | int | float | bool) for x in items
        ):
            items = [to_string(x) for x in items]  # toset(["a", 1]) is a set of string
        unique: list[Any] = []
        for x in items:
            if not any(_equal(x, y) for y in unique):
                unique.append(x)
        return cls(sorted(unique, key=_sort_key))


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (0, v)
    if isinstance(v, int | float):
        return (1, v)
    if isinstance(v, str):
        return (2, v)
    return (3, json.dumps(_plain(v), sort_keys=True, default=str))


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def _norm_num(x: int | float) -> int | float:
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            raise HclError("arithmetic result is not a finite number")
        if x.is_integer() and abs(x) < 2**53:
            return int(x)
    return x


def type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, HclSet):
        return "set"
    if isinstance(v, list | tuple):
        return "tuple"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, _Lazy):
        return v.describe()
    return type(v).__name__


def to_string(v: Any) -> str:
    """Terraform's automatic conversion to string (templates, tostring, environment maps)."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        v = _norm_num(v)
        return str(v) if isinstance(v, int) else repr(v)
    if v is None:
        raise HclError("a null value cannot be used as a string")
    raise HclError(f"a {type_name(v)} value cannot be used as a string")


def _num(v: Any, what: str = "operand") -> int | float:
    if isinstance(v, bool) or v is None:
        raise HclError(f"{what} must be a number, got {type_name(v)}")
    if isinstance(v, int | float):
        return v
    if isinstance(v, str):
        try:
            return _norm_num(float(v)) if re.search(r"[.eE]", v) else int(v)
        except ValueError:
            raise HclError(f"{what} must be a number, got string {v!r}") from None
    raise HclError(f"{what} must be a number, got {type_name(v)}")


def _bool(v: Any, what: str = "operand") -> bool:
    if isinstance(v, bool):
        return v
    if v == "true":
        return True
    if v == "false":
        return False
    raise HclError(f"{what} must be a bool, got {type_name(v)}")


def _equal(a: Any, b: Any) -> bool:
    a, b = _materialize(a), _materialize(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, HclSet) != isinstance(b, HclSet):
        return False
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return False


def _from_python(v: Any) -> Any:
    """A value handed in from Python (variable overrides, ``each``) in this module's form."""
    if isinstance(v, Mapping):
        return {str(k): _from_python(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, set | frozenset):
        return HclSet.of(_from_python(x) for x in v)
    if isinstance(v, HclSet):
        return v
    if isinstance(v, list | tuple):
        return [_from_python(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, float):
        return _norm_num(v)
    return v


def _sorted_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    return dict(sorted(d.items()))


class _Lazy:
    """A value whose parts are computed on access (namespaces, resources, blocks)."""

    def describe(self) -> str:
        return type(self).__name__

    def hcl_attr(self, name: str) -> Any:
        raise HclError(f"{self.describe()} has no attribute {name!r}")

    def hcl_index(self, key: Any) -> Any:
        raise HclError(f"{self.describe()} cannot be indexed")

    def hcl_value(self) -> Any:
        raise HclError(f"{self.describe()} cannot be used as a whole value")


def _materialize(v: Any) -> Any:
    return v.hcl_value() if isinstance(v, _Lazy) else v


def _get_attr(v: Any, name: str) -> Any:
    if isinstance(v, _Lazy):
        return v.hcl_attr(name)
    if isinstance(v, dict):
        if name in v:
            return v[name]
        keys = ", ".join(sorted(v)) or "none"
        raise HclError(f"object has no attribute {name!r} (it has: {keys})")
    if v is None:
        raise HclError(f"cannot read attribute {name!r} of null")
    raise HclError(f"cannot read attribute {name!r} of a {type_name(v)}")


def _get_index(v: Any, key: Any) -> Any:
    if isinstance(v, _Lazy):
        return v.hcl_index(key)
    if isinstance(v, HclSet):
        raise HclError("a set cannot be indexed; convert it with tolist()")
    if isinstance(v, list | tuple):
        i = _num(key, "index")
        if not isinstance(i, int):
            raise HclError(f"index must be a whole number, got {i}")
        if not 0 <= i < len(v):
            raise HclError(f"index {i} out of range for a tuple of {len(v)} elements")
        return v[i]
    if isinstance(v, dict):
        k = to_string(key)
        if k not in v:
            keys = ", ".join(repr(x) for x in sorted(v)) or "none"
            raise HclError(f"key {k!r} not found (keys: {keys})")
        return v[k]
    if v is None:
        raise HclError("cannot index null")
    raise HclError(f"cannot index a {type_name(v)}")


def _iter_pairs(coll: Any, what: str) -> list[tuple[Any, Any]]:
    coll = _materialize(coll)
    if isinstance(coll, dict):
        return list(coll.items())
    if isinstance(coll, HclSet):
        return [(x, x) for x in coll]
    if isinstance(coll, list | tuple):
        return list(enumerate(coll))
    if coll is None:
        raise HclError(f"{what}: cannot iterate over null")
    raise HclError(f"{what}: cannot iterate over a {type_name(coll)}")


# ---- AST ------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    module: Module | None
    env: dict[str, Any] = field(default_factory=dict)

    def bind(self, **names: Any) -> _Ctx:
        return _Ctx(self.module, {**self.env, **names})


class _Node:
    __slots__ = ()

    def ev(self, ctx: _Ctx) -> Any:  # pragma: no cover - every node overrides it
        raise NotImplementedError


class _Lit(_Node):
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def ev(self, ctx: _Ctx) -> Any:
        return self.value


class _Template(_Node):
    """Parts: ``str`` literals, ``_Node`` interpolations, ``_TIf``/``_TFor`` directives."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts

    def ev(self, ctx: _Ctx) -> Any:
        if len(self.parts) == 1 and isinstance(self.parts[0], _Node):
            return self.parts[0].ev(ctx)  # "${x}" is x itself, whatever its type
        return _render(self.parts, ctx)


def _render(parts: list[Any], ctx: _Ctx) -> str:
    out: list[str] = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        else:
            out.append(to_string(_materialize(p.ev(ctx))))
    return "".join(out)


class _TIf(_Node):
    __slots__ = ("cond", "else_", "then")

    def __init__(self, cond: _Node, then: list[Any], else_: list[Any]) -> None:
        self.cond, self.then, self.else_ = cond, then, else_

    def ev(self, ctx: _Ctx) -> Any:
        branch = self.then if _bool(self.cond.ev(ctx), "template if condition") else self.else_
        return _render(branch, ctx)


class _TFor(_Node):
    __slots__ = ("body", "coll", "kvar", "vvar")

    def __init__(self, kvar: str | None, vvar: str, coll: _Node, body: list[Any]) -> None:
        self.kvar, self.vvar, self.coll, self.body = kvar, vvar, coll, body

    def ev(self, ctx: _Ctx) -> Any:
        out = []
        for k, v in _iter_pairs(self.coll.ev(ctx), "template for"):
            names = {self.vvar: v} if self.kvar is None else {self.kvar: k, self.vvar: v}
            out.append(_render(self.body, ctx.bind(**names)))
        return "".join(out)


class _Var(_Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def ev(self, ctx: _Ctx) -> Any:
        if self.name in ctx.env:
            return ctx.env[self.name]
        if ctx.module is None:
            raise HclError(f"{self.name!r} cannot be resolved outside a module")
        return ctx.module._root(self.name)


class _GetAttr(_Node):
    __slots__ = ("name", "obj")

    def __init__(self, obj: _Node, name: str) -> None:
        self.obj, self.name = obj, name

    def ev(self, ctx: _Ctx) -> Any:
        return _get_attr(self.obj.ev(ctx), self.name)


class _Index(_Node):
    __slots__ = ("key", "obj")

    def __init__(self, obj: _Node, key: _Node) -> None:
        self.obj, self.key = obj, key

    def ev(self, ctx: _Ctx) -> Any:
        obj = self.obj.ev(ctx)
        return _get_index(obj, _materialize(self.key.ev(ctx)))


class _Splat(_Node):
    """``src[*].a[0]`` / ``src.*.a``: ops (("attr", name) / ("index", node)) per element."""

    __slots__ = ("ops", "src")

    def __init__(self, src: _Node, ops: list[tuple[str, Any]]) -> None:
        self.src, self.ops = src, ops

    def ev(self, ctx: _Ctx) -> Any:
        src = _materialize(self.src.ev(ctx))
        if src is None:
            return []
        items = list(src) if isinstance(src, list | tuple) else [src]
        out = []
        for item in items:
            v = item
            for kind, arg in self.ops:
                if kind == "attr":
                    v = _get_attr(v, arg)
                else:
                    v = _get_index(v, _materialize(arg.ev(ctx)))
            out.append(v)
        return out


class _Unary(_Node):
    __slots__ = ("op", "x")

    def __init__(self, op: str, x: _Node) -> None:
        self.op, self.x = op, x

    def ev(self, ctx: _Ctx) -> Any:
        v = _materialize(self.x.ev(ctx))
        if self.op == "!":
            return not _bool(v, "operand of !")
        return _norm_num(-_num(v, "operand of unary -"))


def _arith(op: str, a: Any, b: Any) -> Any:
    x, y = _num(a, f"left operand of {op}"), _num(b, f"right operand of {op}")
    if op == "+":
        return _norm_num(x + y)
    if op == "-":
        return _norm_num(x - y)
    if op == "*":
        return _norm_num(x * y)
    if y == 0:
        raise HclError(f"division by zero ({x} {op} 0)")
    if op == "/":
        return _norm_num(x / y)
    return _norm_num(math.fmod(x, y))  # Terraform's % keeps the dividend's sign


def _compare(op: str, a: Any, b: Any) -> bool:
    x, y = _num(a, f"left operand of {op}"), _num(b, f"right operand of {op}")
    return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]


class _Binary(_Node):
    __slots__ = ("a", "b", "op")

    def __init__(self, op: str, a: _Node, b: _Node) -> None:
        self.op, self.a, self.b = op, a, b

    def ev(self, ctx: _Ctx) -> Any:
        op = self.op
        if op == "&&":
            return _bool(self.a.ev(ctx), "left operand of &&") and _bool(
                self.b.ev(ctx), "right operand of &&"
            )
        if op == "||":
            return _bool(self.a.ev(ctx), "left operand of ||") or _bool(
                self.b.ev(ctx), "right operand of ||"
            )
        a, b = _materialize(self.a.ev(ctx)), _materialize(self.b.ev(ctx))
        if op == "==":
            return _equal(a, b)
        if op == "!=":
            return not _equal(a, b)
        if op in ("<", ">", "<=", ">="):
            return _compare(op, a, b)
        return _arith(op, a, b)


class _Cond(_Node):
    __slots__ = ("a", "b", "c")

    def __init__(self, c: _Node, a: _Node, b: _Node) -> None:
        self.c, self.a, self.b = c, a, b

    def ev(self, ctx: _Ctx) -> Any:
        return self.a.ev(ctx) if _bool(self.c.ev(ctx), "condition") else self.b.ev(ctx)


class _Tuple(_Node):
    __slots__ = ("items",)

    def __init__(self, items: list[_Node]) -> None:
        self.items = items

    def ev(self, ctx: _Ctx) -> Any:
        return [x.ev(ctx) for x in self.items]


def _object_key(k: Any) -> str:
    k = _materialize(k)
    if k is None:
        raise HclError("an object key cannot be null")
    return to_string(k)


class _Object(_Node):
    __slots__ = ("items",)

    def __init__(self, items: list[tuple[_Node, _Node]]) -> None:
        self.items = items

    def ev(self, ctx: _Ctx) -> Any:
        out: dict[str, Any] = {}
        for k, v in self.items:
            out[_object_key(k.ev(ctx))] = v.ev(ctx)
        return _sorted_dict(out)


class _For(_Node):
    """``[for k, v in coll : val if cond]`` or ``{for k, v in coll : key => val... if cond}``."""

    __slots__ = ("coll", "cond", "group", "key", "kvar", "val", "vvar")

    def __init__(
        self,
        kvar: str | None,
        vvar: str,
        coll: _Node,
        key: _Node | None,
        val: _Node,
        cond: _Node | None,
        group: bool,
    ) -> None:
        self.kvar, self.vvar, self.coll = kvar, vvar, coll
        self.key, self.val, self.cond, self.group = key, val, cond, group

    def ev(self, ctx: _Ctx) -> Any:
        pairs = _iter_pairs(self.coll.ev(ctx), "for expression")
        tuple_out: list[Any] = []
        obj_out: dict[str, Any] = {}
        for k, v in pairs:
            names = {self.vvar: v} if self.kvar is None else {self.kvar: k, self.vvar: v}
            inner = ctx.bind(**names)
            if self.cond is not None and not _bool(self.cond.ev(inner), "for expression if"):
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
        return tuple_out if self.key is None else _sorted_dict(obj_out)


class _Call(_Node):
    __slots__ = ("args", "expand", "name")

    def __init__(self, name: str, args: list[_Node], expand: bool) -> None:
        self.name, self.args, self.expand = name, args, expand

    def ev(self, ctx: _Ctx) -> Any:
        if self.name in ("try", "can"):
            return self._try_can(ctx)
        fn = _FUNCTIONS.get(self.name)
        if fn is None:
            if self.name in _NOT_SUPPORTED_FUNCTIONS:
                raise NotSupported(f"function {self.name}() is not supported by this evaluator")
            raise HclError(f"unknown function {self.name}()")
        args = [_materialize(a.ev(ctx)) for a in self.args]
        if self.expand:
            last = args.pop() if args else None
            if not isinstance(last, list | tuple):
                raise HclError(
                    f"{self.name}(...): the argument before '...' must be a list, got {type_name(last)}"
                )
            args.extend(_materialize(x) for x in last)
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

    def _try_can(self, ctx: _Ctx) -> Any:
        if self.expand or not self.args:
            raise HclError(f"{self.name}() needs at least one argument, without '...'")
        if self.name == "can":
            if len(self.args) != 1:
                raise HclError("can() takes exactly one argument")
            try:
                _materialize(self.args[0].ev(ctx))
            except Unknown:
                raise
            except HclError:
                return False
            return True
        errors = []
        for a in self.args:
            try:
                return _materialize(a.ev(ctx))
            except Unknown:
                raise
            except HclError as e:
                errors.append(e.message)
        raise HclError("try(): no argument could be evaluated: " + "; ".join(errors))


# ---- Parser ---------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)

    # -- helpers
    def error(self, msg: str, pos: int | None = None) -> ParseError:
        pos = self.i if pos is None else pos
        line_start = self.s.rfind("\n", 0, pos) + 1
        line_end = self.s.find("\n", pos)
        line_end = self.n if line_end < 0 else line_end
        line = self.s[line_start:line_end]
        caret = " " * (pos - line_start) + "^"
        return ParseError(f"{msg} at offset {pos}:\n    {line}\n    {caret}")

    def ws(self) -> None:
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c == "#" or s.startswith("//", self.i):
                j = s.find("\n", self.i)
                self.i = n if j < 0 else j + 1
            elif s.startswith("/*", self.i):
                j = s.find("*/", self.i + 2)
                if j < 0:
                    raise self.error("unterminated /* comment")
                self.i = j + 2
            else:
                break

    def peek(self, tok: str) -> bool:
        return self.s.startswith(tok, self.i)

    def eat(self, tok: str) -> bool:
        self.ws()
        if self.s.startswith(tok, self.i):
            self.i += len(tok)
            return True
        return False

    def expect(self, tok: str, what: str = "") -> None:
        if not self.eat(tok):
            found = self.s[self.i : self.i + 12] or "end of expression"
            raise self.error(f"expected {tok!r}{' ' + what if what else ''}, found {found!r}")

    def ident(self) -> str | None:
        m = _IDENT.match(self.s, self.i)
        if not m:
            return None
        self.i = m.end()
        return m.group()

    def peek_ident(self) -> str | None:
        m = _IDENT.match(self.s, self.i)
        return m.group() if m else None

    def keyword_ahead(self, word: str) -> bool:
        """``word`` as a whole identifier at the current position."""
        return self.peek_ident() == word

    # -- entry points
    def whole_expression(self) -> _Node:
        node = self.expr()
        self.ws()
        if self.i != self.n:
            raise self.error("unexpected text after the expression")
        return node

    def whole_template(self) -> _Node:
        parts, stop = self.template_parts(quoted=False, stops=())
        assert stop is None
        return _Template(parts)

    # -- expressions, lowest precedence first
    def expr(self) -> _Node:
        cond = self.binary(0)
        save = self.i
        self.ws()
        if self.peek("?"):
            self.i += 1
            a = self.expr()
            self.expect(":", "in a conditional")
            b = self.expr()
            return _Cond(cond, a, b)
        self.i = save  # keep the new line visible to an object literal
        return cond

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",),
        ("&&",),
        ("==", "!="),
        ("<=", ">=", "<", ">"),
        ("+", "-"),
        ("*", "/", "%"),
    )

    def binary(self, level: int) -> _Node:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            save = self.i
            self.ws()
            op = self._match_op(self._LEVELS[level])
            if op is None:
                self.i = save
                return left
            self.i += len(op)
            right = self.binary(level + 1)
            left = _Binary(op, left, right)

    def _match_op(self, ops: tuple[str, ...]) -> str | None:
        s, i = self.s, self.i
        for op in ops:
            if not s.startswith(op, i):
                continue
            nxt = s[i + len(op) : i + len(op) + 1]
            if op in ("<", ">") and nxt in ("=", "<"):
                continue
            if op == "<" and nxt == "<":
                continue
            if op == "*" and s.startswith("*]", i):
                continue
            if op in ("+", "-", "*", "/", "%") and nxt == "=":
                continue
            return op
        return None

    def unary(self) -> _Node:
        self.ws()
        if self.peek("!") and not self.peek("!="):
            self.i += 1
            return _Unary("!", self.unary())
        if self.peek("-"):
            self.i += 1
            return _Unary("-", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: _Node) -> _Node:
        while True:
            save = self.i
            self.ws()
            if self.peek("...") or not (self.peek(".") or self.peek("[")):
                self.i = save
                return node
            if self.peek("["):
                self.i += 1
                self.ws()
                if self.peek("*"):
                    self.i += 1
                    self.expect("]", "after [*")
                    return _Splat(node, self._splat_ops(full=True))
                key = self.expr()
                self.expect("]", "to close the index")
                node = _Index(node, key)
                continue
            self.i += 1  # '.'
            self.ws()
            if self.peek("*"):
                self.i += 1
                return _Splat(node, self._splat_ops(full=False))
            m = re.compile(r"[0-9]+").match(self.s, self.i)
            if m:  # legacy index: list.0
                self.i = m.end()
                node = _Index(node, _Lit(int(m.group())))
                continue
            name = self.ident()
            if name is None:
                raise self.error("expected an attribute name after '.'")
            node = _GetAttr(node, name)

    def _splat_ops(self, full: bool) -> list[tuple[str, Any]]:
        ops: list[tuple[str, Any]] = []
        while True:
            save = self.i
            self.ws()
            if self.peek(".") and not self.peek("..."):
                self.i += 1
                self.ws()
                m = re.compile(r"[0-9]+").match(self.s, self.i)
                if m:
                    self.i = m.end()
                    ops.append(("index", _Lit(int(m.group()))))
                    continue
                name = self.ident()
                if name is None:
                    raise self.error("expected an attribute name after '.'")
                ops.append(("attr", name))
            elif full and self.peek("["):
                self.i += 1
                self.ws()
                if self.peek("*"):
                    raise NotSupported("a splat inside a splat is not supported")
                key = self.expr()
                self.expect("]", "to close the index")
                ops.append(("index", key))
            else:
                self.i = save
                return ops

    def primary(self) -> _Node:
        self.ws()
        if self.i >= self.n:
            raise self.error("expected an expression, found the end")
        c = self.s[self.i]
        if c == '"':
            self.i += 1
            parts, _ = self.template_parts(quoted=True, stops=())
            return _Template(parts)
        if c == "<" and self.peek("<<"):
            return self.heredoc()
        if c.isdigit():
            m = _NUMBER.match(self.s, self.i)
            assert m
            self.i = m.end()
            text = m.group()
            return _Lit(_norm_num(float(text)) if re.search(r"[.eE]", text) else int(text))
        if c == "(":
            self.i += 1
            node = self.expr()
            self.expect(")", "to close the parenthesis")
            return node
        if c == "[":
            self.i += 1
            return self.tuple_or_for()
        if c == "{":
            self.i += 1
            return self.object_or_for()
        name = self.ident()
        if name is None:
            raise self.error(f"unexpected character {c!r}")
        if name == "true":
            return _Lit(True)
        if name == "false":
            return _Lit(False)
        if name == "null":
            return _Lit(None)
        if self.peek("::"):
            raise NotSupported(f"namespaced function {name}::... is not supported")
        save = self.i
        self.ws()
        if self.peek("("):
            self.i += 1
            return self.call(name)
        self.i = save
        return _Var(name)

    def call(self, name: str) -> _Node:
        args: list[_Node] = []
        expand = False
        while True:
            self.ws()
            if self.peek(")"):
                self.i += 1
                return _Call(name, args, expand)
            if expand:
                raise self.error("'...' must follow the last argument")
            args.append(self.expr())
            self.ws()
            if self.peek("..."):
                self.i += 3
                expand = True
                self.ws()
            if self.peek(","):
                self.i += 1
            elif not self.peek(")"):
                raise self.error(f"expected ',' or ')' in the arguments of {name}()")

    def _for_header(self) -> tuple[str | None, str, _Node]:
        self.ws()
        self.i += 3  # 'for'
        self.ws()
        first = self.ident()
        if first is None:
            raise self.error("expected a variable name after 'for'")
        kvar: str | None = None
        vvar = first
        if self.eat(","):
            self.ws()
            second = self.ident()
            if second is None:
                raise self.error("expected a second variable name after ','")
            kvar, vvar = first, second
        self.ws()
        if not self.keyword_ahead("in"):
            raise self.error("expected 'in' in a for expression")
        self.i += 2
        coll = self.expr()
        self.expect(":", "after the collection of a for expression")
        return kvar, vvar, coll

    def _for_ahead(self) -> bool:
        self.ws()
        if not self.keyword_ahead("for"):
            return False
        j = self.i + 3
        while j < self.n and self.s[j] in " \t\r\n":
            j += 1
        return j > self.i + 3 and _IDENT.match(self.s, j) is not None

    def _for_if(self) -> _Node | None:
        self.ws()
        if self.keyword_ahead("if"):
            self.i += 2
            return self.expr()
        return None

    def tuple_or_for(self) -> _Node:
        if self._for_ahead():
            kvar, vvar, coll = self._for_header()
            val = self.expr()
            cond = self._for_if()
            self.expect("]", "to close the for expression")
            return _For(kvar, vvar, coll, None, val, cond, False)
        items: list[_Node] = []
        while True:
            self.ws()
            if self.peek("]"):
                self.i += 1
                return _Tuple(items)
            items.append(self.expr())
            self.ws()
            if self.peek(","):
                self.i += 1
            elif not self.peek("]"):
                raise self.error("expected ',' or ']' in a tuple")

    def object_or_for(self) -> _Node:
        if self._for_ahead():
            kvar, vvar, coll = self._for_header()
            key = self.expr()
            self.expect("=>", "in an object for expression")
            val = self.expr()
            group = self.eat("...")
            cond = self._for_if()
            self.expect("}", "to close the for expression")
            return _For(kvar, vvar, coll, key, val, cond, group)
        items: list[tuple[_Node, _Node]] = []
        while True:
            self.ws()
            if self.peek("}"):
                self.i += 1
                return _Object(items)
            key = self.object_key()
            self.ws()
            if (self.peek("=") and not self.peek("==") and not self.peek("=>")) or self.peek(":"):
                self.i += 1
            else:
                raise self.error("expected '=' or ':' after an object key")
            items.append((key, self.expr()))
            start = self.i
            self.ws()
            if self.peek(","):
                self.i += 1
            elif not self.peek("}") and "\n" not in self.s[start : self.i]:
                raise self.error("expected ',', a new line or '}' in an object")

    def object_key(self) -> _Node:
        name = self.peek_ident()
        if name is not None:
            j = self.i + len(name)
            while j < self.n and self.s[j] in " \t":
                j += 1
            rest = self.s[j : j + 2]
            if rest[:1] == ":" or (rest[:1] == "=" and rest not in ("==", "=>")):
                self.i += len(name)
                return _Lit(name)  # a bare name is the key itself, not a reference
        return self.expr()

    def heredoc(self) -> _Node:
        m = _HEREDOC.match(self.s, self.i)
        if not m:
            raise self.error("malformed heredoc (expected <<MARKER and a new line)")
        flush, marker = m.group(1) == "-", m.group(2)
        lines_start = m.end()
        pos = lines_start
        lines: list[str] = []
        while True:
            if pos >= self.n:
                raise self.error(f"heredoc not closed by {marker}", m.start())
            end = self.s.find("\n", pos)
            end = self.n if end < 0 else end
            line = self.s[pos:end]
            if line.strip() == marker:
                self.i = end
                break
            lines.append(line)
            pos = end + 1
        if flush:
            indents = [len(x) - len(x.lstrip(" \t")) for x in lines if x.strip()]
            cut = min(indents, default=0)
            lines = [x[cut:] for x in lines]
        body = "".join(x + "\n" for x in lines)
        sub = _Parser(body)
        try:
            return sub.whole_template()
        except ParseError as e:
            raise self.error(f"in heredoc {marker}: {e.message}", m.start()) from None

    # -- templates
    def template_parts(self, quoted: bool, stops: tuple[str, ...]) -> tuple[list[Any], str | None]:
        """Parse template content up to the closing quote (quoted), the end of the text, or
        a ``%{ <stop> }`` directive; returns the parts and which stop ended them."""
        s = self.s
        parts: list[Any] = []
        buf: list[str] = []
        strip_next = False

        def flush() -> None:
            nonlocal strip_next
            text = "".join(buf)
            buf.clear()
            if strip_next:
                text = text.lstrip()
                strip_next = False
            if text:
                parts.append(text)

        def strip_last() -> None:
            if buf:
                joined = "".join(buf).rstrip()
                buf.clear()
                buf.append(joined)

        while True:
            if self.i >= self.n:
                if quoted:
                    raise self.error("unterminated string (missing closing quote)")
                if stops:
                    raise self.error(f"template directive not closed (expected %{{{stops[-1]}}})")
                flush()
                return parts, None
            c = s[self.i]
            if quoted and c == '"':
                self.i += 1
                flush()
                return parts, None
            if quoted and c == "\n":
                raise self.error("a quoted string cannot contain a new line")
            if quoted and c == "\\":
                buf.append(self._escape())
                continue
            if s.startswith("$${", self.i):
                buf.append("${")
                self.i += 3
                continue
            if s.startswith("%%{", self.i):
                buf.append("%{")
                self.i += 3
                continue
            if s.startswith("${", self.i):
                self.i += 2
                if self.peek("~"):
                    self.i += 1
                    strip_last()
                flush()
                node = self.expr()
                self.ws()
                if self.peek("~"):
                    self.i += 1
                    strip_next = True
                self.expect("}", "to close the interpolation")
                parts.append(node)
                continue
            if s.startswith("%{", self.i):
                self.i += 2
                if self.peek("~"):
                    self.i += 1
                    strip_last()
                flush()
                self.ws()
                word = self.peek_ident()
                if word in stops:
                    self.i += len(word)
                    return parts, word
                if word == "if":
                    parts.append(self._template_if(quoted))
                elif word == "for":
                    parts.append(self._template_for(quoted))
                else:
                    raise self.error(f"unexpected template directive %{{{word}}}")
                strip_next = self._directive_end_strip
                continue
            buf.append(c)
            self.i += 1

    _directive_end_strip = False

    def _close_directive(self) -> None:
        self.ws()
        strip = False
        if self.peek("~"):
            self.i += 1
            strip = True
        self.expect("}", "to close the template directive")
        self._directive_end_strip = strip

    def _template_if(self, quoted: bool) -> _Node:
        self.i += 2  # 'if'
        cond = self.expr()
        self._close_directive()
        then, stop = self._directive_body(quoted, ("else", "endif"))
        else_: list[Any] = []
        if stop == "else":
            self._close_directive()
            else_, _ = self._directive_body(quoted, ("endif",))
        self._close_directive()
        return _TIf(cond, then, else_)

    def _template_for(self, quoted: bool) -> _Node:
        self.i += 3  # 'for'
        self.ws()
        first = self.ident()
        if first is None:
            raise self.error("expected a variable name in %{for}")
        kvar, vvar = None, first
        if self.eat(","):
            self.ws()
            second = self.ident()
            if second is None:
                raise self.error("expected a second variable name in %{for}")
            kvar, vvar = first, second
        self.ws()
        if not self.keyword_ahead("in"):
            raise self.error("expected 'in' in %{for}")
        self.i += 2
        coll = self.expr()
        self._close_directive()
        body, _ = self._directive_body(quoted, ("endfor",))
        self._close_directive()
        return _TFor(kvar, vvar, coll, body)

    def _directive_body(self, quoted: bool, stops: tuple[str, ...]) -> tuple[list[Any], str]:
        strip = self._directive_end_strip
        parts, stop = self.template_parts(quoted, stops)
        if strip and parts and isinstance(parts[0], str):
            parts[0] = parts[0].lstrip()
            if not parts[0]:
                parts.pop(0)
        if stop is None:  # pragma: no cover - template_parts raises first
            raise self.error(f"expected %{{{stops[-1]}}}")
        return parts, stop

    def _escape(self) -> str:
        s = self.s
        if self.i + 1 >= self.n:
            raise self.error("a string cannot end with a backslash")
        c = s[self.i + 1]
        if c in _ESCAPES:
            self.i += 2
            return _ESCAPES[c]
        if c in "uU":
            width = 4 if c == "u" else 8
            digits = s[self.i + 2 : self.i + 2 + width]
            if len(digits) != width or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
                raise self.error(f"\\{c} needs {width} hex digits")
            self.i += 2 + width
            return chr(int(digits, 16))
        raise self.error(f"unknown escape sequence \\{c}")


_PARSE_CACHE: dict[str, _Node] = {}


def parse_expression(text: str) -> _Node:
    """Parse HCL expression text as python-hcl2 gives it (or as written in a .tf file):
    ``'${expr}'`` (a wrapped expression), ``'"a ${b}"'`` (a quoted template),
    ``'"<<EOT\\n...\\nEOT"'`` (a heredoc hcl2 put in quotes) or a bare expression."""
    node = _PARSE_CACHE.get(text)
    if node is not None:
        return node
    if text.startswith("${"):
        node = _Parser(text).whole_template()
    elif text.startswith('"<<') and text.endswith('"') and _HEREDOC.match(text, 1):
        node = _Parser(text[1:-1]).whole_expression()
    else:
        node = _Parser(text).whole_expression()
    _PARSE_CACHE[text] = node
    return node


def _value_node(v: Any) -> _Node:
    """A python-hcl2 value (expression text, number, bool, None, list, dict) as a node."""
    if isinstance(v, str):
        return parse_expression(v)
    if v is None or isinstance(v, bool | int | float):
        return _Lit(_norm_num(v) if isinstance(v, float) else v)
    if isinstance(v, list):
        return _Tuple([_value_node(x) for x in v])
    if isinstance(v, dict):
        items = []
        for k, x in v.items():
            if k.startswith("__"):
                continue
            key = _Lit(k) if _IDENT.fullmatch(k) else parse_expression(k)
            items.append((key, _value_node(x)))
        return _Object(items)
    raise ParseError(f"unexpected value from python-hcl2: {v!r}")


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, default=str)


# ---- Functions ------------------------------------------------------------------------------


def _check_map(v: Any, fn: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise HclError(f"{fn}() needs a map or object, got {type_name(v)}")
    return v


def _check_list(v: Any, fn: str) -> list[Any]:
    if not isinstance(v, list | tuple):
        raise HclError(f"{fn}() needs a list, tuple or set, got {type_name(v)}")
    return list(v)


def _f_merge(_: _Ctx, *maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in maps:
        if m is None:
            continue
        out.update(_check_map(m, "merge"))
    return _sorted_dict(out)


def _f_lookup(_: _Ctx, m: Any, key: Any, *default: Any) -> Any:
    m = _check_map(m, "lookup")
    k = to_string(key)
    if k in m:
        return m[k]
    if default:
        return default[0]
    raise HclError(f"lookup(): key {k!r} not found and no default given")


def _f_length(_: _Ctx, v: Any) -> int:
    if isinstance(v, str | list | tuple | dict):
        return len(v)
    raise HclError(f"length() needs a string, collection or object, got {type_name(v)}")


def _f_tostring(_: _Ctx, v: Any) -> str | None:
    return None if v is None else to_string(v)


def _f_tonumber(_: _Ctx, v: Any) -> int | float | None:
    return None if v is None else _num(v, "tonumber() argument")


def _f_tobool(_: _Ctx, v: Any) -> bool | None:
    return None if v is None else _bool(v, "tobool() argument")


def _f_toset(_: _Ctx, v: Any) -> HclSet:
    return HclSet.of(_check_list(v, "toset"))


def _f_tolist(_: _Ctx, v: Any) -> list[Any]:
    return _check_list(v, "tolist")


def _f_tomap(_: _Ctx, v: Any) -> dict[str, Any]:
    return _check_map(v, "tomap")


def _f_concat(_: _Ctx, *lists: Any) -> list[Any]:
    out: list[Any] = []
    for x in lists:
        out.extend(_check_list(x, "concat"))
    return out


def _f_contains(_: _Ctx, coll: Any, value: Any) -> bool:
    return any(_equal(x, value) for x in _check_list(coll, "contains"))


def _f_join(_: _Ctx, sep: Any, *lists: Any) -> str:
    items: list[str] = []
    for x in lists:
        items.extend(to_string(e) for e in _check_list(x, "join"))
    return to_string(sep).join(items)


def _f_coalesce(_: _Ctx, *args: Any) -> Any:
    for a in args:
        if a is not None and a != "":
            return a
    raise HclError("coalesce(): every argument is null or an empty string")


def _f_flatten(_: _Ctx, v: Any) -> list[Any]:
    out: list[Any] = []
    for x in _check_list(v, "flatten"):
        if isinstance(x, list | tuple):
            out.extend(_f_flatten(_, x))
        else:
            out.append(x)
    return out


def _f_distinct(_: _Ctx, v: Any) -> list[Any]:
    out: list[Any] = []
    for x in _check_list(v, "distinct"):
        if not any(_equal(x, y) for y in out):
            out.append(x)
    return out


def _f_setproduct(_: _Ctx, *colls: Any) -> Any:
    if not colls:
        raise HclError("setproduct() needs at least one collection")
    lists = [_check_list(c, "setproduct") for c in colls]
    combos: list[list[Any]] = [[]]
    for items in lists:
        combos = [[*c, x] for c in combos for x in items]
    if all(isinstance(c, HclSet) for c in colls):
        return HclSet.of(combos)
    return combos


def _f_format(_: _Ctx, fmt: Any, *args: Any) -> str:
    fmt = to_string(fmt)
    out: list[str] = []
    pos = 0
    argi = 0
    for m in re.finditer(r"%(?:\[(\d+)\])?([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])", fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        explicit, flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if explicit:
            argi = int(explicit) - 1
        if argi >= len(args):
            raise HclError(f"format(): not enough arguments for {m.group()!r}")
        arg = args[argi]
        argi += 1
        spec = "%" + (flags or "") + (width or "") + (f".{prec}" if prec else "")
        if verb in ("s", "v") and isinstance(arg, list | tuple | dict):
            out.append((spec + "s") % json.dumps(_plain(arg), separators=(",", ":")))
        elif verb in ("s", "v"):
            out.append((spec + "s") % to_string(arg))
        elif verb == "q":
            out.append((spec + "s") % json.dumps(to_string(arg)))
        elif verb == "t":
            out.append((spec + "s") % to_string(_bool(arg, "format %t argument")))
        elif verb in "dxXo":
            n = _num(arg, f"format %{verb} argument")
            if not isinstance(n, int):
                raise HclError(f"format(): %{verb} needs a whole number, got {n}")
            out.append((spec + verb) % n)
        elif verb in "feEgG":
            out.append((spec + verb) % _num(arg, f"format %{verb} argument"))
        else:
            raise HclError(f"format(): unsupported verb %{verb}")
    out.append(fmt[pos:])
    return "".join(out)


def _go_regex(pattern: str) -> re.Pattern[str]:
    """RE2 syntax as Python's re reads it (the common subset; ``\\z`` is ``\\Z`` here)."""
    return re.compile(pattern.replace("\\z", "\\Z"))


def _f_replace(_: _Ctx, s: Any, old: Any, new: Any) -> str:
    s, old, new = to_string(s), to_string(old), to_string(new)
    if len(old) >= 2 and old.startswith("/") and old.endswith("/"):
        rx = _go_regex(old[1:-1])
        repl = re.sub(r"\$(\d+|\{(\w+)\})", lambda m: f"\\g<{m.group(2) or m.group(1)}>", new)
        return rx.sub(repl, s)
    return s.replace(old, new)


def _f_regex(_: _Ctx, pattern: Any, s: Any) -> Any:
    rx = _go_regex(to_string(pattern))
    m = rx.search(to_string(s))
    if m is None:
        raise HclError("regex(): pattern did not match")
    return _regex_result(rx, m)


def _regex_result(rx: re.Pattern[str], m: re.Match[str]) -> Any:
    if rx.groupindex:
        return _sorted_dict(m.groupdict())
    if rx.groups:
        return list(m.groups())
    return m.group()


def _f_regexall(_: _Ctx, pattern: Any, s: Any) -> list[Any]:
    rx = _go_regex(to_string(pattern))
    return [_regex_result(rx, m) for m in rx.finditer(to_string(s))]


def _module_dir(ctx: _Ctx) -> Path:
    return ctx.module.directory if ctx.module is not None else Path.cwd()


def _resolve(ctx: _Ctx, path: Any) -> Path:
    p = Path(to_string(path))
    return p if p.is_absolute() else _module_dir(ctx) / p


def _f_abspath(ctx: _Ctx, path: Any) -> str:
    return os.path.abspath(_resolve(ctx, path))


def _f_fileset(ctx: _Ctx, path: Any, pattern: Any) -> HclSet:
    root = _resolve(ctx, path)
    if not root.is_dir():
        return HclSet()
    found = glob.glob(to_string(pattern), root_dir=root, recursive=True, include_hidden=True)
    return HclSet.of(f.replace(os.sep, "/") for f in found if (root / f).is_file())


def _f_file(ctx: _Ctx, path: Any) -> str:
    p = _resolve(ctx, path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HclError(f"file(): no file {p}") from None


def _f_jsonencode(_: _Ctx, v: Any) -> str:
    text = json.dumps(_plain(v), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text


def _f_jsondecode(_: _Ctx, s: Any) -> Any:
    return _from_python(json.loads(to_string(s)))


def _f_range(_: _Ctx, *args: Any) -> list[Any]:
    nums = [_num(a, "range() argument") for a in args]
    if len(nums) == 1:
        start, stop, step = 0, nums[0], 1
    elif len(nums) == 2:
        start, stop, step = nums[0], nums[1], 1 if nums[1] >= nums[0] else -1
    elif len(nums) == 3:
        start, stop, step = nums
    else:
        raise HclError("range() takes 1 to 3 arguments")
    if step == 0:
        raise HclError("range(): step cannot be 0")
    out = []
    x = start
    while (x < stop) if step > 0 else (x > stop):
        out.append(_norm_num(x))
        x += step
    return out


def _f_substr(_: _Ctx, s: Any, offset: Any, length: Any) -> str:
    s = to_string(s)
    off, ln = int(_num(offset)), int(_num(length))
    if off < 0:
        off = max(0, len(s) + off)
    return s[off:] if ln < 0 else s[off : off + ln]


def _f_element(_: _Ctx, v: Any, i: Any) -> Any:
    items = _check_list(v, "element")
    if not items:
        raise HclError("element(): the list is empty")
    return items[int(_num(i)) % len(items)]


def _f_index(_: _Ctx, v: Any, value: Any) -> int:
    for i, x in enumerate(_check_list(v, "index")):
        if _equal(x, value):
            return i
    raise HclError("index(): value not found")


def _f_one(_: _Ctx, v: Any) -> Any:
    items = _check_list(v, "one")
    if len(items) > 1:
        raise HclError(f"one(): the collection has {len(items)} elements")
    return items[0] if items else None


def _f_zipmap(_: _Ctx, ks: Any, vs: Any) -> dict[str, Any]:
    keys, vals = _check_list(ks, "zipmap"), _check_list(vs, "zipmap")
    if len(keys) != len(vals):
        raise HclError("zipmap(): keys and values differ in length")
    return _sorted_dict({to_string(k): v for k, v in zip(keys, vals, strict=True)})


def _f_alltrue(_: _Ctx, v: Any) -> bool:
    return all(_bool(x, "alltrue() element") for x in _check_list(v, "alltrue"))


def _f_anytrue(_: _Ctx, v: Any) -> bool:
    return any(_bool(x, "anytrue() element") for x in _check_list(v, "anytrue"))


def _f_sum(_: _Ctx, v: Any) -> int | float:
    items = _check_list(v, "sum")
    if not items:
        raise HclError("sum(): the list is empty")
    return _norm_num(sum(_num(x) for x in items))


def _f_split(_: _Ctx, sep: Any, s: Any) -> list[str]:
    s = to_string(s)
    return s.split(to_string(sep)) if s else [""]


def _f_trim(_: _Ctx, s: Any, chars: Any) -> str:
    return to_string(s).strip(to_string(chars))


def _f_minmax(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def f(_: _Ctx, *args: Any) -> Any:
        if not args:
            raise HclError(f"{name}() needs at least one number")
        return _norm_num(fn(_num(a, f"{name}() argument") for a in args))

    return f


def _f_templatefile(_: _Ctx, *args: Any) -> Any:
    raise NotSupported("templatefile() is not supported by this evaluator")


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    # numbers
    "max": _f_minmax(max, "max"),
    "min": _f_minmax(min, "min"),
    "floor": lambda _, x: math.floor(_num(x)),
    "ceil": lambda _, x: math.ceil(_num(x)),
    "abs": lambda _, x: _norm_num(abs(_num(x))),
    "pow": lambda _, x, y: _norm_num(float(_num(x)) ** _num(y)),
    "signum": lambda _, x: (_num(x) > 0) - (_num(x) < 0),
    "log": lambda _, x, b: _norm_num(math.log(_num(x), _num(b))),
    "parseint": lambda _, s, base: int(to_string(s), int(_num(base))),
    "sum": _f_sum,
    # conversion
    "tostring": _f_tostring,
    "tonumber": _f_tonumber,
    "tobool": _f_tobool,
    "toset": _f_toset,
    "tolist": _f_tolist,
    "tomap": _f_tomap,
    "sensitive": lambda _, v: v,
    "nonsensitive": lambda _, v: v,
    # collections
    "merge": _f_merge,
    "keys": lambda _, m: list(_check_map(m, "keys")),
    "values": lambda _, m: list(_check_map(m, "values").values()),
    "lookup": _f_lookup,
    "concat": _f_concat,
    "contains": _f_contains,
    "length": _f_length,
    "flatten": _f_flatten,
    "distinct": _f_distinct,
    "setproduct": _f_setproduct,
    "coalesce": _f_coalesce,
    "coalescelist": lambda _, *ls: next((x for x in ls if _check_list(x, "coalescelist")), []),
    "compact": lambda _, v: [x for x in _check_list(v, "compact") if x is not None and x != ""],
    "element": _f_element,
    "index": _f_index,
    "one": _f_one,
    "range": _f_range,
    "reverse": lambda _, v: list(reversed(_check_list(v, "reverse"))),
    "slice": lambda _, v, a, b: _check_list(v, "slice")[int(_num(a)) : int(_num(b))],
    "sort": lambda _, v: sorted(to_string(x) for x in _check_list(v, "sort")),
    "zipmap": _f_zipmap,
    "alltrue": _f_alltrue,
    "anytrue": _f_anytrue,
    # strings
    "join": _f_join,
    "split": _f_split,
    "format": _f_format,
    "lower": lambda _, s: to_string(s).lower(),
    "upper": lambda _, s: to_string(s).upper(),
    "title": lambda _, s: re.sub(r"\b[a-z]", lambda m: m.group().upper(), to_string(s)),
    "replace": _f_replace,
    "regex": _f_regex,
    "regexall": _f_regexall,
    "startswith": lambda _, s, p: to_string(s).startswith(to_string(p)),
    "endswith": lambda _, s, p: to_string(s).endswith(to_string(p)),
    "strcontains": lambda _, s, p: to_string(p) in to_string(s),
    "substr": _f_substr,
    "trimprefix": lambda _, s, p: to_string(s).removeprefix(to_string(p)),
    "trimsuffix": lambda _, s, p: to_string(s).removesuffix(to_string(p)),
    "trimspace": lambda _, s: to_string(s).strip(),
    "trim": _f_trim,
    "chomp": lambda _, s: re.sub(r"(\r\n|\n|\r)+$", "", to_string(s)),
    # encoding
    "jsonencode": _f_jsonencode,
    "jsondecode": _f_jsondecode,
    "base64encode": lambda _, s: base64.b64encode(to_string(s).encode()).decode(),
    "base64decode": lambda _, s: base64.b64decode(to_string(s)).decode(),
    "md5": lambda _, s: hashlib.md5(to_string(s).encode()).hexdigest(),
    "sha1": lambda _, s: hashlib.sha1(to_string(s).encode()).hexdigest(),
    "sha256": lambda _, s: hashlib.sha256(to_string(s).encode()).hexdigest(),
    # files
    "abspath": _f_abspath,
    "basename": lambda _, p: os.path.basename(to_string(p)),
    "dirname": lambda _, p: os.path.dirname(to_string(p)),
    "fileset": _f_fileset,
    "file": _f_file,
    "fileexists": lambda ctx, p: _resolve(ctx, p).is_file(),
    "templatefile": _f_templatefile,
}

# Valid Terraform, deliberately not evaluated (values known only at apply, or side effects).
_NOT_SUPPORTED_FUNCTIONS = {
    "timestamp",
    "plantimestamp",
    "uuid",
    "uuidv5",
    "bcrypt",
    "filebase64",
    "filebase64sha256",
    "filesha256",
    "filemd5",
    "yamlencode",
    "yamldecode",
    "csvdecode",
    "cidrsubnet",
    "cidrhost",
    "cidrnetmask",
    "cidrsubnets",
    "rsadecrypt",
    "textencodebase64",
    "textdecodebase64",
    "transpose",
    "matchkeys",
    "chunklist",
    "formatlist",
    "formatdate",
    "timeadd",
    "timecmp",
    "type",
    "issensitive",
    "ephemeralasnull",
    "urlencode",
    "pathexpand",
    "strrev",
    "indent",
    "setintersection",
    "setsubtract",
    "setunion",
    "keys_of",
}


# ---- Configuration --------------------------------------------------------------------------


@dataclass
class Attr:
    """One attribute as written: where it is and its parsed expression."""

    name: str
    raw: Any
    file: str
    where: str
    _node: _Node | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return _text(self.raw)

    @property
    def node(self) -> _Node:
        if self._node is None:
            try:
                self._node = _value_node(self.raw)
            except HclError as e:
                raise e.add_context(self.location()) from None
        return self._node

    def location(self) -> str:
        return f"{self.file}: {self.where}: {self.name} = {self.text}"

    def evaluate(self, ctx: _Ctx) -> Any:
        try:
            return self.node.ev(ctx)
        except HclError as e:
            raise e.add_context(self.location()) from None
        except RecursionError:
            raise HclError("expression nested too deeply").add_context(self.location()) from None


@dataclass
class _Dynamic:
    type: str
    for_each: Attr
    iterator: str
    content: _Body


@dataclass
class _Body:
    """A block body: attributes and nested blocks (static and dynamic), unevaluated."""

    file: str
    where: str
    attrs: dict[str, Attr] = field(default_factory=dict)
    blocks: dict[str, list[_Body]] = field(default_factory=dict)
    dynamic: dict[str, list[_Dynamic]] = field(default_factory=dict)
    labels: tuple[str, ...] = ()


def _unquote(label: str) -> str:
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
        labels.append(_unquote(keys[0]))
        d = d[keys[0]]
    return (tuple(labels), d) if _is_block(d) and labels else None


def _is_block_list(v: Any) -> bool:
    return (
        isinstance(v, list) and bool(v) and all(_is_block(x) or _labeled(x) is not None for x in v)
    )


_META_ATTRS = {"depends_on", "provider", "for_each", "count"}
_META_BLOCKS = {"lifecycle", "provisioner", "connection", "precondition", "postcondition"}


def _parse_body(d: dict[str, Any], file: str, where: str, labels: tuple[str, ...] = ()) -> _Body:
    body = _Body(file=file, where=where, labels=labels)
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
                    if not isinstance(iterator, str) or not _IDENT.fullmatch(iterator):
                        raise ParseError(f"{file}: {dwhere}: iterator must be a name, got {it!r}")
                content = _parse_body(inner["content"][0], file, f"{dwhere} content")
                dyn = _Dynamic(
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
                nested = _parse_body(inner, file, f"{where} {k}{suffix}", blabels)
                body.blocks.setdefault(k, []).append(nested)
            continue
        body.attrs[k] = Attr(k, v, file, where)
    return body


@dataclass
class _Resource:
    mode: str  # "managed" or "data"
    type: str
    name: str
    body: _Body

    @property
    def address(self) -> str:
        return f"{'data.' if self.mode == 'data' else ''}{self.type}.{self.name}"


def _key_repr(key: Any) -> str:
    return f"[{key}]" if isinstance(key, int) else f"[{json.dumps(key)}]"


# ---- Evaluated views ------------------------------------------------------------------------

_MISSING: Any = object()


class _View(_Lazy):
    """A block body seen from one scope (an instance's each/count, dynamic iterators)."""

    def __init__(
        self, module: Module, instance: Instance | None, body: _Body, env: dict[str, Any], path: str
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
        return [n for n in self._body.attrs if n not in _META_ATTRS]

    def block_names(self) -> list[str]:
        names = [*self._body.blocks, *self._body.dynamic]
        return [n for n in dict.fromkeys(names) if n not in _META_BLOCKS]

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
            value = a.evaluate(_Ctx(self._module, self._env))
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
            coll = _materialize(dyn.for_each.evaluate(_Ctx(self._module, self._env)))
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
        if name in self._body.attrs and name not in _META_ATTRS:
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


class Instance(_View):
    """One instance of a resource or data source (one for_each key, one count index)."""

    def __init__(self, module: Module, res: _Resource, key: Any, env: dict[str, Any]) -> None:
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
        return base if self.key is None else base + _key_repr(self.key)

    @property
    def project(self) -> str:
        """The instance's own ``project`` argument, else the module's default project."""
        if self.has("project"):
            return to_string(self.attr("project"))
        return self._module.project

    def __repr__(self) -> str:
        return f"<Instance {self.address}>"


class Block(_View):
    """A nested block of an instance, evaluated in the instance's scope."""

    def __init__(
        self,
        module: Module,
        instance: Instance | None,
        body: _Body,
        env: dict[str, Any],
        path: str,
        parent: _View,
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


class _Collection(_Lazy):
    """``google_x.name``: one instance, or a map/list of them (for_each/count)."""

    def __init__(self, module: Module, res: _Resource) -> None:
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
        k = _num(key, "count index") if "count" in self._res.body.attrs else to_string(key)
        if k not in insts:
            have = ", ".join(json.dumps(x) for x in insts) or "none"
            raise HclError(
                f"{self._res.address} has no instance {_key_repr(k)} (instances: {have})"
            )
        return insts[k]

    def hcl_value(self) -> Any:
        insts = self._instances()
        if "count" in self._res.body.attrs:
            return list(insts.values())
        if "for_each" in self._res.body.attrs:
            return dict(insts)
        return insts[None]


class _TypeNamespace(_Lazy):
    def __init__(self, module: Module, mode: str, type_: str) -> None:
        self._module, self._mode, self._type = module, mode, type_

    def describe(self) -> str:
        return ("data." if self._mode == "data" else "") + self._type

    def hcl_attr(self, name: str) -> Any:
        res = self._module._lookup(self._mode, self._type, name)
        return _Collection(self._module, res)


class _DataNamespace(_Lazy):
    def __init__(self, module: Module) -> None:
        self._module = module

    def describe(self) -> str:
        return "data"

    def hcl_attr(self, name: str) -> Any:
        if not any(
            r.type == name for (m, _t, _n), r in self._module._resources.items() if m == "data"
        ):
            raise HclError(f"no data source of type {name!r} in this module")
        return _TypeNamespace(self._module, "data", name)


class _NameSpace(_Lazy):
    def __init__(self, label: str, getter: Callable[[str], Any]) -> None:
        self._label, self._get = label, getter

    def describe(self) -> str:
        return self._label

    def hcl_attr(self, name: str) -> Any:
        return self._get(name)


# ---- Computed attributes --------------------------------------------------------------------


def _sa_email(i: Instance) -> str:
    return f"{to_string(i.attr('account_id'))}@{i.project}.iam.gserviceaccount.com"


def _fn_uri(i: Instance) -> str:
    return f"https://{to_string(i.attr('name'))}-{i.project}.run.app"


# (kind, attribute path) -> value. kind is the resource type, or "data.<type>"; a nested
# block's attribute is "block.attr" (service_config[0].uri -> "service_config.uri").
COMPUTED: dict[tuple[str, str], Callable[[Instance], Any]] = {
    ("google_pubsub_topic", "id"): lambda i: f"projects/{i.project}/topics/{i.attr('name')}",
    ("google_pubsub_subscription", "id"): (
        lambda i: f"projects/{i.project}/subscriptions/{i.attr('name')}"
    ),
    ("google_service_account", "email"): _sa_email,
    ("google_service_account", "member"): lambda i: f"serviceAccount:{_sa_email(i)}",
    ("google_service_account", "id"): lambda i: (
        f"projects/{i.project}/serviceAccounts/{_sa_email(i)}"
    ),
    ("google_service_account", "name"): (
        lambda i: f"projects/{i.project}/serviceAccounts/{_sa_email(i)}"
    ),
    ("google_bigquery_dataset", "id"): (
        lambda i: f"projects/{i.project}/datasets/{i.attr('dataset_id')}"
    ),
    ("google_storage_bucket", "id"): lambda i: i.attr("name"),
    ("google_storage_bucket", "url"): lambda i: f"gs://{i.attr('name')}",
    ("google_cloudfunctions2_function", "service_config.uri"): _fn_uri,
    ("google_cloudfunctions2_function", "url"): _fn_uri,
    ("google_cloudfunctions2_function", "id"): (
        lambda i: f"projects/{i.project}/locations/{i.attr('location')}/functions/{i.attr('name')}"
    ),
    ("google_secret_manager_secret", "id"): (
        lambda i: f"projects/{i.project}/secrets/{i.attr('secret_id')}"
    ),
    ("google_secret_manager_secret", "name"): (
        lambda i: f"projects/{PROJECT_NUMBER_PLACEHOLDER}/secrets/{i.attr('secret_id')}"
    ),
    ("data.google_project", "number"): lambda i: PROJECT_NUMBER_PLACEHOLDER,
    ("data.google_project", "project_id"): lambda i: i.project,
}


# ---- Module ---------------------------------------------------------------------------------


@dataclass
class _Variable:
    name: str
    body: _Body

    def type_text(self) -> str:
        t = self.body.attrs.get("type")
        if t is None or not isinstance(t.raw, str):
            return "any"
        raw = t.raw
        return raw[2:-1] if raw.startswith("${") else raw


def _convert_override(var: _Variable, value: Any) -> Any:
    value = _from_python(value)
    t = var.type_text()
    try:
        if t == "number" and isinstance(value, str):
            return _num(value)
        if t == "string" and isinstance(value, int | float | bool):
            return to_string(value)
        if t == "bool" and isinstance(value, str):
            return _bool(value)
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
        self._resources: dict[tuple[str, str, str], _Resource] = {}
        self._providers: dict[str, _Body] = {}
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
                        vname = _unquote(label)
                        where = f'variable "{vname}"'
                        self._variables[vname] = _Variable(vname, _parse_body(body, name, where))
                elif kind in ("resource", "data"):
                    mode = "managed" if kind == "resource" else "data"
                    for tlabel, named in item.items():
                        if tlabel.startswith("__"):
                            continue
                        rtype = _unquote(tlabel)
                        for nlabel, body in named.items():
                            if nlabel.startswith("__"):
                                continue
                            rname = _unquote(nlabel)
                            where = f'{kind} "{rtype}" "{rname}"'
                            key = (mode, rtype, rname)
                            if key in self._resources:
                                raise HclError(f"{name}: {where} is declared twice")
                            self._resources[key] = _Resource(
                                mode, rtype, rname, _parse_body(body, name, where)
                            )
                elif kind == "output":
                    for label, body in item.items():
                        if label.startswith("__"):
                            continue
                        oname = _unquote(label)
                        if "value" in body:
                            self._outputs[oname] = Attr(
                                "value", body["value"], name, f'output "{oname}"'
                            )
                elif kind == "provider":
                    for label, body in item.items():
                        if label.startswith("__"):
                            continue
                        pbody = _parse_body(body, name, f'provider "{_unquote(label)}"')
                        if "alias" not in pbody.attrs:
                            self._providers[_unquote(label)] = pbody
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
            env["each"] = {"key": _from_python(k), "value": _from_python(v)}
        attr = Attr("expression", expr_text, "<eval>", "Module.eval")
        return _materialize_top(attr.evaluate(_Ctx(self, env)))

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
            value = v.body.attrs["default"].evaluate(_Ctx(None))
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
            value = a.evaluate(_Ctx(self))
        finally:
            self._local_stack.pop()
        self._local_cache[name] = value
        return value

    def output(self, name: str) -> Any:
        a = self._outputs.get(name)
        if a is None:
            raise HclError(f"undeclared output {name!r}")
        return _materialize_top(a.evaluate(_Ctx(self)))

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
            return to_string(p.attrs["project"].evaluate(_Ctx(self)))
        return to_string(self.var("project_id"))

    # -- internals
    def _lookup(self, mode: str, type_: str, name: str) -> _Resource:
        res = self._resources.get((mode, type_, name))
        if res is None:
            kind = "data source" if mode == "data" else "resource"
            prefix = "data." if mode == "data" else ""
            raise HclError(f"no {kind} {prefix}{type_}.{name} in this module")
        return res

    def _instances(self, res: _Resource) -> dict[Any, Instance]:
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
            coll = _materialize(fe.evaluate(_Ctx(self)))
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
            n = _num(_materialize(c.evaluate(_Ctx(self))), "count")
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
            return _NameSpace("var", self.var)
        if name == "local":
            return _NameSpace("local", self.local)
        if name == "path":
            d = str(self.directory)
            return {"module": d, "root": d, "cwd": d}
        if name == "terraform":
            return {"workspace": "default"}
        if name == "data":
            return _DataNamespace(self)
        if name in ("each", "count"):
            raise HclError(
                f"{name} is only valid inside a resource with {'for_each' if name == 'each' else 'count'}"
            )
        if name == "self":
            raise NotSupported("self is not supported (provisioners and connections are ignored)")
        if name == "module":
            raise NotSupported("module calls are not supported")
        if any(t == name for (m, t, _n) in self._resources if m == "managed"):
            return _TypeNamespace(self, "managed", name)
        raise HclError(
            f"unknown name {name!r} (not a variable, local, resource type or bound name)"
        )


def _materialize_top(v: Any) -> Any:
    """A result handed back to Python: resource collections become maps/lists of instances."""
    return v.hcl_value() if isinstance(v, _Collection) else v


def iter_instances(module: Module, type_: str, *, data: bool = False) -> Iterator[Instance]:
    """Every instance of every resource (or data source) of ``type_``."""
    for t, n in module.resources(type_, data=data):
        yield from module.instances(t, n, data=data).values()
