"""Expressions: a recursive-descent parser from HCL expression text (as python-hcl2 hands
it over) to :mod:`~stkpi_tools.terraform.hcl.nodes`, with a cache, since the same text
is parsed once however many instances evaluate it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from stkpi_tools.terraform.hcl.errors import NotSupported, ParseError
from stkpi_tools.terraform.hcl.nodes import (
    Binary,
    Call,
    Cond,
    For,
    GetAttr,
    Index,
    Lit,
    Node,
    Object,
    Splat,
    Template,
    Tuple,
    Unary,
    Var,
)
from stkpi_tools.terraform.hcl.scanner import IDENT
from stkpi_tools.terraform.hcl.templates import HEREDOC, TemplateParser
from stkpi_tools.terraform.hcl.values import norm_num

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class Parser(TemplateParser):
    """One expression (or template) of HCL text, lowest precedence first."""

    def whole_expression(self) -> Node:
        node = self.expr()
        self.ws()
        if self.i != self.n:
            raise self.error("unexpected text after the expression")
        return node

    # -- expressions, lowest precedence first
    def expr(self) -> Node:
        cond = self.binary(0)
        save = self.i
        self.ws()
        if self.peek("?"):
            self.i += 1
            a = self.expr()
            self.expect(":", "in a conditional")
            b = self.expr()
            return Cond(cond, a, b)
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

    def binary(self, level: int) -> Node:
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
            left = Binary(op, left, right)

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

    def unary(self) -> Node:
        self.ws()
        if self.peek("!") and not self.peek("!="):
            self.i += 1
            return Unary("!", self.unary())
        if self.peek("-"):
            self.i += 1
            return Unary("-", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
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
                    return Splat(node, self._splat_ops(full=True))
                key = self.expr()
                self.expect("]", "to close the index")
                node = Index(node, key)
                continue
            self.i += 1  # '.'
            self.ws()
            if self.peek("*"):
                self.i += 1
                return Splat(node, self._splat_ops(full=False))
            m = re.compile(r"[0-9]+").match(self.s, self.i)
            if m:  # legacy index: list.0
                self.i = m.end()
                node = Index(node, Lit(int(m.group())))
                continue
            name = self.ident()
            if name is None:
                raise self.error("expected an attribute name after '.'")
            node = GetAttr(node, name)

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
                    ops.append(("index", Lit(int(m.group()))))
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

    def primary(self) -> Node:
        self.ws()
        if self.i >= self.n:
            raise self.error("expected an expression, found the end")
        c = self.s[self.i]
        if c == '"':
            self.i += 1
            parts, _ = self.template_parts(quoted=True, stops=())
            return Template(parts)
        if c == "<" and self.peek("<<"):
            return self.heredoc()
        if c.isdigit():
            m = _NUMBER.match(self.s, self.i)
            assert m
            self.i = m.end()
            text = m.group()
            return Lit(norm_num(float(text)) if re.search(r"[.eE]", text) else int(text))
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
            return Lit(True)
        if name == "false":
            return Lit(False)
        if name == "null":
            return Lit(None)
        if self.peek("::"):
            raise NotSupported(f"namespaced function {name}::... is not supported")
        save = self.i
        self.ws()
        if self.peek("("):
            self.i += 1
            return self.call(name)
        self.i = save
        return Var(name)

    def call(self, name: str) -> Node:
        args: list[Node] = []
        expand = False
        while True:
            self.ws()
            if self.peek(")"):
                self.i += 1
                return Call(name, args, expand)
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

    def _for_header(self) -> tuple[str | None, str, Node]:
        self.ws()
        kvar, vvar = self.for_names(("after 'for'", "after ','", "in a for expression"))
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
        return j > self.i + 3 and IDENT.match(self.s, j) is not None

    def _for_if(self) -> Node | None:
        self.ws()
        if self.keyword_ahead("if"):
            self.i += 2
            return self.expr()
        return None

    def tuple_or_for(self) -> Node:
        if self._for_ahead():
            kvar, vvar, coll = self._for_header()
            val = self.expr()
            cond = self._for_if()
            self.expect("]", "to close the for expression")
            return For(kvar, vvar, coll, None, val, cond, False)
        items: list[Node] = []
        while True:
            self.ws()
            if self.peek("]"):
                self.i += 1
                return Tuple(items)
            items.append(self.expr())
            self.ws()
            if self.peek(","):
                self.i += 1
            elif not self.peek("]"):
                raise self.error("expected ',' or ']' in a tuple")

    def object_or_for(self) -> Node:
        if self._for_ahead():
            kvar, vvar, coll = self._for_header()
            key = self.expr()
            self.expect("=>", "in an object for expression")
            val = self.expr()
            group = self.eat("...")
            cond = self._for_if()
            self.expect("}", "to close the for expression")
            return For(kvar, vvar, coll, key, val, cond, group)
        items: list[tuple[Node, Node]] = []
        while True:
            self.ws()
            if self.peek("}"):
                self.i += 1
                return Object(items)
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

    def object_key(self) -> Node:
        name = self.peek_ident()
        if name is not None:
            j = self.i + len(name)
            while j < self.n and self.s[j] in " \t":
                j += 1
            rest = self.s[j : j + 2]
            if rest[:1] == ":" or (rest[:1] == "=" and rest not in ("==", "=>")):
                self.i += len(name)
                return Lit(name)  # a bare name is the key itself, not a reference
        return self.expr()


_PARSE_CACHE: dict[str, Node] = {}


def parse_expression(text: str) -> Node:
    """Parse HCL expression text as python-hcl2 gives it (or as written in a .tf file):
    ``'${expr}'`` (a wrapped expression), ``'"a ${b}"'`` (a quoted template),
    ``'"<<EOT\\n...\\nEOT"'`` (a heredoc hcl2 put in quotes) or a bare expression."""
    node = _PARSE_CACHE.get(text)
    if node is not None:
        return node
    if text.startswith("${"):
        node = Parser(text).whole_template()
    elif text.startswith('"<<') and text.endswith('"') and HEREDOC.match(text, 1):
        node = Parser(text[1:-1]).whole_expression()
    else:
        node = Parser(text).whole_expression()
    _PARSE_CACHE[text] = node
    return node


def value_node(v: Any) -> Node:
    """A python-hcl2 value (expression text, number, bool, None, list, dict) as a node."""
    if isinstance(v, str):
        return parse_expression(v)
    if v is None or isinstance(v, bool | int | float):
        return Lit(norm_num(v) if isinstance(v, float) else v)
    if isinstance(v, list):
        return Tuple([value_node(x) for x in v])
    if isinstance(v, dict):
        items = []
        for k, x in v.items():
            if k.startswith("__"):
                continue
            key = Lit(k) if IDENT.fullmatch(k) else parse_expression(k)
            items.append((key, value_node(x)))
        return Object(items)
    raise ParseError(f"unexpected value from python-hcl2: {v!r}")


def raw_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, default=str)
