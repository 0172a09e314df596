"""The benchmark's figures as rows: one table for the terminal, the JSON file and Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stkpi.results import markdown_table, write_json


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def _peak(scale: dict[str, Any], fn: str) -> int:
    return int(scale["memory_kib"].get(f"fn-{fn}", {}).get("peak_kib", 0))


def rows(results: dict[str, Any]) -> list[list[str]]:
    """Header + one row per scale."""
    header = [
        "scale", "records", "backfill s", "records/s", "fetch rec/s", "% of ceiling",
        "records/request", "load job s", "merge s", "rebuild s", "load jobs", "MERGEs",
        "bytes/record", "gzip x", "daily s", "peak MiB fetch/load/rebuild",
        "naive s", "speed-up",
    ]  # fmt: skip
    out = [header]
    for s in results["scales"]:
        bf = s["backfill"]
        fetch = bf["stages"].get("fetch", {})
        load = bf["stages"].get("load", {})
        naive = s.get("baseline") or {}
        out.append(
            [
                f"{s['scale']:g}",
                f"{bf['records']:,}",
                f"{bf['seconds']:.0f}",
                f"{bf['records_per_second']:,.0f}",
                f"{fetch.get('records_per_second', 0):,.0f}",
                f"{100 * fetch.get('ceiling_ratio', 0):.0f}%",
                f"{bf['records_per_request']:.0f}",
                f"{load.get('load_job_seconds', 0):.0f}",
                f"{load.get('merge_seconds', 0):.0f}",
                f"{bf['stages'].get('rebuild', {}).get('seconds', 0):.0f}",
                str(load.get("load_jobs", 0)),
                str(load.get("merges", 0)),
                f"{s['landing']['bytes_per_record']:.0f}",
                f"{s['landing']['gzip_ratio']:.1f}",
                f"{s['daily']['seconds']:.0f}",
                "/".join(_mib(_peak(s, f)) for f in ("fetch_window", "load_batch", "rebuild_dims")),
                f"{naive['seconds']:.0f}" if naive else "-",
                f"{s['speedup']:.1f}x" if s.get("speedup") else "-",
            ]
        )
    return out


def markdown(results: dict[str, Any]) -> str:
    header, *body = rows(results)
    lines = markdown_table(header, body)
    cfg, m = results["config"], results["machine"]
    lines += [
        "",
        f"Rate limit {cfg['rate_limit']:g} requests/s, page size {cfg['page_size']}, "
        f"ceiling {cfg['ceiling_records_per_second']:,.0f} records/s; API latency "
        f"{cfg['latency_ms']} ms; {cfg['concurrency']} deliveries at once per function; "
        f"backfill windows of {cfg['window_days']} days.",
        f"Machine: {m['platform']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, Python "
        f"{m['python']}; finished {results['finished_at']}.",
    ]
    return "\n".join(lines)


def write_results(results: dict[str, Any], path: Path) -> list[Path]:
    return write_json(results, path, markdown(results))
