"""``stkpi chaos``: fault-injection scenarios on a fresh local stack, judged key for key.

Prints one row per scenario (records expected, in raw, duplicates, rebuilds, retries,
dead letters, PASS/FAIL) and writes the whole report as JSON; exits 1 if any scenario
fails. ``--soak N`` instead runs N daily runs back to back and watches process memory.
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


def chaos(
    scale: Annotated[
        float, typer.Option(help="tenant size (1.0 = production); 0.1 = tens of thousands")
    ] = 0.1,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="run just this scenario (repeatable)")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="deliveries at once per function")] = 8,
    soak: Annotated[
        int, typer.Option(min=0, help="instead: N daily runs back to back (memory watch)")
    ] = 0,
    out: Annotated[Path | None, typer.Option(help="JSON report path")] = None,
    root: Annotated[Path, typer.Option(help="working folder of the stack")] = Path(".stkpi/chaos"),
    seed: Annotated[int, typer.Option()] = 11,
) -> None:
    """Run the fault-injection scenarios (or the soak) and print the verdicts."""
    from stkpi_tools.chaos.lab import LabConfig
    from stkpi_tools.chaos.runner import write_report
    from stkpi_tools.chaos.scenarios import by_name
    from stkpi_tools.chaos.soak import run_soak

    if not 0 < scale <= 1:
        raise typer.BadParameter(f"must be in (0, 1], got {scale}", param_hint="--scale")
    try:
        scenarios = by_name(only)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--only") from None
    config = LabConfig(scale=scale, seed=seed, concurrency=concurrency)
    if soak:
        report = run_soak(root, soak, config, on_run=_print_sample)
        path = write_report(report, out or Path("chaos/soak-results.json"))
        _print_soak(report)
    else:
        console.rule(f"[bold]st-kpi chaos: {len(scenarios)} scenario(s), scale {scale}")
        report = _run_labs(root, scenarios, config)
        path = write_report(report, out or Path("chaos/results.json"))
        render(report)
    console.print(f"report written to [bold]{path}[/]")
    if not report["passed"]:
        raise typer.Exit(1)


def _run_labs(root: Path, scenarios: list, config) -> dict:  # type: ignore[type-arg]
    """The scenarios in one lab, except those that need added tenants: those in a second
    lab whose deployment serves two (``lab_tenants``), as ``./dev test-chaos`` runs them;
    one report for both."""
    from dataclasses import replace

    from stkpi_tools.chaos.runner import run_chaos
    from stkpi_tools.chaos.scenarios import lab_tenants

    plain = [s for s in scenarios if not s.needs_tenants]
    tenanted = [s for s in scenarios if s.needs_tenants]
    labs = [(root, plain, config)] if plain else []
    if tenanted:
        cfg = replace(config, tenants=lab_tenants(config.scale))
        labs.append((root / "tenants" if plain else root, tenanted, cfg))
    reports = [run_chaos(r, group, cfg, on_result=_print_progress) for r, group, cfg in labs]
    if len(reports) == 1:
        return reports[0]
    return {
        **reports[-1],
        "config": reports[0]["config"],
        "tenants_lab_config": reports[-1]["config"],
        "setup_seconds": round(sum(r["setup_seconds"] for r in reports), 1),
        "total_seconds": round(sum(r["total_seconds"] for r in reports), 1),
        "passed": all(r["passed"] for r in reports),
        "scenarios": [s for r in reports for s in r["scenarios"]],
    }


def _print_progress(result) -> None:  # type: ignore[no-untyped-def]
    verdict = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
    console.print(f"{verdict} {result.name} ({result.seconds:.0f}s)")
    for c in result.checks:
        if not c["ok"]:
            console.print(f"    [red]x[/] {c['check']}")
    if result.error:
        console.print(f"    [red]error:[/] {result.error}")


def render(report: dict) -> None:
    from stkpi_tools.chaos.runner import HEADER, rows

    table = Table(title="Chaos scenarios (raw compared with the simulator key for key)")
    for i, col in enumerate(HEADER):
        table.add_column(col, overflow="fold", justify="left" if i < 2 else "right")
    for row in rows(report):
        verdict = "[green]PASS[/]" if row[-1] == "PASS" else "[red]FAIL[/]"
        table.add_row(*row[:-1], verdict)
    console.print(table)
    console.print(
        f"stack setup {report['setup_seconds']:.0f}s, total {report['total_seconds']:.0f}s"
    )


def _print_sample(sample: dict) -> None:
    mem = ", ".join(
        f"{n.removeprefix('fn-')} {kib / 1024:.0f} MiB" for n, kib in sample["memory_kib"].items()
    )
    ok = sample["rebuilt"] == 1 and sample["raw_equals_simulator"]
    console.print(
        f"{'[green]ok[/]' if ok else '[red]BAD[/]'} {sample['run']} {sample['seconds']:.0f}s  {mem}"
    )


def _print_soak(report: dict) -> None:
    growth = ", ".join(
        f"{n.removeprefix('fn-')} {g / 1024:+.1f} MiB"
        for n, g in report["growth_kib_since_run_2"].items()
    )
    verdict = "[green]PASS[/]" if report["passed"] else "[red]FAIL[/]"
    console.print(f"{verdict} soak: {report['runs']} daily runs; RSS growth since run 2: {growth}")


def register(app: typer.Typer) -> None:
    app.command("chaos")(chaos)
