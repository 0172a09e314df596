"""A ``.env`` file in the working directory completes the environment (the environment wins).

The same ``KEY=VALUE`` file serves ``stkpi doctor`` and ``stkpi local up``, so a user writes
their tenant's settings once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def read_dotenv(path: Path) -> dict[str, str]:
    """Simple ``KEY=VALUE`` lines (``export`` prefix, quotes and ``# comments`` allowed)."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.replace("_", "").isalnum():
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


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
