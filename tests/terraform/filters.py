"""Pure evaluators of the two filter languages terraform/monitoring.tf is written in.

- **Cloud Logging query language** (``google_logging_metric.filter``), the subset the
  log-based metrics use: field paths (``jsonPayload.a.b``, ``resource.type``,
  ``resource.labels.x``, ``severity``), comparisons ``= != > >= < <= : =~ !~`` on strings,
  booleans, numbers and severities (ordered), value groups ``field=("a" OR "b")``,
  ``AND`` / ``OR`` / ``NOT``, parentheses and implicit AND. As in Cloud Logging, NOT binds
  tightest, then OR, then AND (``a AND b OR c`` is ``a AND (b OR c)``).
  :func:`log_matches` evaluates a query against a LogEntry dict; :func:`log_entry` builds
  that LogEntry from a JSON line a function printed, the way Cloud Logging does for Cloud
  Run; :func:`extract` applies a metric's label extractor.
- **Cloud Monitoring filters** (``google_monitoring_alert_policy`` ``filter`` /
  ``denominator_filter``): ``selector = "v"``, ``!=``, ``= one_of("a", ...)``,
  ``starts_with`` / ``ends_with`` / ``has_substring`` / ``monitoring.regex.full_match``,
  joined by explicit ``AND`` / ``OR`` / ``NOT`` and parentheses. The Logging value group
  ``=("a" OR "b")`` is not Monitoring syntax (Google rejects the policy at apply time) and
  :func:`parse_monitoring` raises on it. :func:`monitoring_matches` evaluates a filter
  against a time series ``{"metric": {"type", "labels"}, "resource": {"type", "labels"}}``.

Where Cloud Logging's own semantics are loose (text vs typed comparisons) this is strict:
a bare ``true``/``false`` matches JSON booleans only, a bare number compares numerically,
``=`` on text is exact. A comparison on a missing field is false (``NOT`` of it is true).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FilterSyntaxError",
    "extract",
    "log_entry",
    "log_matches",
    "monitoring_matches",
    "monitoring_restrictions",
    "parse_logging",
    "parse_monitoring",
]


class FilterSyntaxError(ValueError):
    """A filter that the language (or this subset of it) does not accept."""


# ---- tokens -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<op>>=|<=|!=|=~|!~|=|<|>|:)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<word>[^\s()"=<>!:,~]+)
    """,
    re.VERBOSE,
)
KEYWORDS = ("AND", "OR", "NOT")


