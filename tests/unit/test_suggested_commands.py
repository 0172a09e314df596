"""Every command the tool suggests or documents parses with the real CLI.

A user's first hour is mostly copying commands: from the README and docs/, from
`stkpi validate`'s next steps, from error messages, from the KPI report's hover text. A
suggestion that the CLI refuses (a renamed option, a missing value, a command that no
longer exists) costs them the trust this tool is meant to earn, so this test collects them
all from the sources and parses each with the CLI's own click command (parsed, never run).

Where the commands are found:
- ``README.md`` and ``docs/*.md``: lines of fenced code blocks that start with
  ``./dev stkpi``, ``stkpi`` or ``./dev demo``, and every ``stkpi ...`` inside backticks or
  in prose;
- every string literal of ``shared/stkpi/``, ``shared/stkpi_tools/`` and ``functions/`` that is not a docstring
  (messages, next steps, help texts; f-string fields become placeholders); docstrings
  document the code, they are never printed as advice;
- the two functions that build ``stkpi explain`` commands from data (the report's hover
  text and validate's KPI-jump next step), called with awkward BU names.

How a command is delimited: inside backticks or on a code-block line it runs to the end of
the span (or a shell metacharacter ``; | & ( ) #``) and every token counts; in prose it runs
over the command path and then only over options and their values (the CLI says which
options take a value), so "stkpi status (did the daily run plan...)" is ``stkpi status``.

Placeholders, one rule: a value written as ``...``, ``…``, ``<name>``, an f-string field or
an upper-case metavariable (``E``, ``YYYY-MM-DD``) is replaced by ``SAMPLES[option]``, a
valid value of that option (an option without a sample fails the test, so add one); a bare
``...`` where arguments would go means "the arguments you need" and becomes the command's
required options with their samples; ``[--opt]`` is optional and is parsed with and
without. A command path alone (```stkpi explain``` in prose) names the command: it must
exist, its required options are not asked for. The only skip: ``stkpi ...`` with no
command at all ("any CLI command").
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

from stkpi_tools.cli import app

ROOT = Path(__file__).resolve().parents[2]

# A valid value for each option that a suggestion leaves as a placeholder.
SAMPLES: dict[str, str] = {
    "--start": "2025-01-01",
    "--end": "2025-02-01",
    "--entities": "jobs",
    "--kpi": "leads",
    "--bu": "Phoenix-Sales",
    "--week": "2025-08-18",
    "--date": "2025-08-18",
    "--since": "2025-01-01",
    "--out": "kpi-report.html",
    "--run-id": "adhoc",
    "--st-api-base-url": "https://api.servicetitan.io",
    "--allow-share": "0.5",
    "--name": "Commercial Crew",
    "--role": "Production",
    "--region": "PHX",
    "--tenant-id": "2000",
    "--tenant": "2000",
    "--time-zone": "America/Denver",
    "--tenants": "terraform/local.tenants.json",
}

COMMAND = re.compile(r"(?<![\w.$/-])(?:\./dev )?stkpi(?= )|(?<![\w.$/-])\./dev demo\b")
SPAN = re.compile(r"(`+)(.+?)\1")
SHELL_META = re.compile(r"[;|&()#`]")
# prose also ends at ", " ": " and a full stop (not the dots of a "..." placeholder)
PROSE_END = re.compile(r"[;|&()#`]|[,:](?:\s|$)|(?<!\.)\.(?:\s|$)")
RICH_TAG = re.compile(r"\[/?(?:[a-z]+(?: [a-z]+)*)?\]")
FENCE = re.compile(r"^\s*```")
CODE_LINE = re.compile(r"^\s*(?:\$ )?(?:\./dev stkpi|stkpi|\./dev demo)\b")
PLACEHOLDER = re.compile(r"^(?:\.\.\.|…|<[^>]+>|\{\d+\}|[A-Z][A-Z0-9_-]*)$")


@dataclass(frozen=True)
class Suggestion:
    """One command as written, where it was found, and whether every token counts."""

    source: str
    line: int
    text: str
    strict: bool

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.text}"


# --- collecting ----------------------------------------------------------------------------


def _commands_in(text: str, *, source: str, line: int, code: bool) -> Iterator[Suggestion]:
    """``stkpi ...`` commands in one piece of text; backtick spans are code, the rest prose."""
    if code:
        for match in COMMAND.finditer(text):
            rest = SHELL_META.split(text[match.start() :], maxsplit=1)[0]
            yield Suggestion(source, line, rest.strip(), strict=True)
        return
    spans = list(SPAN.finditer(text))
    for span in spans:
        yield from _commands_in(span.group(2), source=source, line=line, code=True)
    prose = SPAN.sub(lambda m: " " * len(m.group(0)), text)
    for match in COMMAND.finditer(prose):
        rest = PROSE_END.split(prose[match.start() :], maxsplit=1)[0]
        yield Suggestion(source, line, rest.strip(), strict=False)


def _markdown_suggestions(path: Path) -> Iterator[Suggestion]:
    """Code-block lines one by one; prose a paragraph at a time (a backtick span may wrap)."""
    source = str(path.relative_to(ROOT))
    in_block = False
    paragraph: list[tuple[int, str]] = []

    def prose() -> Iterator[Suggestion]:
        text = " ".join(line for _, line in paragraph)
        offsets = [0]
        for _, line in paragraph:
            offsets.append(offsets[-1] + len(line) + 1)
        for found in _commands_in(text, source=source, line=0, code=False):
            at = text.find(found.text)
            index = max(i for i, start in enumerate(offsets[:-1]) if start <= max(at, 0))
            yield Suggestion(source, paragraph[index][0], found.text, found.strict)
        paragraph.clear()

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(raw):
            yield from prose()
            in_block = not in_block
        elif in_block and CODE_LINE.match(raw):
            line = raw.strip().removeprefix("$ ")
            yield from _commands_in(line, source=source, line=number, code=True)
        elif in_block:  # a diagram or another tool's command: its backtick spans and prose
            yield from _commands_in(raw, source=source, line=number, code=False)
        elif not raw.strip():
            yield from prose()
        else:
            paragraph.append((number, raw.strip()))
    yield from prose()


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _string_text(node: ast.AST) -> str | None:
    """A literal's text; an f-string's fields become ``{0}``, ``{1}``... placeholders."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        for i, value in enumerate(node.values):
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append(f"{{{i}}}")
        return "".join(parts)
    return None


