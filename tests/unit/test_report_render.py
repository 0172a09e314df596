"""The report page from hand-made data: bad input renders a message in place, never a
blank page or a traceback; every value is in a plain table (readable without JavaScript)."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from stkpi.report.data import ReportData, Section
from stkpi.report.render import CSP, render_error_page, render_html

NOW = dt.datetime(2025, 9, 8, 15, 0, tzinfo=dt.UTC)
W1, W2 = dt.date(2025, 8, 18), dt.date(2025, 8, 25)


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
    return render_html(data(), include_js=False)


def test_kpi_without_data_says_so_in_place(page: str) -> None:
    text = text_of(page)
    assert "No data for Total Booked in the last 12 weeks" in text
    assert "No data for $ Collected in the last 12 weeks" in text


def test_unmapped_bu_is_flagged_with_what_to_do(page: str) -> None:
    text = text_of(page)
    assert "unmapped: Unmapped: jobs whose BU id is not in the business-units reference" in text
    assert "Mesa-Sales: Not in the BU map" in text


def test_no_runs_yet_is_a_message_not_an_empty_table(page: str) -> None:
    assert "No pipeline run has been recorded yet" in text_of(page)
    assert 'id="run-table"' not in page


def test_every_value_is_in_a_plain_table_with_its_explain_command(page: str) -> None:
    # No JavaScript at all here (include_js=False): the values are still there.
    assert "<script>" not in page.split("</head>")[0]
    assert (
        'data-kpi="leads" data-bu="Phoenix-Sales" data-week="2025-08-25" '
        'title="stkpi explain --kpi leads --bu Phoenix-Sales --week 2025-08-25">4</td>'
    ) in page
    assert "+33.3%" in text_of(page)  # leads 3 -> 4


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
        include_js=False,
    )
    text = text_of(out)
    assert text.count("the table does not exist yet") == 22  # 11 KPIs x (BU, region)
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
    out = render_html(data(validations=Section(rows)), include_js=False)
    text = text_of(out)
    assert "Overall RED" in text
    assert text.index("join.x") < text.index("volume.jobs") < text.index("freshness.jobs")
    assert '{"count": 1}' in text


def test_error_page_says_why() -> None:
    out = render_error_page("BigQuery unreachable", generated_at=NOW)
    assert "The report could not be built: BigQuery unreachable" in text_of(out)