@dataclass(frozen=True)
class Token:
    kind: str  # string | op | lparen | rparen | comma | word | end
    text: str
    pos: int

    @property
    def value(self) -> str:
        """A string token's content (escapes resolved), else its text."""
        if self.kind == "string":
            return re.sub(r"\\(.)", r"\1", self.text[1:-1])
        return self.text


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FilterSyntaxError(f"unexpected {text[pos : pos + 10]!r} at {pos} in {text!r}")
        if m.lastgroup != "ws":
            out.append(Token(m.lastgroup or "", m.group(), pos))
        pos = m.end()
    out.append(Token("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def is_kw(self, kw: str) -> bool:
        return self.tok.kind == "word" and self.tok.text == kw

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            self.fail(f"expected {kind}")
        return self.take()

    def fail(self, what: str) -> None:
        t = self.tok
        found = repr(t.text) if t.kind != "end" else "end of filter"
        raise FilterSyntaxError(f"{what}, found {found} at {t.pos} in {self.text!r}")

    def done(self) -> None:
        if self.tok.kind != "end":
            self.fail("expected end of filter")


# ---- Cloud Logging query language ---------------------------------------------------------

# LogSeverity, in order.
SEVERITIES = {
    "DEFAULT": 0,
    "DEBUG": 100,
    "INFO": 200,
    "NOTICE": 300,
    "WARNING": 400,
    "ERROR": 500,
    "CRITICAL": 600,
    "ALERT": 700,
    "EMERGENCY": 800,
}
_SEVERITY_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}
# Keys of a structured line that Cloud Logging lifts out of jsonPayload.
_SPECIAL_KEYS = ("severity", "time", "timestamp", "timestampSeconds", "timestampNanos")
_SPECIAL_PREFIX = "logging.googleapis.com/"

Node = tuple[Any, ...]


def parse_logging(text: str) -> Node:
    """A Cloud Logging query -> AST (raises :class:`FilterSyntaxError`)."""
    p = _Parser(text)
    node = _l_and(p, value=False)
    p.done()
    return node


def _l_and(p: _Parser, *, value: bool) -> Node:
    parts = [_l_or(p, value=value)]
    while p.tok.kind not in ("end", "rparen"):
        if p.is_kw("AND"):
            p.take()
        parts.append(_l_or(p, value=value))  # juxtaposition is AND too
    return parts[0] if len(parts) == 1 else ("and", *parts)


def _l_or(p: _Parser, *, value: bool) -> Node:
    parts = [_l_not(p, value=value)]
    while p.is_kw("OR"):
        p.take()
        parts.append(_l_not(p, value=value))
    return parts[0] if len(parts) == 1 else ("or", *parts)


def _l_not(p: _Parser, *, value: bool) -> Node:
    if p.is_kw("NOT"):
        p.take()
        return ("not", _l_not(p, value=value))
    if p.tok.kind == "lparen":
        p.take()
        node = _l_and(p, value=value)
        p.expect("rparen")
        return node
    if value:
        return _l_literal(p)
    return _l_comparison(p)


def _l_literal(p: _Parser) -> Node:
    t = p.tok
    if t.kind == "string" or (t.kind == "word" and t.text not in KEYWORDS):
        p.take()
        return ("lit", t.value, t.kind == "string")
    p.fail("expected a value")
    raise AssertionError  # unreachable


def _l_comparison(p: _Parser) -> Node:
    t = p.tok
    if t.kind != "word" or t.text in KEYWORDS:
        p.fail("expected a field path")
    path = p.take().text
    if p.tok.kind != "op":
        p.fail(f"expected an operator after {path} (global text search is not supported)")
    op = p.take().text
    if p.tok.kind == "lparen":
        p.take()
        values = _l_and(p, value=True)
        p.expect("rparen")
    else:
        values = _l_literal(p)
    return ("cmp", path, op, values)


def resolve(entry: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """``(found, value)`` of a dotted field path in a LogEntry dict."""
    cur: Any = entry
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def _severity_rank(name: Any) -> int | None:
    text = str(name).upper()
    text = _SEVERITY_ALIASES.get(text, text)
    if text in SEVERITIES:
        return SEVERITIES[text]
    try:
        return int(text)
    except ValueError:
        return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _ordered(op: str, a: Any, b: Any) -> bool:
    return {
        "=": a == b,
        "!=": a != b,
        ">": a > b,
        ">=": a >= b,
        "<": a < b,
        "<=": a <= b,
    }[op]


def _compare_one(found: bool, field: Any, path: str, op: str, text: str, quoted: bool) -> bool:
    if not found or field is None:
        return False
    if path == "severity":
        a, b = _severity_rank(field), _severity_rank(text)
        if a is None or b is None:
            raise FilterSyntaxError(f"not a severity: {field!r} or {text!r}")
        return _ordered(op, a, b) if op not in (":", "=~", "!~") else False
    if op == ":":
        return text.lower() in _text(field).lower()
    if op in ("=~", "!~"):
        hit = re.search(text, _text(field)) is not None
        return hit if op == "=~" else not hit
    if isinstance(field, bool):
        if quoted or text not in ("true", "false"):
            return False
        return _ordered(op, field, text == "true") if op in ("=", "!=") else False
    if isinstance(field, int | float):
        n = _number(text)
        return n is not None and _ordered(op, float(field), n)
    if isinstance(field, str):
        if not quoted and text in ("true", "false"):
            return False  # a boolean literal never equals text here
        return _ordered(op, field, text)
    return False  # objects and lists: not compared by this subset


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _eval_values(node: Node, found: bool, field: Any, path: str, op: str) -> bool:
    kind = node[0]
    if kind == "lit":
        return _compare_one(found, field, path, op, node[1], node[2])
    if kind == "and":
        return all(_eval_values(n, found, field, path, op) for n in node[1:])
    if kind == "or":
        return any(_eval_values(n, found, field, path, op) for n in node[1:])
    if kind == "not":
        return not _eval_values(node[1], found, field, path, op)
    raise AssertionError(node)


def _eval_logging(node: Node, entry: Mapping[str, Any]) -> bool:
    kind = node[0]
    if kind == "and":
        return all(_eval_logging(n, entry) for n in node[1:])
    if kind == "or":
        return any(_eval_logging(n, entry) for n in node[1:])
    if kind == "not":
        return not _eval_logging(node[1], entry)
    if kind == "cmp":
        _, path, op, values = node
        found, field = resolve(entry, path)
        return _eval_values(values, found, field, path, op)
    raise AssertionError(node)


def log_matches(query: str, entry: Mapping[str, Any]) -> bool:
    """Does the Cloud Logging ``query`` match the LogEntry dict ``entry``?"""
    return _eval_logging(parse_logging(query), entry)


def log_entry(
    line: Mapping[str, Any] | str,
    *,
    service_name: str,
    resource_type: str = "cloud_run_revision",
) -> dict[str, Any]:
    """The LogEntry Cloud Logging makes of one JSON line a Cloud Run service printed.

    ``severity`` (and the time fields, and ``logging.googleapis.com/*`` keys) leave the
    payload; everything else, ``message`` included, is ``jsonPayload``.
    """
    import json

    doc = json.loads(line) if isinstance(line, str) else dict(line)
    severity = str(doc.get("severity", "DEFAULT")).upper()
    severity = _SEVERITY_ALIASES.get(severity, severity)
    payload = {
        k: v for k, v in doc.items() if k not in _SPECIAL_KEYS and not k.startswith(_SPECIAL_PREFIX)
    }
    return {
        "severity": severity if severity in SEVERITIES else "DEFAULT",
        "jsonPayload": payload,
        "resource": {"type": resource_type, "labels": {"service_name": service_name}},
    }


_EXTRACT = re.compile(r"^\s*EXTRACT\(\s*([\w.]+)\s*\)\s*$")
_REGEXP_EXTRACT = re.compile(r'^\s*REGEXP_EXTRACT\(\s*([\w.]+)\s*,\s*("(?:[^"\\]|\\.)*")\s*\)\s*$')


def extract(extractor: str, entry: Mapping[str, Any]) -> str | None:
    """A log-based metric's label extractor applied to an entry (None: no value)."""
    if m := _EXTRACT.match(extractor):
        found, value = resolve(entry, m.group(1))
        return _text(value) if found and value is not None else None
    if m := _REGEXP_EXTRACT.match(extractor):
        found, value = resolve(entry, m.group(1))
        pattern = Token("string", m.group(2), 0).value
        hit = re.search(pattern, _text(value)) if found and value is not None else None
        return hit.group(1) if hit else None
    raise FilterSyntaxError(f"unsupported label extractor {extractor!r}")


# ---- Cloud Monitoring filters -------------------------------------------------------------

_SELECTOR = re.compile(
    r"^(?:metric\.type|resource\.type|project|group\.id|metric\.display_name"
    r"|(?:metric|resource)\.labels?\.[A-Za-z_][\w]*"
    r"|metadata\.(?:system|user)_labels\.[A-Za-z_][\w]*)$"
)
_FUNCTIONS = {
    "one_of": None,  # any number >= 1
    "starts_with": 1,
    "ends_with": 1,
    "has_substring": 1,
    "monitoring.regex.full_match": 1,
}
_MON_OPS = ("=", "!=", ">", ">=", "<", "<=", ":")


@dataclass(frozen=True)
class Restriction:
    """``selector op value``; ``func`` is None for a plain literal (``args`` = (literal,))."""

    selector: str
    op: str
    func: str | None
    args: tuple[str, ...]

    def test(self, value: Any) -> bool:
        if value is None:
            return self.op == "!="
        text = _text(value)
        if self.func is None:
            (lit,) = self.args
            if self.op in ("=", "!="):
                return (text == lit) == (self.op == "=")
            if self.op == ":":
                return lit in text
            a, b = _number(text), _number(lit)
            if a is None or b is None:
                return _ordered(self.op, text, lit)
            return _ordered(self.op, a, b)
        hit = {
            "one_of": lambda: text in self.args,
            "starts_with": lambda: text.startswith(self.args[0]),
            "ends_with": lambda: text.endswith(self.args[0]),
            "has_substring": lambda: self.args[0] in text,
            "monitoring.regex.full_match": lambda: re.fullmatch(self.args[0], text) is not None,
        }[self.func]()
        return hit if self.op == "=" else not hit


def parse_monitoring(text: str, *, require_metric_type: bool = True) -> Node:
    """A Cloud Monitoring filter -> AST, or :class:`FilterSyntaxError` where Google would
    refuse it (``require_metric_type``: an alert condition's filter must name its metric)."""
    p = _Parser(text)
    node = _m_or(p)
    p.done()
    if require_metric_type and not any(
        r.selector == "metric.type" and r.op == "=" for r in _restrictions(node)
    ):
        raise FilterSyntaxError(f"no metric.type = ... restriction in {text!r}")
    return node


def _m_or(p: _Parser) -> Node:
    parts = [_m_and(p)]
    while p.is_kw("OR"):
        p.take()
        parts.append(_m_and(p))
    return parts[0] if len(parts) == 1 else ("or", *parts)


def _m_and(p: _Parser) -> Node:
    parts = [_m_not(p)]
    while p.is_kw("AND"):
        p.take()
        parts.append(_m_not(p))
    if p.tok.kind not in ("end", "rparen") and not p.is_kw("OR"):
        p.fail("expected AND, OR or the end (Monitoring has no implicit AND)")
    return parts[0] if len(parts) == 1 else ("and", *parts)


def _m_not(p: _Parser) -> Node:
    if p.is_kw("NOT"):
        p.take()
        return ("not", _m_not(p))
    if p.tok.kind == "lparen":
        p.take()
        node = _m_or(p)
        p.expect("rparen")
        return node
    return _m_restriction(p)


def _m_restriction(p: _Parser) -> Node:
    t = p.tok
    if t.kind != "word" or not _SELECTOR.match(t.text):
        p.fail("expected a Monitoring selector (metric.type, resource.label.x, ...)")
    selector = p.take().text
    if p.tok.kind != "op" or p.tok.text not in _MON_OPS:
        p.fail(f"expected a comparison after {selector}")
    op = p.take().text
    if p.tok.kind == "lparen":
        p.fail(
            "a value list =(... OR ...) is Cloud Logging query syntax; "
            'Monitoring wants = one_of("a", "b")'
        )
    if p.tok.kind == "string":
        return ("r", Restriction(selector, op, None, (p.take().value,)))
    t = p.tok
    if t.kind == "word" and t.text in _FUNCTIONS:
        func = p.take().text
        if op not in ("=", "!="):
            p.fail(f"{func}(...) takes = or !=")
        p.expect("lparen")
        args = [p.expect("string").value]
        while p.tok.kind == "comma":
            p.take()
            args.append(p.expect("string").value)
        p.expect("rparen")
        want = _FUNCTIONS[func]
        if want is not None and len(args) != want:
            raise FilterSyntaxError(f"{func} takes {want} argument(s), got {len(args)}")
        return ("r", Restriction(selector, op, func, tuple(args)))
    if t.kind == "word" and (_number(t.text) is not None or t.text in ("true", "false")):
        return ("r", Restriction(selector, op, None, (p.take().text,)))
    p.fail('expected a quoted value, a number, or one_of("...")/starts_with("...")')
    raise AssertionError  # unreachable


def _restrictions(node: Node) -> list[Restriction]:
    if node[0] == "r":
        return [node[1]]
    return [r for n in node[1:] for r in _restrictions(n)]


def monitoring_restrictions(text: str, *, require_metric_type: bool = True) -> list[Restriction]:
    """Every restriction of a (valid) Monitoring filter, in order."""
    return _restrictions(parse_monitoring(text, require_metric_type=require_metric_type))


def _series_value(series: Mapping[str, Any], selector: str) -> Any:
    parts = selector.split(".")
    if parts[0] in ("metric", "resource") and parts[1] in ("label", "labels"):
        return (series.get(parts[0]) or {}).get("labels", {}).get(parts[2])
    found, value = resolve(series, selector)
    return value if found else None


def _eval_monitoring(node: Node, series: Mapping[str, Any]) -> bool:
    kind = node[0]
    if kind == "r":
        r: Restriction = node[1]
        return r.test(_series_value(series, r.selector))
    if kind == "and":
        return all(_eval_monitoring(n, series) for n in node[1:])
    if kind == "or":
        return any(_eval_monitoring(n, series) for n in node[1:])
    if kind == "not":
        return not _eval_monitoring(node[1], series)
    raise AssertionError(node)


def monitoring_matches(text: str, series: Mapping[str, Any]) -> bool:
    """Does the Monitoring filter select the time series ``series``?"""
    return _eval_monitoring(parse_monitoring(text, require_metric_type=False), series)
