"""ServiceTitan's Reporting API v2 (module ``reporting``), served from the simulated tenant.

Paths (SERVICETITAN.md, "Limits and errors"):

- ``GET  /reporting/v2/tenant/{tenant}/report-categories``
- ``GET  /reporting/v2/tenant/{tenant}/report-category/{category}/reports`` (paged)
- ``GET  /reporting/v2/tenant/{tenant}/report-category/{category}/reports/{id}``
- ``POST /reporting/v2/tenant/{tenant}/report-category/{category}/reports/{id}/data``
  with ``{"parameters": [{"name": "From", "value": "2025-08-11"}, ...]}`` and
  ``page``/``pageSize`` in the query -> ``{fields, data, page, pageSize, hasMore,
  totalCount}``.

Every data request (any page) is a call of that report: the same report at most once a
minute per tenant, else ``429`` with ``Retry-After``; the 429s are counted per report in
the simulator's stats (``report_throttled_429``) so an end-to-end run can prove it never
exceeded the limit. Report ids differ per tenant (``report_id``), as on ServiceTitan.
What each report computes, and where that differs from KPIS.md: ``stkpi_tools.sim.reports``.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from flask import Blueprint, Response, request

from stkpi_tools.sim.api import ApiError, _guard, _int_param, bad_param, json_response
from stkpi_tools.sim.reports import CATEGORIES, REPORTS, Report, run_report

BASE = "/reporting/v2/tenant/<tenant>"
MODULE = "reporting"
MAX_PAGE_SIZE = 25_000
REPORTS_MODIFIED_ON = "2024-01-01T00:00:00Z"  # when the catalog's reports were last edited
DEFAULT_PAGE_SIZE = 5_000
PARAMETERS = (
    {"name": "From", "label": "From", "dataType": "Date", "isArray": False, "isRequired": True},
    {"name": "To", "label": "To", "dataType": "Date", "isArray": False, "isRequired": True},
    {"name": "BusinessUnitIds", "label": "Business Units", "dataType": "Number",
     "isArray": True, "isRequired": False},
)  # fmt: skip


def report_id(tenant_id: str, key: str) -> int:
    """The tenant's id of report ``key``: stable for a tenant, different across tenants."""
    base = 10_000 + zlib.crc32(f"tenant:{tenant_id}".encode()) % 80_000
    return base + [r.key for r in REPORTS].index(key) + 1


def _reports(tenant: str, category: str) -> list[tuple[int, Report]]:
    if category not in {c for c, _ in CATEGORIES}:
        raise ApiError(404, "Not Found", f"report category {category!r} not found")
    return [(report_id(tenant, r.key), r) for r in REPORTS if r.category == category]


def _find(tenant: str, category: str, rid: int) -> Report:
    for found, report in _reports(tenant, category):
        if found == rid:
            return report
    raise ApiError(404, "Not Found", f"report {rid} not found in category {category!r}")


def _categories(tenant: str) -> Response:
    _guard(tenant, MODULE)
    data = [{"id": c, "name": n} for c, n in CATEGORIES]
    return json_response({"page": 1, "pageSize": len(data), "hasMore": False,
                          "totalCount": len(data), "data": data})  # fmt: skip


def _list(tenant: str, category: str) -> Response:
    _guard(tenant, MODULE)
    page = _int_param("page", 1, 1, None)
    size = _int_param("pageSize", 50, 1, 5_000)
    reports = _reports(tenant, category)
    chunk = reports[(page - 1) * size : page * size]
    data = [{"id": rid, "name": r.name, "description": r.description} for rid, r in chunk]
    return json_response({"page": page, "pageSize": size, "hasMore": len(reports) > page * size,
                          "totalCount": len(reports), "data": data})  # fmt: skip


def _describe(tenant: str, category: str, rid: int) -> Response:
    _guard(tenant, MODULE)
    report = _find(tenant, category, rid)
    return json_response({"id": rid, "name": report.name, "description": report.description,
                          "modifiedOn": REPORTS_MODIFIED_ON,
                          "fields": [f.as_json() for f in report.fields],
                          "parameters": list(PARAMETERS)})  # fmt: skip


def _date(params: dict[str, Any], name: str) -> dt.date:
    raw = params.get(name)
    if raw is None:
        raise bad_param(name, "is required (a date YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        raise bad_param(name, f"{raw!r} is not a date YYYY-MM-DD") from None


def _parameters() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True)
    if body is None:
        body = {}
    if not isinstance(body, dict) or not isinstance(body.get("parameters", []), list):
        raise bad_param("parameters", 'expected {"parameters": [{"name": ..., "value": ...}]}')
    out: dict[str, Any] = {}
    for item in body.get("parameters", []):
        if not isinstance(item, dict) or "name" not in item:
            raise bad_param("parameters", f"each parameter needs a name and a value: {item!r}")
        out[str(item["name"])] = item.get("value")
    unknown = sorted(set(out) - {p["name"] for p in PARAMETERS})
    if unknown:
        raise bad_param(unknown[0], "unknown parameter for this report")
    return out


def _bu_ids(raw: Any) -> list[int] | None:
    if raw in (None, "", []):
        return None
    values = raw if isinstance(raw, list) else str(raw).split(",")
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise bad_param("BusinessUnitIds", f"{raw!r} is not a list of ids") from None


def _data(tenant: str, category: str, rid: int) -> Response:
    st = _guard(tenant, MODULE)
    report = _find(tenant, category, rid)
    page = _int_param("page", 1, 1, None)
    size = _int_param("pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    params = _parameters()
    start, end = _date(params, "From"), _date(params, "To")
    if end < start:
        raise bad_param("To", f"{end} is before From {start}")
    bu_ids = _bu_ids(params.get("BusinessUnitIds"))
    wait = st.report_limiter.acquire(tenant, rid)
    if wait:
        st.faults.count("report_429")
        st.faults.count(f"report_429_{report.key}")
        raise ApiError(429, "Too Many Requests",
                       f"report {rid} may be requested once a minute", retry_after=wait)  # fmt: skip
    st.faults.count(f"report_calls_{report.key}")
    rows = run_report(report.key, st.report_source, start, end, bu_ids, st.config.time_zone)
    chunk = rows[(page - 1) * size : page * size]
    return json_response({
        "fields": [{"name": f.name, "label": f.label} for f in report.fields],
        "page": page, "pageSize": size, "hasMore": len(rows) > page * size,
        "totalCount": len(rows), "data": chunk,
    })  # fmt: skip


def blueprint() -> Blueprint:
    bp = Blueprint("st_reporting", __name__)
    bp.add_url_rule(f"{BASE}/report-categories", "report_categories", _categories)
    bp.add_url_rule(f"{BASE}/report-category/<category>/reports", "reports", _list)
    bp.add_url_rule(f"{BASE}/report-category/<category>/reports/<int:rid>", "report", _describe)
    bp.add_url_rule(
        f"{BASE}/report-category/<category>/reports/<int:rid>/data",
        "report_data",
        _data,
        methods=["POST"],
    )
    return bp
