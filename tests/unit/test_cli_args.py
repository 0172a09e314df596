"""Bad arguments to the long-running commands fail at once with one clear line (exit 2),
before any stack starts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stkpi_tools.cli import app


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["chaos", "--scale", "5"], "must be in (0, 1]"),
        (["chaos", "--only", "earthquake"], "unknown scenario 'earthquake'"),
        (["chaos", "--soak", "-1"], "greater than or equal to 0"),
        (["bench", "--scales", "0.1,x"], "use numbers like"),
        (["bench", "--scales", "3"], "each scale must be in (0, 2]"),
        (["bench", "--page-size", "0"], "greater than or equal to 1"),
        (["dead-letters", "--all"], "--all only makes sense with --replay"),
        (["backfill", "--start", "2025-02-01", "--end", "2025-01-01"], "is not after --start"),
        (["backfill", "--start", "2025-13-01", "--end", "2025-01-01"], "is not a date"),
        (["status", "--tenant", "t2000"], "'t2000' is not a tenant id"),
        (["daily", "--tenant", "0"], "'0' is not a tenant id"),
        (["quarantine", "--tenant", "20 00"], "'20 00' is not a tenant id"),
        (["dead-letters", "--tenant", "x"], "'x' is not a tenant id"),
    ],
)
def test_bad_arguments_are_named(argv: list[str], says: str) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split())
