"""Terraform's built-in string and encoding functions: format verbs, RE2-style regular
expressions, JSON, base64 and hashes, with Terraform's conversions of their arguments.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stkpi_tools.terraform.hcl.errors import HclError
from stkpi_tools.terraform.hcl.fn_collections import check_list
from stkpi_tools.terraform.hcl.values import (
    as_bool,
    as_number,
    from_python,
    plain,
    sorted_dict,
    to_string,
)

if TYPE_CHECKING:
    from stkpi_tools.terraform.hcl.nodes import Ctx


def _f_join(_: Ctx, sep: Any, *lists: Any) -> str:
    items: list[str] = []
    for x in lists:
        items.extend(to_string(e) for e in check_list(x, "join"))
    return to_string(sep).join(items)


def _f_format(_: Ctx, fmt: Any, *args: Any) -> str:
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
            out.append((spec + "s") % json.dumps(plain(arg), separators=(",", ":")))
        elif verb in ("s", "v"):
            out.append((spec + "s") % to_string(arg))
        elif verb == "q":
            out.append((spec + "s") % json.dumps(to_string(arg)))
        elif verb == "t":
            out.append((spec + "s") % to_string(as_bool(arg, "format %t argument")))
        elif verb in "dxXo":
            n = as_number(arg, f"format %{verb} argument")
            if not isinstance(n, int):
                raise HclError(f"format(): %{verb} needs a whole number, got {n}")
            out.append((spec + verb) % n)
        elif verb in "feEgG":
            out.append((spec + verb) % as_number(arg, f"format %{verb} argument"))
        else:
            raise HclError(f"format(): unsupported verb %{verb}")
    out.append(fmt[pos:])
    return "".join(out)


def _go_regex(pattern: str) -> re.Pattern[str]:
    """RE2 syntax as Python's re reads it (the common subset; ``\\z`` is ``\\Z`` here)."""
    return re.compile(pattern.replace("\\z", "\\Z"))


def _f_replace(_: Ctx, s: Any, old: Any, new: Any) -> str:
    s, old, new = to_string(s), to_string(old), to_string(new)
    if len(old) >= 2 and old.startswith("/") and old.endswith("/"):
        rx = _go_regex(old[1:-1])
        repl = re.sub(r"\$(\d+|\{(\w+)\})", lambda m: f"\\g<{m.group(2) or m.group(1)}>", new)
        return rx.sub(repl, s)
    return s.replace(old, new)


def _f_regex(_: Ctx, pattern: Any, s: Any) -> Any:
    rx = _go_regex(to_string(pattern))
    m = rx.search(to_string(s))
    if m is None:
        raise HclError("regex(): pattern did not match")
    return _regex_result(rx, m)


def _regex_result(rx: re.Pattern[str], m: re.Match[str]) -> Any:
    if rx.groupindex:
        return sorted_dict(m.groupdict())
    if rx.groups:
        return list(m.groups())
    return m.group()


def _f_regexall(_: Ctx, pattern: Any, s: Any) -> list[Any]:
    rx = _go_regex(to_string(pattern))
    return [_regex_result(rx, m) for m in rx.finditer(to_string(s))]


def _f_jsonencode(_: Ctx, v: Any) -> str:
    text = json.dumps(plain(v), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text


def _f_jsondecode(_: Ctx, s: Any) -> Any:
    return from_python(json.loads(to_string(s)))


def _f_substr(_: Ctx, s: Any, offset: Any, length: Any) -> str:
    s = to_string(s)
    off, ln = int(as_number(offset)), int(as_number(length))
    if off < 0:
        off = max(0, len(s) + off)
    return s[off:] if ln < 0 else s[off : off + ln]


def _f_split(_: Ctx, sep: Any, s: Any) -> list[str]:
    s = to_string(s)
    return s.split(to_string(sep)) if s else [""]


def _f_trim(_: Ctx, s: Any, chars: Any) -> str:
    return to_string(s).strip(to_string(chars))


# name -> implementation: strings, encoding
STRING_FUNCTIONS: dict[str, Callable[..., Any]] = {
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
}
