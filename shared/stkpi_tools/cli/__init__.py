"""``stkpi``: the command line. Each command group lives in its own module of this package
and exposes ``register(app)``; user mistakes become one clear line and exit status 2,
never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer
from google.api_core.exceptions import Forbidden
from rich.console import Console

from stkpi.errors import StkpiError

app = typer.Typer(
    name="stkpi",
    help="ServiceTitan -> BigQuery pipeline with weekly KPIs per business unit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command groups, one module each (stkpi/cli/<name>.py with a register(app) function).
_GROUPS = (
    "sim", "local", "pipeline", "kpi", "validate", "report", "deadletters", "bench", "chaos",
    "doctor", "reconcile", "quarantine", "tenant", "calibrate",
)  # fmt: skip


def _register_groups() -> None:
    for name in _GROUPS:
        try:
            module = importlib.import_module(f"stkpi_tools.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"stkpi_tools.cli.{name}":
                continue  # group not built yet
            raise
        module.register(app)


@app.callback()
def _root() -> None:
    """ServiceTitan -> BigQuery pipeline with weekly KPIs per business unit."""


@app.command()
def version() -> None:
    """Print the st-kpi version."""
    from stkpi import __version__

    typer.echo(__version__)


_register_groups()


def main() -> None:
    try:
        app()
    except StkpiError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except Forbidden as exc:  # Google refused the operator: say what, not a traceback
        what = (getattr(exc, "message", "") or str(exc)).splitlines()[0][:300]
        Console(stderr=True).print(
            f"[bold red]permission denied:[/] {what}\n"
            "The operator's grants are in terraform/iam.tf (var.operator_members); "
            "grant the permission there, or run as an account that has it.",
            highlight=False,
        )
        sys.exit(2)