def _python_suggestions(path: Path) -> Iterator[Suggestion]:
    source = str(path.relative_to(ROOT))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstring_nodes(tree)
    inside_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside_fstring.update(id(v) for v in node.values)
    for node in ast.walk(tree):
        if id(node) in docstrings or id(node) in inside_fstring:
            continue
        text = _string_text(node)
        if text and "stkpi " in text:
            text = RICH_TAG.sub("", text).replace("\n", " ")
            yield from _commands_in(text, source=source, line=node.lineno, code=False)


def collect() -> list[Suggestion]:
    found: list[Suggestion] = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found += _markdown_suggestions(doc)
    for package in (ROOT / "shared" / "stkpi", ROOT / "shared" / "stkpi_tools", ROOT / "functions"):
        for path in sorted(package.rglob("*.py")):
            found += _python_suggestions(path)
    return found


# --- parsing with the real CLI -------------------------------------------------------------


class Refused(Exception):
    """The CLI would refuse the command; the message is the CLI's own."""


def _option(command: Any, token: str) -> Any | None:
    name = token.split("=", 1)[0]
    for param in command.params:
        if param.param_type_name == "option" and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def _takes_value(param: Any | None) -> bool:
    return param is not None and not param.is_flag and not param.count


def _variants(tokens: list[str]) -> list[list[str]]:
    """``[--opt]`` optional groups: the command with each group and without."""
    text = " ".join(tokens)
    if "[" not in text:
        return [tokens]
    with_all = re.sub(r"\[([^\]]*)\]", r"\1", text).split()
    without = re.sub(r"\[[^\]]*\]", " ", text).split()
    return [with_all, without]


def _resolve(tokens: list[str]) -> tuple[list[str], Any, list[str]]:
    """Walk the command path: (path, the command it names, the tokens after it)."""
    group = typer.main.get_command(app)
    ctx = group.make_context("stkpi", [], resilient_parsing=True)
    path: list[str] = []
    command: Any = group
    rest = list(tokens)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            if not path:
                raise Refused(f"no such command: stkpi {rest[0]}")
            break
        path.append(rest.pop(0))
        command = sub
    return path, command, rest


def _prose_extent(command: Any, rest: list[str]) -> list[str]:
    """In prose the command ends at the first word that is neither an option nor its value."""
    taken: list[str] = []
    i = 0
    while i < len(rest) and (rest[i].startswith("-") or PLACEHOLDER.match(rest[i])):
        token = rest[i]
        if PLACEHOLDER.match(token):  # a bare "..." standing for the arguments
            taken.append(token)
            i += 1
            continue
        taken.append(token)
        param = _option(command, token)
        if "=" not in token and (_takes_value(param) or param is None) and i + 1 < len(rest):
            nxt = rest[i + 1]
            if not nxt.startswith("-"):
                taken.append(nxt.rstrip(".,"))
                i += 1
        i += 1
    return taken


def _fill(command: Any, args: list[str], where: Suggestion) -> list[str]:
    """Placeholders -> sample values; a bare ``...`` -> the required options' samples."""
    out: list[str] = []
    for i, token in enumerate(args):
        if not PLACEHOLDER.match(token):
            out.append(token)
            continue
        before = args[i - 1] if i else ""
        if before.startswith("-") and _takes_value(_option(command, before)):
            if before not in SAMPLES:
                raise AssertionError(f"{where}: add a sample value for {before} to SAMPLES")
            out.append(SAMPLES[before])
            continue
        for param in command.params:  # "the arguments you need"
            if param.required and param.param_type_name == "option":
                opt = param.opts[0]
                if opt not in args:
                    if opt not in SAMPLES:
                        raise AssertionError(f"{where}: add a sample value for {opt} to SAMPLES")
                    out += [opt, SAMPLES[opt]]
    return out


