"""``stkpi calibrate``: how often the validations cry wolf, and how often they catch a fault.

A measurement, not a test: it judges hundreds of simulated tenants (seeds x every hour of
some days x scales) healthy and with one fault each (stkpi_tools.calibrate), prints the
false-alarm rate per check family and the detection rate per fault, and writes them to
``calibration/results.json`` and ``.md`` (docs/VALIDATION.md quotes them). Nothing is
asserted; exit 0 whatever the figures.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 160)


def _numbers(text: str, kind: type, option: str) -> tuple:  # type: ignore[type-arg]
    try:
        values = tuple(kind(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r}: a comma-separated list", param_hint=option) from None
    if not values:
        raise typer.BadParameter("give at least one value", param_hint=option)
    return values


def _days(text: str) -> tuple[dt.date, ...]:
    try:
        return tuple(dt.date.fromisoformat(x.strip()) for x in text.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r}: dates YYYY-MM-DD", param_hint="--days") from None


def calibrate(
    seeds: Annotated[str, typer.Option(help="simulator seeds")] = "1,2,3,4,5,6",
    days: Annotated[
        str, typer.Option(help="UTC days whose 24 hours are the clocks")
    ] = "2026-12-07,2025-10-01",
    scales: Annotated[str, typer.Option(help="tenant sizes (1.0 = production)")] = "0.01,0.05",
    workers: Annotated[int, typer.Option(min=1, help="processes")] = max(
        1, min(2, os.cpu_count() or 1)
    ),
    config: Annotated[
        Path | None, typer.Option(help="JSON file overriding validation thresholds")
    ] = None,
    timezone: Annotated[str, typer.Option(help="report time zone")] = "America/Phoenix",
    out: Annotated[Path, typer.Option(help="results file (and .md beside it)")] = Path(
        "calibration/results.json"
    ),
) -> None:
    """False alarms per check family on healthy simulated tenants, and detection of a lost
    window, a dropped month, a volume drop, a stale entity and a broken join."""
    from stkpi.validation.config import load_validation_config
    from stkpi_tools.calibrate.run import Grid, write_results
    from stkpi_tools.calibrate.run import calibrate as run

    seed_list = _numbers(seeds, int, "--seeds")
    scale_list = _numbers(scales, float, "--scales")
    if any(not 0 < s <= 1 for s in scale_list):
        raise typer.BadParameter(f"{scales!r}: each scale in (0, 1]", param_hint="--scales")
    grid = Grid(seeds=seed_list, days=_days(days), scales=scale_list)
    thresholds = load_validation_config(config)
    console.rule(f"[bold]st-kpi calibrate: {len(grid)} tenants, 5 faults each")
    with console.status("judging") as status:
        report = run(
            grid,
            thresholds,
            timezone,
            workers=workers,
            on_tenant=lambda done, total: status.update(f"judged {done}/{total} tenants"),
        )
    render(report)
    json_path, md_path = write_results(report, out)
    console.print(f"written {json_path} and {md_path} ({report['seconds']:.0f} s)")


def render(report: dict) -> None:  # type: ignore[type-arg]
    healthy, overall = report["healthy"], report["overall"]
    table = Table(title=f"Healthy tenants: {healthy['tenants']}")
    for col in ("check family", "tenants not GREEN", "false-alarm rate"):
        table.add_column(col, justify="right" if col != "check family" else "left")
    for fam in ("freshness", "volume", "coverage", "join"):
        row = healthy["by_family"].get(fam, {"tenants": 0, "rate": 0.0})
        table.add_row(fam, str(row["tenants"]), f"{row['rate']:.2%}")
    table.add_row(
        "[bold]any", str(healthy["false_alarms"]), f"[bold]{overall['false_alarm_rate']:.2%}"
    )
    console.print(table)
    faults = Table(title="Faulted tenants (one fault each)")
    for col in ("fault", "meant for", "faulted", "caught", "detection", "caught by", "n/a"):
        faults.add_column(col)
    for name, f in report["faults"].items():
        by = ", ".join(f"{k} {v}" for k, v in sorted(f["caught_by_family"].items()))
        na = ", ".join(f"scale {k}: {v}" for k, v in sorted(f["not_applicable"].items()))
        faults.add_row(
            name, f["family"], str(f["n"]), str(f["caught"]), f"{f['detection_rate']:.2%}", by, na
        )
    faults.add_row("[bold]all", "", "", "", f"[bold]{overall['detection_rate']:.2%}", "", "")
    console.print(faults)
    goal = "meets" if overall["meets_goal"] else "does NOT meet"
    console.print(
        f"goal (<= {overall['goal_false_alarm_rate']:.0%} healthy not GREEN, >= "
        f"{overall['goal_detection_rate']:.0%} faults caught): {goal} it"
    )
    for fam, examples in healthy["examples"].items():
        for line in examples[:3]:
            console.print(f"  false alarm ({fam}): {line}", highlight=False)
    for name, f in report["faults"].items():
        for line in f["misses"][:3]:
            console.print(f"  missed {name}: {line}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
