"""The report page from hand-made data: bad input renders a message in place, never a
blank page or a traceback; every value is in a plain table (readable without JavaScript)."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import replace
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from stkpi.report.data import ReportData, Section, current_week_start
from stkpi.report.format import PRODUCTION_KPIS, SALES_KPIS
from stkpi.report.render import CSP, render_error_page, render_html

# Wednesday 2025-09-03, 08:00 in Phoenix: the current week is the one of Monday Sep 1.
NOW = dt.datetime(2025, 9, 3, 15, 0, tzinfo=dt.UTC)
W1, W2, W3 = dt.date(2025, 8, 18), dt.date(2025, 8, 25), dt.date(2025, 9, 1)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        self.in_script = tag in ("script", "style")

    def handle_endtag(self, tag):
        self.in_script = False

    def handle_data(self, data):
        if not self.in_script:
            self.parts.append(data)


def text_of(html: str) -> str:
    p = _Text()
    p.feed(html)
    return " ".join(" ".join(p.parts).split())


def kpi_row(week, bu, region, kpi, kind, value, num=None, den=None, bus=None):
    row = {
        "week_start": week,
        "bu": bu,
        "region": region,
        "kpi": kpi,
        "kind": kind,
        "value": None if value is None else Decimal(str(value)),
        "numerator": num,
        "denominator": den,
    }
    if bus is not None:
        row["bus"] = bus
    return row


def data(**sections: Section) -> ReportData:
    bu_rows = [
        kpi_row(W1, "Phoenix-Sales", "PHX", "leads", "count", 3),
        kpi_row(W2, "Phoenix-Sales", "PHX", "leads", "count", 4),
        kpi_row(W2, "unmapped", "unmapped", "leads", "count", 1),
        kpi_row(W1, "Mesa-Sales", "Mesa", "leads", "count", 0),
        kpi_row(W1, "Phoenix-Production", "PHX", "gpm", "ratio", None, Decimal(0), Decimal(0)),
        kpi_row(W2, "Phoenix-Production", "PHX", "gpm", "ratio", 0.5, Decimal(5), Decimal(10)),
        kpi_row(W2, "Tucson-Production", "TUC", "gpm", "ratio", 0.1, Decimal(1), Decimal(10)),
        kpi_row(W3, "Phoenix-Sales", "PHX", "leads", "count", 2),
    ]
    region_rows = [
        {**kpi_row(W1, None, "PHX", "leads", "count", 3), "bus": "Phoenix-Sales"},
        {**kpi_row(W2, None, "PHX", "leads", "count", 4), "bus": "Phoenix-Sales"},
    ]
    defaults = {
        "kpi_bu": Section(bu_rows),
        "kpi_region": Section(region_rows),
        "validations": Section([]),
        "freshness": Section([]),
        "runs": Section([], "No pipeline run has been recorded yet: run `stkpi backfill ...`."),
        "run_entities": Section([], "No windows recorded yet."),
        "failures": Section([], "No failed or dead-lettered windows."),
    }
    defaults.update(sections)
    return ReportData(
        generated_at=NOW,
        project="p",
        weeks=12,
        mapped_bus=frozenset({"Phoenix-Sales", "Phoenix-Production"}),
        **defaults,
    )


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(data())


def test_kpi_without_data_says_so_in_place(page: str) -> None:
    text = text_of(page)
    assert "No data for Total Booked in the last 12 weeks" in text
    assert "No data for $ Collected in the last 12 weeks" in text


def test_unmapped_bu_is_flagged_with_what_to_do(page: str) -> None:
    text = text_of(page)
    assert "unmapped: Unmapped: jobs whose BU id is not in the business-units reference" in text
    assert "Mesa-Sales: Not in the tenant's BU map" in text


def test_no_runs_yet_is_a_message_not_an_empty_table(page: str) -> None:
    assert "No pipeline run has been recorded yet" in text_of(page)
    assert 'id="run-table"' not in page


def test_every_value_is_in_a_plain_table_with_its_explain_command(page: str) -> None:
    # No JavaScript at all: the values are in the tables, the charts are SVG.
    assert "<script" not in page
    leads = page[page.index('<table class="kpi-table" data-kpi="leads" data-level="bu"') :]
    assert (
        'data-bu="Phoenix-Sales" data-week="2025-08-25" '
        'title="stkpi explain --kpi leads --bu Phoenix-Sales --week 2025-08-25">4</td>'
    ) in leads[: leads.index("</table>")]
    assert "+33.3%" in text_of(page)  # leads 3 -> 4


def test_an_added_tenants_page_names_it_in_its_explain_commands() -> None:
    # an added tenant's cells are explained in its own datasets: `--tenant` on every command
    page = render_html(replace(data(), tenant="2000"))
    assert "tenant 2000" in text_of(page)
    assert (
        'title="stkpi explain --kpi leads --bu Phoenix-Sales --week 2025-08-25 --tenant 2000"'
        in page
    )
    assert (
        'data-region="PHX" data-week="2025-08-18" title="stkpi explain --kpi leads --bu Phoenix-Sales --week 2025-08-18 --tenant 2000"'
        in page
    )


def test_ratio_with_zero_denominator_reads_na_with_its_counts(page: str) -> None:
    assert 'data-week="2025-08-18" title="0 / 0\nstkpi explain --kpi gpm' in page
    assert "50.0%" in text_of(page)


def test_region_cells_list_the_explain_command_of_each_bu(page: str) -> None:
    assert 'data-region="PHX" data-week="2025-08-18" title="stkpi explain --kpi leads' in page


def test_page_forbids_network_and_has_no_external_urls(page: str) -> None:
    assert f'content="{CSP}"' in html.unescape(page)
    assert "default-src 'none'" in CSP
    assert "http://" not in page and "https://" not in page


def test_missing_tables_render_messages_everywhere() -> None:
    broken = Section([], "KPI table kpi_weekly: the table does not exist yet. Run kpi-build.")
    out = render_html(
        data(kpi_bu=broken, kpi_region=broken, validations=Section([], "No validation yet.")),
    )
    text = text_of(out)
    # 11 KPIs x (BU, region), and once in place of the headline table
    assert text.count("the table does not exist yet") == 23
    assert "No validation yet." in text
    assert "Traceback" not in out


def test_validation_stoplight_orders_red_first_with_numbers() -> None:
    rows = [
        {
            "run_id": "r1",
            "checked_at": NOW,
            "check_name": n,
            "status": s,
            "numbers": {"count": i},
            "message": f"{n} says {s}",
            "next_step": None,
        }
        for i, (n, s) in enumerate(
            [("freshness.jobs", "GREEN"), ("join.x", "RED"), ("volume.jobs", "YELLOW")]
        )
    ]
    out = render_html(data(validations=Section(rows)))
    text = text_of(out)
    assert "Overall RED" in text
    assert text.index("join.x") < text.index("volume.jobs") < text.index("freshness.jobs")
    assert '{"count": 1}' in text


def test_error_page_says_why() -> None:
    out = render_error_page("BigQuery unreachable", generated_at=NOW)
    assert "The report could not be built: BigQuery unreachable" in text_of(out)


# -- the page opens on the numbers --------------------------------------------------------


def _validation_rows(n: int) -> list[dict]:
    statuses = ["RED", "YELLOW"] + ["GREEN"] * (n - 2)
    return [
        {
            "run_id": "r1",
            "checked_at": NOW,
            "check_name": f"check.{i:02d}",
            "status": s,
            "numbers": {"months": {f"2025-{m:02d}": 100 + m for m in range(1, 13)}},
            "message": f"check {i} says {s}",
            "next_step": "sql/validations/x.sql",
        }
        for i, s in enumerate(statuses)
    ]


def test_page_opens_on_kpi_values_and_the_stoplight_is_one_line_linking_to_its_detail() -> None:
    out = render_html(data(validations=Section(_validation_rows(40))))
    headline = out.index('id="headline"')
    first_value = out.index("data-kpi-value=")
    detail = out.index('id="validations"')
    first_kpi_block = out.index('id="kpi-leads"')
    assert headline < first_value < first_kpi_block < detail
    # The stoplight: one line in the header, status and counts, and a link to the detail.
    top = out[: out.index("</header>")]
    assert top.count('id="overall"') == 1
    line = text_of(top[top.index('id="overall"') - 30 :])
    assert "Overall RED · 1 red · 1 yellow · 38 green" in line
    assert 'href="#health"' in top and 'id="health"' in out[first_kpi_block:]
    assert 'data-check="check.00"' not in top  # no detail row above the numbers


def test_headline_shows_this_week_to_date_last_week_and_the_change() -> None:
    out = render_html(data())
    text = text_of(out)
    assert "This week week of Sep 1, partial" in text
    # Leads (all BUs): W2 = Phoenix-Sales 4 + unmapped 1 = 5; W1 = Phoenix-Sales 3 +
    # Mesa-Sales 0 = 3; this week (W3) Phoenix-Sales 2. Change 3 -> 5 = +66.7%.
    assert 'data-kpi-value="leads" data-period="this">2</td>' in out
    assert 'data-kpi-value="leads" data-period="last">5</td>' in out
    assert 'data-change="leads">+66.7%</td>' in out
    # GPM is a ratio of sums: W2 Phoenix 5/10 + Tucson 1/10 = 6/20 = 30.0%, not the
    # average of 50% and 10%; W1 0/0 = n/a.
    assert 'data-kpi-value="gpm" data-period="last">30.0%</td>' in out
    assert (
        "<svg"
        in out[
            out.index('data-headline="leads"') : out.index(
                "</tr>", out.index('data-headline="leads"')
            )
        ]
    )


def test_no_week_after_the_current_week_and_the_current_week_is_marked_partial() -> None:
    # The marts carry weeks up to the latest dated fact (future appointments): Sep 8 and
    # Sep 15 with zeros. Today is Sep 3, so the page ends at the week of Sep 1.
    future = [
        kpi_row(W3 + dt.timedelta(days=7 * k), "Phoenix-Sales", "PHX", "leads", "count", 0)
        for k in (1, 2)
    ]
    base = data()
    out = render_html(data(kpi_bu=Section(base.kpi_bu.rows + future)))
    weeks = set(re.findall(r'data-week="([0-9-]+)"', out))
    assert max(weeks) == W3.isoformat()
    assert "Sep 8" not in text_of(out) and "Sep 15" not in text_of(out)
    assert "week of Sep 1 (partial, to date)" in text_of(out)
    assert '<th title="week of 2025-09-01" class="partial">Sep 1 (to date)</th>' in out
    # 12 weeks ending at the current one, every week shown even without rows.
    assert min(weeks) == (W3 - dt.timedelta(days=7 * 11)).isoformat()


def test_the_current_week_is_taken_in_the_report_time_zone() -> None:
    # Monday 2025-09-08 03:00 UTC is still Sunday 20:00 in Phoenix: the week of Sep 1 runs.
    late_sunday = dt.datetime(2025, 9, 8, 3, 0, tzinfo=dt.UTC)
    assert current_week_start(late_sunday, "America/Phoenix") == W3
    assert current_week_start(late_sunday, "UTC") == W3 + dt.timedelta(days=7)
    rows = [
        *data().kpi_bu.rows,
        kpi_row(W3 + dt.timedelta(days=7), "Phoenix-Sales", "PHX", "leads", "count", 0),
    ]
    page = render_html(replace(data(kpi_bu=Section(rows)), generated_at=late_sunday))
    assert 'data-week="2025-09-08"' not in page
    assert "week of Sep 1 (partial, to date)" in text_of(page)


def test_data_that_stopped_weeks_ago_ends_at_its_last_week_without_a_partial_week() -> None:
    later = dt.datetime(2026, 1, 7, 15, 0, tzinfo=dt.UTC)
    page = render_html(replace(data(), generated_at=later))
    assert "partial" not in text_of(page)
    assert "(no newer data)" in text_of(page)
    assert 'data-kpi-value="leads" data-period="last">2</td>' in page


def test_page_has_no_script_and_charts_are_inline_svg() -> None:
    out = render_html(data())
    assert "<script" not in out and "script-src 'none'" in html.unescape(out)
    # One line chart per KPI table with data (leads and gpm, per BU and per region: the
    # fixture has region rows for leads only) and one sparkline per KPI.
    assert out.count('<svg class="chart"') == 3
    assert out.count('<svg class="spark"') == 11


def _realistic(n_regions: int = 15, weeks: int = 12) -> ReportData:
    """A large tenant: 15 regions with a Sales and a Production BU each (30 BUs; the
    owner's tenant has 7), every KPI of the BU's role every week, 40 checks, 15 runs."""
    bu_rows, region_rows = [], []
    for w in range(weeks):
        week = W3 - dt.timedelta(days=7 * w)
        for r in range(n_regions):
            region = f"Region{r:02d}"
            for role, kpis in (("Sales", SALES_KPIS), ("Production", PRODUCTION_KPIS)):
                for kpi in kpis:
                    v = 1000.0 + 37 * r + w
                    bu = f"{region}-{role}"
                    bu_rows.append(
                        kpi_row(week, bu, region, kpi, "money", v, Decimal(5), Decimal(10))
                    )
                    region_rows.append(
                        kpi_row(week, None, region, kpi, "money", v, Decimal(5), Decimal(10), bu)
                    )
    runs = [
        {
            "run_id": f"daily-2025090{i % 9}T13",
            "run_type": "daily",
            "planned_at": NOW,
            "rebuilt_at": NOW,
            "entities": "jobs,invoices,payments,estimates,appointments",
            "windows": 16,
            "loaded": 16,
            "failed": 0,
            "records": 12345,
            "duration_s": 420.0,
        }
        for i in range(15)
    ]
    return data(
        kpi_bu=Section(bu_rows),
        kpi_region=Section(region_rows),
        validations=Section(_validation_rows(40)),
        runs=Section(runs),
    )


def test_page_for_a_large_tenant_stays_under_1_5_mb() -> None:
    out = render_html(_realistic())
    size = len(out.encode("utf-8"))
    assert size < 1_500_000, f"{size:,} bytes"
    # ... and it is that tenant's page: every BU, every week, with its explain command.
    assert out.count('data-bu="Region14-Production"') == 6 * 12
    assert 'title="stkpi explain --kpi produced --bu Region07-Production --week 2025-09-01"' in out
