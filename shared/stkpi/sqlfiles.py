"""Load SQL files from ``sql/`` and fill in their dataset placeholders.

SQL lives in files (the single source of truth, reviewed as SQL); Python only substitutes
``${project}``, ``${raw}``, ``${stage}``, ``${dim}``, ``${mart}``, ``${ops}``,
``${report_tz}`` and per-statement values such as ``${table}``. ``string.Template`` is used
because braces are common in SQL while ``$`` is rare: the one place SQL needs a literal
``$`` is a JSON path, written ``'$$.job.id'`` in the files (``$$`` renders as ``$``).
"""

from __future__ import annotations

import os
from pathlib import Path
from string import Template

from stkpi.config import Settings


def sql_dir() -> Path:
    """The ``sql/`` folder: ``STKPI_SQL_DIR`` if set, else the repo's (or archive's) copy."""
    override = os.environ.get("STKPI_SQL_DIR")
    if override:
        return Path(override)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "sql"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("sql/ folder not found; set STKPI_SQL_DIR")


def dataset_params(settings: Settings) -> dict[str, str]:
    return {
        "project": settings.gcp_project,
        "raw": settings.dataset("raw"),
        "stage": settings.dataset("stage"),
        "dim": settings.dataset("dim"),
        "mart": settings.dataset("mart"),
        "ops": settings.dataset("ops"),
        "report_tz": settings.report_timezone,
    }


def render(relpath: str, settings: Settings, **extra: str) -> str:
    """Text of ``sql/<relpath>`` with every placeholder filled; a missing one raises."""
    text = (sql_dir() / relpath).read_text()
    return Template(text).substitute({**dataset_params(settings), **extra})


def statements(sql: str) -> list[str]:
    """Split a rendered file on ``;`` at line ends (files never put ``;`` inside strings)."""
    parts = [p.strip() for p in sql.split(";\n")]
    return [p.rstrip(";").strip() for p in parts if p.strip() and not _only_comments(p)]


def _only_comments(block: str) -> bool:
    return all(not ln.strip() or ln.strip().startswith("--") for ln in block.splitlines())
