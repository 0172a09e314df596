"""``stkpi report`` on a fixture warehouse, opened in a real headless browser.

The fixture tenant of ``tests/sql/kpi_tenant.py`` is loaded into raw and the marts are
built with ``build_marts``; a run (one failed window), sync marks and a validation pass
are recorded in ops. The page is opened by Debian's chromium (``scripts/setup_browser.sh``)
with every request forced through a local recording proxy: the test reads the rendered
DOM (after JavaScript), saves a screenshot to ``test-artifacts/``, and checks that the
page asked for nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sql"))
from kpi_tenant import W1, W2, W3, load_tenant
from pydantic import SecretStr

from stkpi.kpi_config import load_kpi_config
from stkpi.marts import build_marts
from stkpi.reconcile.mapping import load_report_map, sources_for
from stkpi.reconcile.reports_api import MemoryCallLog, ReportFetcher, ReportingApi
from stkpi.reconcile.run import reconcile, result_rows, store
from stkpi.report import build_report
from stkpi.servicetitan.client import ServiceTitanClient
from stkpi.state import OpsState
from stkpi.validation.result import CheckResult
from stkpi.validation.store import store_results
from stkpi.warehouse import ensure_tables
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.server import running_simulator

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
NOW = dt.datetime(2025, 9, 8, 15, 0, tzinfo=dt.UTC)
CHROMIUM = os.environ.get("STKPI_CHROMIUM", "/usr/bin/chromium")


# -- fixture warehouse ---------------------------------------------------------------------


def _record_ops(client, settings) -> None:
    state = OpsState(client, settings)
    start, end = dt.datetime(2025, 8, 1, tzinfo=dt.UTC), dt.datetime(2025, 9, 8, tzinfo=dt.UTC)
    state.run_event(
        run_id="run-fixture-1",
        state="planned",
        run_type="backfill",
        entities=["jobs", "invoices"],
        windows=3,
        plan_start=start,
        plan_end=end,
    )
    for entity, window, st, records, error in (
        ("jobs", "w0001", "loaded", 120, None),
        ("invoices", "w0001", "loaded", 80, None),
        ("invoices", "w0002", "failed", None, "HTTP 500 from ServiceTitan after 5 attempts"),
    ):
        state.window_event(
            run_id="run-fixture-1",
            entity=entity,
            window_id=window,
            state=st,
            start=start,
            end=end,
            pages=2 if records else None,
            records=records,
            rows_merged=records,
            duration_ms=1500,
            error=error,
        )
    state.run_event(
        run_id="run-fixture-1",
        state="rebuilt",
        run_type="backfill",
        entities=["jobs", "invoices"],
        windows=3,
        records=200,
        plan_start=start,
        plan_end=end,
        duration_ms=42000,
    )
    state.advance_sync_state("run-fixture-1", {"jobs": end, "invoices": end})
    results = [
        CheckResult(
            "join.jobs_business_units",
            "RED",
            "1 job in BU id 99 not in the business-units reference",
            {"unmapped": 1, "rate": 0.9444},
            next_step="add the BU to sql/seeds/bu_map.csv",
        ),
        CheckResult("volume.jobs", "YELLOW", "jobs: 3 created vs median 5", {"count": 3}),
        CheckResult("freshness.jobs", "GREEN", "jobs synced 2 h ago", {"lag_hours": 2.0}),
    ]
    store_results(client, settings, results, run_id="run-fixture-1", checked_at=NOW)


def _record_reconciliation(client, settings) -> None:
    """A real reconciliation of W1..W2 with the simulator's reports over the same fixture
    tenant: only ServiceTitan's own definitions differ (every difference is explained)."""
    from kpi_tenant import TENANT

    with running_simulator(SimConfig()) as sim:
        sim.state.report_source = lambda name: TENANT.get(name, [])
        st_settings = settings.model_copy(
            update={"st_api_base_url": sim.base_url, "st_auth_url": sim.auth_url,
                    "st_tenant_id": sim.tenant_id, "st_client_id": SecretStr(sim.client_id),
                    "st_client_secret": SecretStr(sim.client_secret),
                    "st_app_key": SecretStr(sim.app_key)}
        )  # fmt: skip
        with ServiceTitanClient(st_settings) as st:
            fetcher = ReportFetcher(ReportingApi(st, sim.tenant_id), MemoryCallLog())
            rec = reconcile(client, settings, fetcher, sources_for(sim.tenant_id, load_report_map()),
                            [W1, W2], load_kpi_config(settings).bu_map)  # fmt: skip
    store(client, settings, result_rows(rec, run_id="run-fixture-1", tenant_id="1000", at=NOW))


