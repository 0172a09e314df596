"""The character-level reading both parsers share: white space and comments, tokens,
identifiers, errors that point at the offending column, and the ``for k, v in`` header that
for expressions and ``%{for}`` directives both open with.
"""

from __future__ import annotations

import re

from stkpi_tools.terraform.hcl.errors import ParseError

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class Scanner:
    """A position in expression text and the primitives that move it."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)

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
        m = IDENT.match(self.s, self.i)
        if not m:
            return None
        self.i = m.end()
        return m.group()

    def peek_ident(self) -> str | None:
        m = IDENT.match(self.s, self.i)
        return m.group() if m else None

    def keyword_ahead(self, word: str) -> bool:
        """``word`` as a whole identifier at the current position."""
        return self.peek_ident() == word

    def for_names(self, where: tuple[str, str, str]) -> tuple[str | None, str]:
        """``for v in`` or ``for k, v in`` at the current position, consumed: (k or None, v).
        ``where`` says, for each of the three errors, where the name or ``in`` was expected."""
        self.i += 3  # 'for'
        self.ws()
        first = self.ident()
        if first is None:
            raise self.error(f"expected a variable name {where[0]}")
        kvar: str | None = None
        vvar = first
        if self.eat(","):
            self.ws()
            second = self.ident()
            if second is None:
                raise self.error(f"expected a second variable name {where[1]}")
            kvar, vvar = first, second
        self.ws()
        if not self.keyword_ahead("in"):
            raise self.error(f"expected 'in' {where[2]}")
        self.i += 2
        return kvar, vvar
