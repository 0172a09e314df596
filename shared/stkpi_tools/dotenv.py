"""A ``.env`` file in the working directory completes the environment (the environment wins).

The same ``KEY=VALUE`` file serves ``stkpi doctor``, ``stkpi local up`` and ``stkpi demo
--own-tenant``, so a user writes their tenant's settings once. It is read by python-dotenv,
the parser other tools read the same file with: quotes, escapes, a comment after a quoted
value, ``export`` prefixes and multi-line quoted values mean what they mean there.
``${VAR}`` stays as written (no interpolation): a client secret may contain ``$``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import Original, parse_stream

from stkpi.errors import ConfigError


def read_dotenv(path: Path) -> dict[str, str]:
    """The file's ``KEY=VALUE`` settings; a bare ``KEY`` (no ``=``) sets nothing.

    A line python-dotenv cannot parse is an error naming the file and the line, not a
    setting silently dropped."""
    with path.open(encoding="utf-8") as stream:
        broken = [b.original for b in parse_stream(stream) if b.error]
    if broken:
        lines = "\n".join(f"  - line {_first_line(o)}: {o.string.strip()[:80]!r}" for o in broken)
        raise ConfigError(f"{path}: cannot read these lines (KEY=VALUE expected):\n{lines}")
    values = dotenv_values(path, interpolate=False, encoding="utf-8")
    return {key: value for key, value in values.items() if value is not None}


def _first_line(original: Original) -> int:
    """The line the text starts on (python-dotenv counts the blank lines before it in)."""
    text = original.string
    return original.line + text[: len(text) - len(text.lstrip())].count("\n")


def environ_with_dotenv(environ: Mapping[str, str], cwd: Path) -> tuple[dict[str, str], list[str]]:
    """The environment completed by ``cwd/.env``, and the keys that came from the file."""
    env = dict(environ)
    from_file: list[str] = []
    dotenv = cwd / ".env"
    if dotenv.is_file():
        for key, value in read_dotenv(dotenv).items():
            if key not in env:
                env[key] = value
                from_file.append(key)
    return env, sorted(from_file)
