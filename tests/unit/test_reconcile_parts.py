"""Reconciliation parts without services: the report map, the call gate, BU names, weeks."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from stkpi.errors import ConfigError
from stkpi.kpi_config import load_bu_map
from stkpi.reconcile.mapping import COLUMNS, load_report_map, sources_for
from stkpi.reconcile.reports_api import MemoryCallLog, ReportBusyError, ReportFetcher
from stkpi.reconcile.run import last_complete_weeks, our_bu
from stkpi.validation.config import ValidationConfig
from stkpi.validation.judges.reconciliation import judge_reconciliation
from stkpi_tools.report_calls import FileCallLog

HEADER = ",".join(COLUMNS)


def _map(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "report_map.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def test_shipped_map_covers_the_simulated_tenant() -> None:
    sources = sources_for("1000", load_report_map())
    assert sorted(sources) == ["collected", "estimates", "leads", "produced", "total_booked"]
    assert sources["collected"].records.id_fields == ("PaymentId", "InvoiceId")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1000,revenue,total,ops,1,BU,,,X", ":2: kpi must be one of"),
        ("1000,leads,sum,ops,1,BU,,,X", ":2: kind must be one of"),
        ("1000,leads,total,ops,abc,BU,,,X", ":2: report_id must be an integer"),
        ("1000,leads,total,ops,1,BU,,,", ":2: a 'total' row needs value_field"),
        (
            "1000,leads,records,ops,1,BU,,JobId,",
            ":2: a 'records' row needs id_field and date_field",
        ),
        ("1000,leads,total,,1,BU,,,X", ":2: empty category"),
    ],
)
def test_bad_map_row_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _map(tmp_path, line)
    with pytest.raises(ConfigError) as err:
        load_report_map(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_tenant_without_mapping_points_to_discover(tmp_path: Path) -> None:
    rows = load_report_map(_map(tmp_path, "1000,leads,total,ops,1,BU,,,Leads"))
    with pytest.raises(
        ConfigError, match=r"no report map for tenant 77: `stkpi tenant init`.*reconcile discover"
    ):
        sources_for("77", rows)
    with pytest.raises(ConfigError, match="kpi leads has no 'records' row"):
        sources_for("1000", rows)


def test_duplicate_row_is_refused(tmp_path: Path) -> None:
    line = "1000,leads,total,ops,1,BU,,,Leads"
    with pytest.raises(ConfigError, match=":3: duplicate total row for tenant 1000 kpi leads"):
        load_report_map(_map(tmp_path, line, line))


class FakeApi:
    """Answers report pages from memory and records when each call was made."""

    def __init__(self, clock: list[float], pages: int = 1) -> None:
        self.clock, self.pages = clock, pages
        self.calls: list[tuple[int, int, float]] = []

    def data_page(
        self, category: str, rid: int, params: dict, page: int, size: int
    ) -> dict[str, Any]:
        self.calls.append((rid, page, self.clock[0]))
        return {"fields": [{"name": "A"}], "data": [[page]], "hasMore": page < self.pages}


def _fetcher(api: FakeApi, clock: list[float], log: MemoryCallLog | None = None) -> ReportFetcher:
    def sleep(seconds: float) -> None:
        clock[0] += seconds

    return ReportFetcher(api, log or MemoryCallLog(), interval=61.0,  # type: ignore[arg-type]
                         now=lambda: clock[0], sleep=sleep)  # fmt: skip


def test_pages_of_one_report_are_a_minute_apart() -> None:
    clock = [1000.0]
    api = FakeApi(clock, pages=3)
    result = _fetcher(api, clock).fetch("ops", 7, {"From": "2025-08-18"})
    assert result.rows == [[1], [2], [3]]
    times = [t for _, _, t in api.calls]
    assert [b - a for a, b in itertools.pairwise(times)] == [61.0, 61.0]


def test_same_params_within_the_minute_reuse_the_result() -> None:
    clock = [1000.0]
    api = FakeApi(clock)
    fetcher = _fetcher(api, clock)
    fetcher.fetch("ops", 7, {"From": "2025-08-18"})
    clock[0] += 30
    again = fetcher.fetch("ops", 7, {"From": "2025-08-18"})
    assert again.reused and len(api.calls) == 1
    # other parameters for the same report: waits out the minute, then calls
    fetcher.fetch("ops", 7, {"From": "2025-08-25"})
    assert [t for _, _, t in api.calls] == [1000.0, 1061.0]
    # another report is not held up by report 7
    fetcher.fetch("ops", 8, {"From": "2025-08-25"})
    assert api.calls[-1] == (8, 1, 1061.0)


def test_a_result_taken_before_reuse_after_is_not_reused() -> None:
    # The daily rebuild must not compare its fresh data with the previous run's report of
    # 30 s ago: it waits out the minute and calls again.
    clock = [1000.0]
    api = FakeApi(clock)
    log = MemoryCallLog()
    _fetcher(api, clock, log).fetch("ops", 7, {"From": "x"})
    clock[0] += 30
    later = _fetcher(api, clock, log)
    later.reuse_after = clock[0]
    assert not later.fetch("ops", 7, {"From": "x"}).reused
    assert [t for _, _, t in api.calls] == [1000.0, 1061.0]


def test_a_rebuild_that_may_not_wait_is_told_the_report_is_busy() -> None:
    # Another process called report 7 ten seconds ago: a fetcher with max_wait=0 (the
    # daily rebuild) neither waits nor calls; it defers.
    clock = [1000.0]
    api = FakeApi(clock)
    log = MemoryCallLog()
    _fetcher(api, clock, log).fetch("ops", 7, {"From": "x"})
    clock[0] += 10
    hurried = _fetcher(api, clock, log)
    hurried.reuse_after, hurried.max_wait = clock[0], 0.0
    with pytest.raises(ReportBusyError, match=r"report 7 was called 10s ago.*next call in 51s"):
        hurried.fetch("ops", 7, {"From": "x"})
    assert len(api.calls) == 1 and clock[0] == 1010.0


def test_two_fetchers_sharing_a_log_never_call_a_report_twice_a_minute() -> None:
    clock = [1000.0]
    api = FakeApi(clock)
    log = MemoryCallLog()
    a, b = _fetcher(api, clock, log), _fetcher(api, clock, log)
    a.fetch("ops", 7, {"From": "x"})
    b.fetch("ops", 7, {"From": "y"})  # another process, other params
    assert [t for _, _, t in api.calls] == [1000.0, 1061.0]


def test_two_cli_runs_on_one_machine_never_call_a_report_twice_a_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator may not write the landing bucket, so each `stkpi reconcile` keeps its
    # calls in a file log: a second run (a new FileCallLog on the same directory, as a new
    # process has) sees the first run's call of report 7 at 1000 and waits to 1061.
    monkeypatch.setenv("STKPI_CACHE_DIR", str(tmp_path))
    clock = [1000.0]
    api = FakeApi(clock)
    first = FileCallLog.for_tenant("1000", "http://127.0.0.1:8080")
    _fetcher(api, clock, first).fetch("ops", 7, {"From": "x"})  # type: ignore[arg-type]
    clock[0] += 5
    second = FileCallLog.for_tenant("1000", "http://127.0.0.1:8080")
    _fetcher(api, clock, second).fetch("ops", 7, {"From": "y"})  # type: ignore[arg-type]
    assert [t for _, _, t in api.calls] == [1000.0, 1061.0]
    # Another tenant, or the same tenant id behind another API address, has its own log.
    other = FileCallLog.for_tenant("1000", "http://127.0.0.1:9090")
    assert other.last_call(7) == (None, 0) and second.last_call(7) == (1061.0, 2)
    # Only call times are on disk, never the report's rows (tenant data).
    files = sorted(p.name for p in first.directory.iterdir())
    assert files == [".lock", "7.json"]
    assert json.loads((first.directory / "7.json").read_text()) == {"called_at": 1061.0,
                                                                    "generation": 2}  # fmt: skip


def test_a_file_log_that_cannot_be_written_keeps_the_limit_in_memory(tmp_path: Path) -> None:
    # A read-only cache (a file where the directory should be): the run warns and keeps
    # its own calls in memory, so its second call of report 7 still waits 1000 -> 1061.
    (tmp_path / "calls").write_text("not a directory")
    clock = [1000.0]
    api = FakeApi(clock)
    fetcher = _fetcher(api, clock, FileCallLog(tmp_path / "calls" / "t"))  # type: ignore[arg-type]
    fetcher.fetch("ops", 7, {"From": "x"})
    fetcher.fetch("ops", 7, {"From": "y"})
    assert [t for _, _, t in api.calls] == [1000.0, 1061.0]


def test_a_stale_claim_of_a_file_log_is_refused(tmp_path: Path) -> None:
    # Two runs read generation 0; the first claims (generation 1); the second's claim
    # with the generation it read fails, so it reads again and waits instead of calling.
    log = FileCallLog(tmp_path / "calls")
    assert log.claim_call(7, 1000.0, 0)
    assert not FileCallLog(tmp_path / "calls").claim_call(7, 1001.0, 0)
    assert log.last_call(7) == (1000.0, 1)


def test_our_bu_follows_the_kpi_rules() -> None:
    bu_map = load_bu_map()
    assert our_bu("Andy's Painting-Production", bu_map) == "Andys-Painting-Production"
    assert our_bu("Mesa-Sales", bu_map) == "Mesa-Sales"  # not in the map: by its suffix
    assert our_bu("Corporate", bu_map) == "unmapped"  # neither suffix
    assert our_bu(None, bu_map) == "unmapped"


def test_default_weeks_are_the_last_two_complete() -> None:
    # Wednesday 2025-09-03: this week (09-01) is not complete; the two before it are.
    assert last_complete_weeks(dt.date(2025, 9, 3)) == [dt.date(2025, 8, 18), dt.date(2025, 8, 25)]
    # a Monday: the week that ended yesterday is complete
    assert last_complete_weeks(dt.date(2025, 9, 1))[-1] == dt.date(2025, 8, 25)


def _row(status: str, ours: float, theirs: float, rules: str = "") -> dict[str, Any]:
    return {"run_id": "r", "kpi": "leads", "bu": "Phoenix-Sales", "week_start": "2025-08-18",
            "ours": ours, "theirs": theirs, "difference": ours - theirs, "status": status,
            "rules": rules or None}  # fmt: skip


def test_differences_only_by_servicetitans_definitions_stay_green() -> None:
    cfg = ValidationConfig()
    # ServiceTitan's Leads report counts a customer's second job and its test customers:
    # both are its definition, not a fault, so the cell is GREEN and counted as such.
    by_def = _row("explained", 3, 5, "customer already counted this week (leads per job), "
                  "test customer")  # fmt: skip
    res = judge_reconciliation([by_def, _row("match", 4, 4)], cfg)
    assert res.status == "GREEN" and res.numbers["by_definition"] == 1
    assert "1 differ only by ServiceTitan's own report definitions" in res.message
    # An unmapped BU is something to fix in the BU map: YELLOW, even next to the above.
    unmapped = _row("explained", 0, 7, "unmapped BU")
    assert judge_reconciliation([by_def, unmapped], cfg).status == "YELLOW"
    # A rule list mixing a definition and a fixable cause is YELLOW too.
    mixed = _row("explained", 0, 7, "date basis, unmapped BU")
    assert judge_reconciliation([mixed], cfg).status == "YELLOW"
    # With no expected rules configured every explained difference is YELLOW.
    strict = ValidationConfig(reconcile_expected_rules=())
    assert judge_reconciliation([by_def], strict).status == "YELLOW"


def test_judge_green_yellow_red() -> None:
    cfg = ValidationConfig()  # RED from 1 (a lead, a dollar) and 0.5% of ServiceTitan's value
    assert judge_reconciliation([_row("match", 5, 5)], cfg).status == "GREEN"
    assert judge_reconciliation([_row("explained", 3, 5)], cfg).status == "YELLOW"
    # unexplained $0.50 of $1,000: under $1 -> YELLOW; $40 of $1,000 (4%) -> RED
    assert judge_reconciliation([_row("unexplained", 999.5, 1000)], cfg).status == "YELLOW"
    red = judge_reconciliation([_row("explained", 3, 5), _row("unexplained", 960, 1000)], cfg)
    assert red.status == "RED" and red.numbers["unexplained_above_threshold"] == [
        "leads Phoenix-Sales 2025-08-18 (ours 960, ServiceTitan 1000)"
    ]
    # $2 of $1,000 is 0.2%: under the relative threshold -> YELLOW
    assert judge_reconciliation([_row("unexplained", 998, 1000)], cfg).status == "YELLOW"
