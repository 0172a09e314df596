"""The benchmark's figures as rows: one table for the terminal, the JSON file and Markdown.

One row per scale x API profile. Wide on purpose: every figure a reader needs to say what
bounded the run (API, CPU, warehouse) is in the row, and the JSON file has the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stkpi_tools.results import markdown_table, write_json

HEADER = [
    "scale", "profile", "records", "backfill s", "records/s", "fetch rec/s", "% of ceiling",
    "requests", "records/request", "windows fetched/split", "load jobs", "MERGEs",
    "busy s fetch/load/merge/rebuild", "CPU s sim/fn/emu/other", "CPU s per 1k rec fn/all",
    "daily s", "peak MiB fetch/load/rebuild", "naive s", "speed-up", "CPU vs naive",
]  # fmt: skip


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def _peak(run: dict[str, Any], fn: str) -> int:
    return int(run.get("memory_kib", {}).get(f"fn-{fn}", {}).get("peak_kib", 0))


def _s(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def row(run: dict[str, Any]) -> list[str]:
    bf = run["backfill"]
    st = bf["stages"]
    fetch, load, merge = st.get("fetch", {}), st.get("load", {}), st.get("merge", {})
    rebuild = st.get("rebuild", {}).get("seconds", 0)
    groups = bf.get("cpu", {}).get("groups", {})
    per_k = bf.get("cpu", {}).get("per_1000_records", {})
    other = groups.get("plumbing", 0) + groups.get("bench", 0) + groups.get("other", 0)
    naive = run.get("baseline") or {}
    busy = (fetch.get("busy_seconds", 0), load.get("busy_seconds", 0),
            merge.get("busy_seconds", 0), rebuild)  # fmt: skip
    cpu = (groups.get("simulator", 0), groups.get("functions", 0),
           groups.get("emulators", 0), other)  # fmt: skip
    return [
        f"{run['scale']:g}",
        run["profile"],
        f"{bf['records']:,}",
        f"{bf['seconds']:.0f}",
        f"{bf['records_per_second']:,.0f}",
        f"{fetch.get('records_per_second', 0):,.0f}",
        f"{100 * fetch.get('ceiling_ratio', 0):.0f}%",
        f"{bf['requests']:,}",
        f"{bf['records_per_request']:,.0f}",
        f"{fetch.get('windows', 0)}/{fetch.get('windows_split', 0)}",
        str(load.get("load_jobs", 0)),
        str(merge.get("merges", 0)),
        "/".join(_s(b) for b in busy),
        "/".join(_s(c) for c in cpu),
        f"{per_k.get('functions', 0):.2f}/{per_k.get('total', 0):.2f}",
        f"{run['daily']['seconds']:.0f}" if "daily" in run else "-",
        "/".join(_mib(_peak(run, f)) for f in ("fetch_window", "load_batch", "rebuild_dims")),
        f"{naive['seconds']:.0f}" if naive else "-",
        f"{run['speedup']:.1f}x" if run.get("speedup") else "-",
        f"{run['cpu_ratio']:.2f}x" if run.get("cpu_ratio") else "-",
    ]


def rows(results: dict[str, Any]) -> list[list[str]]:
    """Header + one row per scale x profile."""
    return [HEADER] + [row(r) for r in results["runs"]]


def markdown(results: dict[str, Any]) -> str:
    header, *body = rows(results)
    lines = markdown_table(header, body)
    cfg, m = results["config"], results["machine"]
    lines.append("")
    for name, p in cfg["profiles"].items():
        per_record = p["latency_per_record_ms"]
        answer = f"{p['latency_ms']} ms" + (f" + {per_record:g} ms/record" if per_record else "")
        lines.append(
            f"- `{name}`: {p['rate_limit']:g} requests/s, pages of {p['page_size']:,}, ceiling "
            f"{p['ceiling_records_per_second']:,.0f} records/s; answers in {answer} "
            f"({p['full_page_ms']:,} ms a full page, {p['one_record_ms']} ms one record), so "
            f"{p['in_flight_needed']:g} requests in flight to reach the ceiling."
        )
    windows = (
        f"backfill windows of {cfg['window_days']} days (--window-days)"
        if cfg.get("window_days")
        else f"plans without a window length (the deployment's WINDOW_DAYS="
        f"{cfg.get('deployment_window_days')}, windows sized by the pipeline)"
    )
    in_flight = ""
    for name, p in cfg["profiles"].items():
        dep = p.get("deployment", {})
        if "WINDOW_LANES" in dep and "FETCH_PAGES_IN_FLIGHT" in dep:
            most = dep["WINDOW_LANES"] * dep["FETCH_PAGES_IN_FLIGHT"]
            in_flight += (
                f"; `{name}`: {dep['WINDOW_LANES']} window lanes x "
                f"{dep['FETCH_PAGES_IN_FLIGHT']} pages in flight = at most {most} requests"
            )
    lines += [
        "",
        f"{cfg['concurrency']} deliveries at once per function; {windows}{in_flight}.",
        f"Machine: {m['platform']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, Python "
        f"{m['python']}; finished {results['finished_at']}; the whole run took "
        f"{results['total_seconds'] / 60:.0f} minutes.",
    ]
    return "\n".join(lines)


def write_results(results: dict[str, Any], path: Path) -> list[Path]:
    return write_json(results, path, markdown(results))