def parse(suggestion: Suggestion) -> str | None:
    """Parse one suggestion with the real CLI; None if it parses, else the CLI's complaint."""
    argv = shlex.split(suggestion.text)
    if argv[:2] == ["./dev", "demo"]:
        argv = ["stkpi", "demo", *argv[2:]]
    if argv[0] == "./dev":
        argv = argv[1:]
    assert argv[0] == "stkpi", suggestion
    if not argv[1:] or argv[1:] in (["..."], ["…"]):
        return None  # "stkpi ...": any command, the one explicit skip
    try:
        for tokens in _variants(argv[1:]):
            path, command, rest = _resolve(tokens)
            if not suggestion.strict:
                rest = _prose_extent(command, rest)
            if hasattr(command, "commands"):
                if rest:
                    return f"{' '.join(path)} has no subcommand {rest[0]!r}"
                continue  # a group named: it exists
            if not rest:
                continue  # a command named: it exists
            args = _fill(command, rest, suggestion)
            _parse_leaf(path, args)
    except Refused as exc:
        return str(exc)
    return None


def _parse_leaf(path: list[str], args: list[str]) -> None:
    """The parse the CLI does before running a command: options, types, ranges, required."""
    group = typer.main.get_command(app)
    try:
        with group.make_context("stkpi", [*path, *args], resilient_parsing=False) as ctx:
            command: Any = group
            for i, name in enumerate(path):
                command = command.get_command(ctx, name)
                ctx = command.make_context(name, [*path[i + 1 :], *args], parent=ctx)
    except Exception as exc:  # the CLI's UsageError family, raised by the parse itself
        message = getattr(exc, "format_message", None)
        raise Refused(message() if message else repr(exc)) from None


# --- the tests -----------------------------------------------------------------------------

SUGGESTIONS = collect()


def test_the_collector_finds_the_known_suggestions() -> None:
    """Guards the collector itself: if it silently found nothing, every check would pass."""
    texts = {s.text for s in SUGGESTIONS}
    sources = {s.source.split(":")[0] for s in SUGGESTIONS}
    assert "./dev stkpi local up" in texts  # README code block
    assert "stkpi local down" in texts  # an error message in backticks
    assert any(t.startswith("stkpi backfill --entities") for t in texts)  # validate's next step
    assert any(t.startswith("./dev stkpi report --out") for t in texts)  # README prose
    assert {
        "README.md",
        "docs/DEPLOY.md",
        "shared/stkpi/validation/judges/completeness.py",
    } <= sources
    assert len(SUGGESTIONS) > 40


@pytest.mark.parametrize("suggestion", SUGGESTIONS, ids=str)
def test_every_suggested_command_parses(suggestion: Suggestion) -> None:
    problem = parse(suggestion)
    assert problem is None, f"{suggestion}\n  the CLI refuses it: {problem}"


@pytest.mark.parametrize(
    "text",
    [
        "stkpi backfill --end 2025-01-01",  # --start missing
        "stkpi backfill --entities E --start",  # --start without a value
        "stkpi explain --kpi leads --bu X --week 2025-08-18 --verbose",  # no such option
        "stkpi report --weeks many",  # not a number
        "stkpi local upp",  # no such subcommand
        "stkpi statuss",  # no such command
        "./dev stkpi dead-letters [--replays]",  # the optional part is checked too
    ],
)
def test_a_broken_suggestion_fails(text: str) -> None:
    """The checker can fail: each of these is a mistake a suggestion could make."""
    assert parse(Suggestion("example", 1, text, strict=True)) is not None


def test_prose_ends_where_the_options_end() -> None:
    prose = "see stkpi status (did the daily run plan, load and rebuild?); or stkpi daily now"
    found = list(_commands_in(prose, source="x", line=1, code=False))
    assert [s.text for s in found] == ["stkpi status", "stkpi daily now"]
    assert all(parse(s) is None for s in found)


@pytest.mark.parametrize("bu", ["Phoenix-Sales", "Phoenix Sales", "Andy's Painting"])
def test_explain_commands_built_from_data_parse_and_name_the_cell(bu: str) -> None:
    """The report's hover text and validate's KPI-jump step quote the BU so a shell (and the
    CLI) gets it back whole."""
    from stkpi.report.format import explain_command
    from stkpi.validation.judges.kpis import _explain

    week = dt.date(2025, 8, 18)
    for text in (explain_command("leads", bu, week), _explain("leads", bu, week)):
        assert parse(Suggestion("built", 0, text, strict=True)) is None, text
        argv = shlex.split(text)
        assert argv[argv.index("--bu") + 1] == bu, text
