"""Templates: quoted strings with ``${}`` interpolations and ``%{if}``/``%{for}``
directives, heredocs, escapes and ``~`` strip markers. A mixin of :class:`Parser`, which
supplies ``expr`` for what the interpolations contain.
"""

from __future__ import annotations

import re
from typing import Any

from stkpi_tools.terraform.hcl.errors import ParseError
from stkpi_tools.terraform.hcl.nodes import Node, Template, TFor, TIf
from stkpi_tools.terraform.hcl.scanner import Scanner

HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class TemplateParser(Scanner):
    """Template content; the expressions inside come from ``expr`` (:class:`Parser`)."""

    def expr(self) -> Node:  # pragma: no cover - Parser overrides it
        raise NotImplementedError

    def whole_template(self) -> Node:
        parts, stop = self.template_parts(quoted=False, stops=())
        assert stop is None
        return Template(parts)

    def heredoc(self) -> Node:
        m = HEREDOC.match(self.s, self.i)
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
        sub = type(self)(body)
        try:
            return sub.whole_template()
        except ParseError as e:
            raise self.error(f"in heredoc {marker}: {e.message}", m.start()) from None

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
            if s.startswith(("$${", "%%{"), self.i):  # escaped: a literal ${ or %{
                buf.append(s[self.i + 1 : self.i + 3])
                self.i += 3
                continue
            if s.startswith(("${", "%{"), self.i):
                directive = c == "%"
                self.i += 2
                if self._tilde():
                    strip_last()
                flush()
                if not directive:
                    node = self.expr()
                    self.ws()
                    strip_next = self._tilde()
                    self.expect("}", "to close the interpolation")
                    parts.append(node)
                    continue
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
        strip = self._tilde()
        self.expect("}", "to close the template directive")
        self._directive_end_strip = strip

    def _tilde(self) -> bool:
        """A ``~`` strip marker right here, consumed."""
        if self.peek("~"):
            self.i += 1
            return True
        return False

    def _template_if(self, quoted: bool) -> Node:
        self.i += 2  # 'if'
        cond = self.expr()
        self._close_directive()
        then, stop = self._directive_body(quoted, ("else", "endif"))
        else_: list[Any] = []
        if stop == "else":
            self._close_directive()
            else_, _ = self._directive_body(quoted, ("endif",))
        self._close_directive()
        return TIf(cond, then, else_)

    def _template_for(self, quoted: bool) -> Node:
        kvar, vvar = self.for_names(("in %{for}",) * 3)
        coll = self.expr()
        self._close_directive()
        body, _ = self._directive_body(quoted, ("endfor",))
        self._close_directive()
        return TFor(kvar, vvar, coll, body)

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