@pytest.fixture(scope="module")
def warehouse(bq_emulator):
    client = bq_emulator.client
    settings = bq_emulator.settings.model_copy(update={"bq_dataset_prefix": "rptfx"})
    ensure_tables(client, settings)
    load_tenant(client, settings)
    build_marts(client, settings, load_kpi_config(settings))
    _record_ops(client, settings)
    _record_reconciliation(client, settings)
    return client, settings


@pytest.fixture(scope="module")
def report_file(warehouse) -> Path:
    client, settings = warehouse
    html = build_report(client, settings, weeks=12, now=NOW)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "kpi-report.html"
    path.write_text(html, encoding="utf-8")
    return path


# -- a browser whose every request goes to a recording proxy --------------------------------


class RecordingProxy:
    """A TCP listener on 127.0.0.1 that records the first line of every connection."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                self.requests.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing: run scripts/setup_browser.sh")
        pytest.skip(f"{CHROMIUM} not installed (scripts/setup_browser.sh)")
    return CHROMIUM


def run_browser(binary: str, tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess, list]:
    proxy = RecordingProxy()
    profile = tmp / f"profile-{len(list(tmp.iterdir()))}"
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-component-extensions-with-background-pages",
        "--no-service-autorun",
        "--disable-features=Translate,OptimizationHints,NetworkTimeServiceQuerying",
        # The browser's own services (updates, sign-in) point at a dead loopback port so
        # that anything the proxy records comes from the page.
        "--google-base-url=http://127.0.0.1:9",
        "--gaia-url=http://127.0.0.1:9",
        "--component-updater=url-source=http://127.0.0.1:9",
        f"--user-data-dir={profile}",
        f"--proxy-server=http://127.0.0.1:{proxy.port}",
        "--proxy-bypass-list=<-loopback>",
        "--virtual-time-budget=5000",
        *args,
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    finally:
        proxy.close()
        shutil.rmtree(profile, ignore_errors=True)
    return done, proxy.requests


class Cells(HTMLParser):
    """Text of every element carrying data-* attributes, keyed by those attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple, str] = {}
        self._stack: list[tuple | None] = []
        self.text: list[str] = []
        self.urls: list[str] = []
        self.svg_charts = 0
        self._table_kpi: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ("src", "href", "action", "data", "srcset", "poster"):
            if a.get(name) and "://" in a[name]:
                self.urls.append(f"{tag} {name}={a[name]}")
        if tag == "svg" and "chart" in (a.get("class") or "").split():
            self.svg_charts += 1
        if tag == "table":
            self._table_kpi = a.get("data-kpi")
        data = {k: v for k, v in a.items() if k.startswith("data-")}
        if tag == "td" and self._table_kpi and "data-week" in data:
            data.setdefault("data-kpi", self._table_kpi)
        key = tuple(sorted(data.items()))
        self._stack.append(key if key and tag in ("td", "tr", "div") else None)
        if tag in ("td", "tr"):
            self._buf_start = len(self.text)

    def handle_endtag(self, tag):
        if self._stack:
            key = self._stack.pop()
            if key and tag in ("td",):
                self.cells[key] = "".join(self.text[self._buf_start :]).strip()

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Cells:
    p = Cells()
    p.feed(html)
    return p


def cell(p: Cells, kpi: str, week: dt.date, *, bu: str | None = None, region: str | None = None):
    level = ("data-bu", bu) if bu else ("data-region", region)
    key = tuple(sorted([("data-kpi", kpi), level, ("data-week", week.isoformat())]))
    return p.cells.get(key)


