"""The rich tables the CLI and the demo print: the pipeline's status (runs, raw tables, key
scans, dead letters) and the reconciliation with ServiceTitan's reports.

A module of its own so the demo prints the same tables as ``stkpi status`` and
``stkpi reconcile`` without importing the CLI's command modules.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

console = Console()

# reconciliation status -> rich style
STATUS_STYLE = {"match": "green", "explained": "yellow", "unexplained": "bold red"}


def render_status(report: dict) -> None:
    """``stkpi.status.collect_status``'s report as tables: runs, raw tables, key scans,
    then the dead-letter count."""
    runs = Table(title="Runs (newest first)")
    for col in ("run", "type", "windows", "loaded", "failed", "rebuilt", "records"):
        runs.add_column(col)
    for r in report["runs"]:
        runs.add_row(
            r["run_id"],
            str(r.get("run_type") or ""),
            str(r.get("windows") or 0),
            str(r.get("loaded") or 0),
            str(r.get("failed") or 0),
            str(r.get("rebuilt_at") or "-"),
            str(r.get("records") or 0),
        )
    console.print(runs)
    entities = Table(title="Raw tables")
    for col in ("entity", "rows", "newest modifiedOn", "lag (h)"):
        entities.add_column(col)
    for e in report["entities"]:
        lag = e.get("lag_hours")
        entities.add_row(
            e["entity"],
            str(e["rows"]),
            str(e.get("newest") or "-"),
            "-" if lag is None else f"{lag:.1f}",
        )
    console.print(entities)
    render_scans(report.get("scans", []))
    dead = report.get("dead_letters", {})
    total = sum(dead.values())
    style = "red" if total else "green"
    console.print(f"[{style}]dead letters: {total}[/] {dead if total else ''}")


def render_scans(scans: list[dict]) -> None:
    """The last key scan per entity (stkpi.key_scan): what it saw and marked, or why not."""
    table = Table(title="Key scans (last per entity)")
    for col in ("entity", "run", "at", "keys seen", "marked", "reappeared", "result"):
        table.add_column(col)
    for s in scans:
        guarded = bool(s.get("guarded"))
        table.add_row(
            s["entity"],
            str(s.get("run_id") or "-"),
            str(s.get("event_time") or "-"),
            str(s.get("keys_seen", "-")),
            str(s.get("marked", 0)),
            str(s.get("to_unmark", 0)),
            f"[red]GUARDED: {s.get('reason')}[/]" if guarded else "[green]applied[/]",
        )
    if not scans:
        table.add_row("-", "no key scan yet (stkpi deletes)", "", "", "", "", "")
    console.print(table)


def _money(value: Any) -> str:
    return "" if value is None else f"{float(value):,.2f}"


def print_cells(rec: Any, console: Console, *, records: int = 10) -> None:
    """The reconciliation table, then the differing records of each cell that differs
    (``records`` per cell; ``--json`` lists them all)."""
    table = Table(title=f"Reconciliation with ServiceTitan, weeks {', '.join(map(str, rec.weeks))}")
    for col in ("kpi", "bu", "week", "ours", "ServiceTitan", "difference", "status", "rules"):
        table.add_column(
            col, justify="right" if col in ("ours", "ServiceTitan", "difference") else "left"
        )
    for c in rec.cells:
        style = STATUS_STYLE[c.status]
        table.add_row(c.kpi, c.bu, str(c.week), _money(c.ours), _money(c.st),
                      _money(c.difference), f"[{style}]{c.status}[/]", ", ".join(c.rules))  # fmt: skip
    console.print(table)
    for c in rec.cells:
        if c.status == "match":
            continue
        detail = Table(title=f"{c.kpi} {c.bu} week of {c.week}: {c.status}. {c.note}".strip())
        for col in ("record", "ours", "ours date", "ServiceTitan", "ST date", "rule / why"):
            detail.add_column(col)
        for r in c.records[:records]:
            detail.add_row(r.record_id, _money(r.ours_amount), str(r.ours_date or ""),
                           _money(r.st_amount), str(r.st_date or ""), r.rule or r.note)  # fmt: skip
        if len(c.records) > records:
            detail.caption = f"{len(c.records) - records} more: --json lists them all"
        console.print(detail)


def print_stored(pctx: Any, console: Console) -> None:
    """The latest stored pass (``sql/report/reconciliation.sql``) as the same table."""
    from stkpi.sqlfiles import render

    sql = render("report/reconciliation.sql", pctx.settings).strip().rstrip(";")
    rows = [dict(r.items()) for r in pctx.bigquery.query_and_wait(sql)]
    if not rows:
        console.print("Reconciliation with ServiceTitan: none stored (see `stkpi reconcile`).")
        return
    table = Table(
        title=f"Reconciliation with ServiceTitan (run {rows[0]['run_id']})", box=box.SIMPLE_HEAD
    )
    for col in ("kpi", "bu", "week", "ours", "ST", "diff", "status"):
        table.add_column(col, justify="right" if col in ("ours", "ST", "diff") else "left")
    rank = {"unexplained": 0, "explained": 1, "match": 2}
    empty = [r for r in rows if r["status"] == "match" and not r["ours"] and not r["theirs"]]
    rows = [r for r in rows if r not in empty]
    table.caption = f"{len(empty)} more cells are 0 on both sides (match)"
    for r in sorted(
        rows, key=lambda r: (r["kpi"], r["week_start"], rank.get(r["status"], 3), r["bu"])
    ):
        style = STATUS_STYLE[r["status"]]
        status = r["status"] + (f": {r['rules']}" if r["rules"] else "")
        table.add_row(r["kpi"], r["bu"], f"{r['week_start']:%m-%d}", _money(r["ours"]),
                      _money(r["theirs"]), _money(r["difference"]), f"[{style}]{status}[/]")  # fmt: skip
    console.print(table)
