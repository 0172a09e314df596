"""``stkpi bench``: backfill throughput against the API's rate-limit ceiling, at several scales.

A script, not a test: it prints the figures and writes them to ``bench/results.json`` (and
a Markdown table to ``bench/results.md`` for docs/PERFORMANCE.md). Nothing is asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

# Wide tables stay readable in CI logs, where there is no terminal to size them by.
console = Console(width=None if sys.stdout.isatty() else 200)


def _scales(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r}: use numbers like 0.1,0.3,1.0") from None
    if not values or any(not 0 < v <= 2 for v in values):
        raise typer.BadParameter(f"{text!r}: each scale must be in (0, 2]")
    return values


def bench(
    scales: Annotated[str, typer.Option(help="tenant sizes, 1.0 = production")] = "0.1,0.3,1.0",
    rate_limit: Annotated[float, typer.Option(min=0.1, help="API requests/s allowed")] = 10.0,
    page_size: Annotated[int, typer.Option(min=1, max=5000)] = 500,
    latency_ms: Annotated[int, typer.Option(min=0, help="API answer time")] = 200,
    concurrency: Annotated[int, typer.Option(min=1, help="deliveries at once per function")] = 8,
    window_days: Annotated[int, typer.Option(min=1, max=3660)] = 365,
    baseline: Annotated[bool, typer.Option(help="also run the naive baseline")] = True,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench/results.json"),
    root: Annotated[Path, typer.Option(help="working folder of the stack")] = Path(".stkpi/bench"),
) -> None:
    """Benchmark the backfill (and a daily run) on the local stack at each scale."""
    from stkpi.bench.report import markdown, write_results
    from stkpi.bench.runner import BenchConfig, run_bench

    cfg = BenchConfig(
        scales=_scales(scales), rate_limit=rate_limit, page_size=page_size,
        latency_ms=latency_ms, concurrency=concurrency, window_days=window_days,
        baseline=baseline,
    )  # fmt: skip
    console.rule(
        f"[bold]st-kpi bench: {rate_limit:g} req/s x {page_size} = ceiling {cfg.ceiling:,.0f} "
        "records/s"
    )
    results = run_bench(root, cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    paths = write_results(results, out)
    render(results)
    console.print(markdown(results), markup=False, highlight=False)
    console.print(f"results written to [bold]{', '.join(str(p) for p in paths)}[/]")


def render(results: dict) -> None:
    from stkpi.bench.report import rows

    table = Table(title="Backfill throughput per scale")
    header, *body = rows(results)
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in body:
        table.add_row(*row)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
