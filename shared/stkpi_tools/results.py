"""Result files of the measurement scripts (``stkpi chaos``, ``stkpi bench``).

Both write a JSON report with the machine it ran on, and a Markdown table beside it for
the docs; figures are only comparable with the machine named next to them.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def stamped(config: dict[str, Any]) -> dict[str, Any]:
    """A report's head: when it finished, on what machine, with what ``config``."""
    return {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "config": config,
    }


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def write_json(report: dict[str, Any], path: Path, markdown: str | None = None) -> list[Path]:
    """The report at ``path`` (replaced whole, never half-written), and ``markdown`` beside
    it as ``.md`` when given; returns the paths written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str))
    tmp.replace(path)
    if markdown is None:
        return [path]
    md = path.with_suffix(".md")
    md.write_text(markdown + "\n")
    return [path, md]
