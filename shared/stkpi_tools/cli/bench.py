"""``stkpi bench``: backfill throughput against the API's ceiling, per scale and API profile.

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


def _profiles(text: str):  # type: ignore[no-untyped-def]
    from stkpi_tools.bench.profiles import parse_profiles

    try:
        return parse_profiles(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def bench(
    scales: Annotated[str, typer.Option(help="tenant sizes, 1.0 = production")] = "0.1,0.3,1.0",
    profiles: Annotated[
        str,
        typer.Option(
            help="API profiles, one row each: st = ServiceTitan (60 req/s, pages of 5,000, "
            "~1 s a page), friendly = the old 10 req/s, pages of 500, 200 ms"
        ),
    ] = "st,friendly",
    rate_limit: Annotated[
        float | None, typer.Option(min=0.1, help="override: API requests/s allowed")
    ] = None,
    page_size: Annotated[
        int | None, typer.Option(min=1, max=5000, help="override: records per page")
    ] = None,
    latency_ms: Annotated[
        int | None, typer.Option(min=0, help="override: fixed part of the API's answer time")
    ] = None,
    latency_per_record_ms: Annotated[
        float | None, typer.Option(min=0, help="override: answer time per record requested")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="deliveries at once per function")] = 8,
    window_days: Annotated[
        int | None,
        typer.Option(min=1, max=3660, help="fixed window length (default: the pipeline's own)"),
    ] = None,
    baseline: Annotated[bool, typer.Option(help="also run the naive baseline")] = True,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench/results.json"),
    root: Annotated[Path, typer.Option(help="working folder of the stack")] = Path(".stkpi/bench"),
) -> None:
    """Benchmark the backfill (and a daily run) on the local stack at each scale and API
    profile (options given as overrides apply to every profile)."""
    from stkpi_tools.bench.report import markdown, write_results
    from stkpi_tools.bench.runner import BenchConfig, run_bench

    chosen = tuple(
        p.with_overrides(
            rate_limit=rate_limit, page_size=page_size, latency_ms=latency_ms,
            latency_per_record_ms=latency_per_record_ms,
        )
        for p in _profiles(profiles)
    )  # fmt: skip
    cfg = BenchConfig(
        scales=_scales(scales), profiles=chosen, concurrency=concurrency,
        window_days=window_days, baseline=baseline,
    )  # fmt: skip
    console.rule("[bold]st-kpi bench")
    for p in chosen:
        console.print(p.label(), markup=False, highlight=False)
    results = run_bench(root, cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    paths = write_results(results, out)
    render(results)
    console.print(markdown(results), markup=False, highlight=False)
    console.print(f"results written to [bold]{', '.join(str(p) for p in paths)}[/]")


def render(results: dict) -> None:
    from stkpi_tools.bench.report import rows

    table = Table(title="Backfill throughput per scale and API profile")
    header, *body = rows(results)
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in body:
        table.add_row(*row)
    console.print(table)


def bench_reads(
    scale: Annotated[
        float, typer.Option(min=0.001, max=2, help="tenant size, 1.0 = production")
    ] = 0.1,
    export_page_size: Annotated[
        int, typer.Option(min=1, max=5000, help="records in one export answer")
    ] = 5000,
    in_flight: Annotated[int, typer.Option(min=1, max=200, help="list pages at once")] = 60,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench/reads.json"),
    root: Annotated[Path, typer.Option(help="working folder")] = Path(".stkpi/bench-reads"),
) -> None:
    """Export or list: a backfill and a daily read of every entity both ways, at
    ServiceTitan's limits (the st profile), with the project's client (docs/EXPORTS.md)."""
    from stkpi_tools.bench.reads import ReadsConfig, markdown, run_reads, write

    cfg = ReadsConfig(scale=scale, export_page_size=export_page_size, in_flight=in_flight)
    console.rule("[bold]st-kpi bench-reads")
    console.print(cfg.profile.label(), markup=False, highlight=False)
    root.mkdir(parents=True, exist_ok=True)
    results = run_reads(root, cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    paths = write(results, out)
    console.print(markdown(results), markup=False, highlight=False)
    console.print(f"results written to [bold]{', '.join(str(p) for p in paths)}[/]")


def bench_tenants(
    scales: Annotated[
        str, typer.Option(help="the three tenants' sizes, the largest first (1.0 = production)")
    ] = "0.3,0.1,0.03",
    concurrency: Annotated[int, typer.Option(min=1, help="deliveries at once per function")] = 8,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench/tenants.json"),
    root: Annotated[Path, typer.Option(help="working folder")] = Path(".stkpi/bench-tenants"),
) -> None:
    """Three tenants of different sizes backfilled at once by one deployment at
    ServiceTitan's limits (60 requests/s per app and tenant, pages of 5,000), against the
    largest alone; the goal is at most 1.5x (docs/PERFORMANCE.md)."""
    from stkpi_tools.bench.tenants import TenantsBenchConfig, markdown, run_tenants_bench, write

    chosen = _scales(scales)
    if len(chosen) != 3 or sorted(chosen, reverse=True) != list(chosen):
        raise typer.BadParameter(f"{scales!r}: three scales, the largest first")
    cfg = TenantsBenchConfig(scales=chosen, concurrency=concurrency)  # type: ignore[arg-type]
    console.rule("[bold]st-kpi bench-tenants")
    console.print(cfg.profile.label(), markup=False, highlight=False)
    results = run_tenants_bench(root, cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    paths = write(results, out)
    console.print(markdown(results), markup=False, highlight=False)
    console.print(f"results written to [bold]{', '.join(str(p) for p in paths)}[/]")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
    app.command("bench-reads")(bench_reads)
    app.command("bench-tenants")(bench_tenants)