# -- tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(report_file, chromium, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    url = report_file.as_uri()
    dom, requests = run_browser(chromium, tmp, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot_path = ARTIFACTS / "kpi-report.png"
    shot_path.unlink(missing_ok=True)
    shot, shot_requests = run_browser(
        chromium, tmp, f"--screenshot={shot_path}", "--window-size=1400,2000", url
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    return dom.stdout, requests + shot_requests, shot_path


def test_report_renders_kpi_values_in_their_cells(rendered) -> None:
    dom, _, _ = rendered
    p = parse(dom)
    # Sales: counts, money as dollars, ratios as percents (tests/sql/test_kpi_marts.py).
    assert cell(p, "leads", W1, bu="Phoenix-Sales") == "3"
    assert cell(p, "total_booked", W1, bu="Phoenix-Sales") == "$1,500.00"
    assert cell(p, "total_booked", W2, bu="Phoenix-Sales") == "$2,000.50"
    assert cell(p, "success_rate", W1, bu="Phoenix-Sales") == "66.7%"
    assert cell(p, "success_rate", W2, bu="Mesa-Sales") == "n/a"  # 0 / 0
    # Production
    assert cell(p, "produced", W2, bu="Tucson-Production") == "$2,600.00"
    assert cell(p, "gpm", W2, bu="Tucson-Production") == "50.4%"  # 1310 / 2600
    assert cell(p, "warranty_pct", W1, bu="Phoenix-Production") == "50.0%"
    assert cell(p, "outstanding_ar", W3, bu="Tucson-Production") == "$2,815.00"
    assert cell(p, "collected", W1, bu="unlinked") == "$400.00"
    # Regions: PHX Production W1 = Phoenix-Production 1150 + Commercial-AZ 850.
    assert cell(p, "produced", W1, region="PHX") == "$2,000.00"
    # GPM PHX W1 is a ratio of sums: (495 + 250) / (1150 + 850) = 37.3%.
    assert cell(p, "gpm", W1, region="PHX") == "37.3%"


def test_report_shows_stoplight_freshness_and_run_history(rendered) -> None:
    dom, _, _ = rendered
    text = " ".join(parse(dom).text)
    assert "Overall RED" in text
    assert "1 red · 1 yellow · 1 green" in text
    assert "join.jobs_business_units" in text and '"unmapped": 1' in text
    assert "Data freshness per entity" in text
    assert "run-fixture-1" in text
    assert "HTTP 500 from ServiceTitan after 5 attempts" in text
    assert "failed windows" in text


def test_report_cells_carry_their_explain_command(report_file) -> None:
    html = report_file.read_text()
    assert 'title="stkpi explain --kpi leads --bu Phoenix-Sales --week 2025-08-18"' in html


def test_report_flags_unmapped_bucket_in_place(rendered) -> None:
    dom, _, _ = rendered
    text = " ".join(parse(dom).text)
    assert "unmapped: Unmapped: jobs whose BU id is not in the business-units reference" in text


def test_report_charts_render_offline_and_no_request_leaves_the_page(rendered) -> None:
    dom, requests, shot = rendered
    p = parse(dom)
    # One SVG line chart per KPI table with data (11 KPIs per BU and per region).
    assert p.svg_charts == 22, p.svg_charts
    assert requests == [], f"the page made network requests: {requests}"
    assert p.urls == [], f"external URLs in src/href: {p.urls}"
    assert "Content-Security-Policy" in dom
    assert shot.exists() and shot.stat().st_size > 10_000


def test_report_shows_the_reconciliation_panel_with_records_one_click_away(rendered) -> None:
    dom = rendered[0]
    assert 'id="reconciliation"' in dom and 'id="reconciliation-table"' in dom
    # leads Phoenix-Sales W1: ours 3 distinct non-test customers, ServiceTitan 5 lead jobs
    # (tests/sql/test_reconcile.py works it out); explained, with its 2 records linked
    row = re.search(
        r'<tr data-kpi="leads" data-bu="Phoenix-Sales" data-week="2025-08-18" '
        r'data-status="explained">(.*?)</tr>', dom, re.S,
    )  # fmt: skip
    assert row, "no reconciliation row for leads Phoenix-Sales 2025-08-18"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert [re.sub(r"<[^>]+>", "", c).strip() for c in cells[4:7]] == ["3.00", "5.00", "-2.00"]
    link = re.search(r'href="#(rec-leads-Phoenix-Sales-2025-08-18)">2 records<', row.group(1))
    assert link
    detail = re.search(rf'<div class="rec-detail" id="{link.group(1)}">(.*?)</div>', dom, re.S)
    assert detail, "the link's target is missing"
    assert re.findall(r'data-record="([^"]+)"', detail.group(1)) == ["3", "4"]
    assert "test customer" in detail.group(1)


def test_report_on_an_empty_warehouse_says_what_is_missing(bq_emulator) -> None:
    settings = bq_emulator.settings.model_copy(update={"bq_dataset_prefix": "rptempty"})
    html = build_report(bq_emulator.client, settings, weeks=12, now=NOW)
    text = " ".join(parse(html).text)
    assert "Traceback" not in html
    assert "the table does not exist yet" in text
    assert "stkpi kpi-build" in text
    assert "No pipeline run has been recorded yet" in text
    assert "No raw data yet" in text


def test_wide_tables_get_column_descriptions_without_failing(warehouse) -> None:
    from stkpi.report.looker import COLUMN_DESCRIPTIONS, describe_mart_tables

    client, settings = warehouse
    outcomes = describe_mart_tables(client, settings)
    assert set(outcomes) == set(COLUMN_DESCRIPTIONS)
    # Real BigQuery keeps them; the emulator may not. Either way nothing raises.
    assert all(o in ("described", "not kept by this BigQuery") for o in outcomes.values()), outcomes
    wide = {
        f.name
        for f in client.get_table(
            f"{settings.gcp_project}.{settings.dataset('mart')}.kpi_weekly_bu"
        ).schema
    }
    assert wide <= set(COLUMN_DESCRIPTIONS["kpi_weekly_bu"]), wide - set(
        COLUMN_DESCRIPTIONS["kpi_weekly_bu"]
    )


def test_rebuild_publishes_the_report_to_the_landing_bucket(warehouse, gcs_emulator) -> None:
    from types import SimpleNamespace

    from stkpi.landing import Landing
    from stkpi.report import LATEST_NAME, publish_run_report, run_report_name

    client, settings = warehouse
    storage = gcs_emulator.client
    bucket = storage.bucket("rpt-landing")
    if not bucket.exists():
        storage.create_bucket("rpt-landing")
    ctx = SimpleNamespace(
        bigquery=client,
        settings=settings,
        now=lambda: NOW,
        tenant_now=lambda: NOW,
        landing=Landing(storage, "rpt-landing"),
    )
    names = publish_run_report(ctx, "run-fixture-1")
    assert names == [LATEST_NAME, run_report_name("run-fixture-1")]
    page = storage.bucket("rpt-landing").blob(LATEST_NAME).download_as_text()
    assert 'data-bu="Phoenix-Sales" data-week="2025-08-18"' in page
    assert "Overall RED" in page


def test_stkpi_report_command_writes_the_page(warehouse, bq_emulator, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from stkpi_tools.cli import app

    for key, value in bq_emulator.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BQ_DATASET_PREFIX", "rptfx")
    monkeypatch.setenv("STKPI_STACK_ROOT", str(tmp_path / "no-stack"))
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(app, ["report", "--out", str(out), "--weeks", "4"])
    assert result.exit_code == 0, result.output
    assert "report written" in result.output
    page = out.read_text()
    produced = page[page.index('data-kpi="produced" data-level="bu"') :]
    assert (
        'data-bu="Tucson-Production" data-week="2025-08-25"'
        in produced[: produced.index("</table>")]
    )


# -- the first screen -----------------------------------------------------------------------

VIEWPORT = (1280, 800)
# Added to a copy of the page only (its CSP allows no script): marks every headline value
# with its box in the viewport, so the DOM dump says what the first screen shows.
PROBE = """<script>
document.documentElement.setAttribute("data-viewport", innerWidth + "x" + innerHeight);
for (const el of document.querySelectorAll("[data-kpi-value]")) {
  const r = el.getBoundingClientRect();
  el.setAttribute("data-box", [r.left, r.top, r.right, r.bottom].map(Math.round).join(","));
}
</script>"""


class Boxes(HTMLParser):
    """Headline value cells: (kpi, period) -> (box, text); and the probed viewport."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], tuple[tuple[int, ...], str]] = {}
        self.viewport = ""
        self._open: tuple[str, str, tuple[int, ...]] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.viewport = a.get("data-viewport") or ""
        if a.get("data-kpi-value") and a.get("data-box"):
            box = tuple(int(v) for v in a["data-box"].split(","))
            self._open, self._text = (a["data-kpi-value"], a.get("data-period") or "", box), []

    def handle_endtag(self, tag):
        if tag == "td" and self._open:
            kpi, period, box = self._open
            self.cells[(kpi, period)] = (box, "".join(self._text).strip())
            self._open = None

    def handle_data(self, data):
        if self._open:
            self._text.append(data)


@pytest.fixture(scope="module")
def first_screen(report_file, chromium, tmp_path_factory):
    import markupsafe

    from stkpi.report.render import CSP

    tmp = tmp_path_factory.mktemp("first-screen")
    size = f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}"
    shot_path = ARTIFACTS / "kpi-report-first-screen.png"
    shot_path.unlink(missing_ok=True)
    shot, _ = run_browser(
        chromium, tmp, f"--screenshot={shot_path}", size, "--hide-scrollbars", report_file.as_uri()
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    page = report_file.read_text()
    csp = str(markupsafe.escape(CSP))
    assert csp in page
    probe = tmp / "probe.html"
    probe.write_text(
        page.replace(
            csp, csp.replace("script-src &#39;none&#39;", "script-src &#39;unsafe-inline&#39;")
        ).replace("</body>", PROBE + "</body>")
    )
    dom, _ = run_browser(chromium, tmp, "--dump-dom", size, "--hide-scrollbars", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    boxes = Boxes()
    boxes.feed(dom.stdout)
    return shot_path, boxes


def test_first_screen_shows_the_kpi_values(first_screen) -> None:
    from stkpi.report.format import PRODUCTION_KPIS, SALES_KPIS

    shot, boxes = first_screen
    # The probed viewport is the window less whatever the headless browser reserves (657
    # px high here): the values must fit that, which is stricter than 800.
    width, height = (int(v) for v in boxes.viewport.split("x"))
    assert width == VIEWPORT[0] and 600 <= height <= VIEWPORT[1], boxes.viewport
    # The screenshot is the first screen at 1280x800 (PNG header: width, height).
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(head[16:20]), int.from_bytes(head[20:24])) == VIEWPORT
    for kpi in (*SALES_KPIS, *PRODUCTION_KPIS):
        for period in ("this", "last"):
            (left, top, right, bottom), text = boxes.cells[(kpi, period)]
            assert left >= 0 and right <= width and top >= 0 and bottom <= height, (kpi, period)
            assert text, (kpi, period)
    # Last week (W3, Sep 1; NOW is Monday Sep 8) holds numbers, not placeholders.
    assert boxes.cells[("produced", "last")][1].startswith("$")
    assert any(ch.isdigit() for ch in boxes.cells[("outstanding_ar", "last")][1])


def test_weeks_end_at_the_current_week_marked_partial(report_file) -> None:
    html = report_file.read_text()
    weeks = {dt.date.fromisoformat(w) for w in re.findall(r'data-week="([0-9-]+)"', html)}
    this_monday = dt.date(2025, 9, 8)  # NOW: Monday 2025-09-08 08:00 in Phoenix
    assert max(weeks) == this_monday
    assert "week of Sep 8 (partial, to date)" in html


def test_report_page_is_small(report_file) -> None:
    assert report_file.stat().st_size < 1_500_000
