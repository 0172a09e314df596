"""`stkpi validate` on the BigQuery emulator: a clean tenant is all GREEN, and each failure
created on purpose turns its check the expected color with the expected numbers.

The clean tenant is written directly (typed columns + payload JSON): two BUs, steady daily
volumes from 2025-05-01, every record linked, one fresh daily run, and twelve weeks of
plausible KPI rows. Each failure test builds it in its own datasets (a distinct
``BQ_DATASET_PREFIX``), breaks one thing and runs the checks.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from dataclasses import dataclass

import pytest
from google.cloud import bigquery

from stkpi.config import Settings, load_settings
from stkpi.marts import build_marts
from stkpi.reconcile.mapping import ReportSource
from stkpi.tenant_maps import propose, write_bu_map, write_report_map
from stkpi.validation.config import ValidationConfig
from stkpi.validation.result import GREEN, RED, YELLOW, CheckResult, exit_code
from stkpi.validation.runner import run_validations
from stkpi.warehouse import ensure_tables

pytestmark = pytest.mark.integration

UTC = dt.UTC
NOW = dt.datetime(2025, 9, 10, 15, 0, tzinfo=UTC)  # Wednesday, 08:00 in Phoenix
CHECK_DAY = dt.date(2025, 9, 9)  # the latest complete local day
FIRST_DAY = dt.date(2025, 5, 1)
BUS = {1: "Phoenix-Sales", 2: "Phoenix-Production"}
SALES = ("leads", "estimates", "total_booked", "success_rate", "estimates_scheduled")
PRODUCTION = ("produced", "gpm", "future_bookings", "collected", "warranty_pct", "outstanding_ar")
JOBS_PER_DAY = 4


def _iso(ts: dt.datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _local_noon(day: dt.date, hour_offset: int = 0) -> dt.datetime:
    # Phoenix is UTC-7 all year: 19:00Z is noon local.
    return dt.datetime(day.year, day.month, day.day, 19, tzinfo=UTC) + dt.timedelta(
        minutes=20 * hour_offset
    )


@dataclass
class Tenant:
    client: bigquery.Client
    settings: Settings

    def table(self, layer: str, name: str) -> str:
        return f"{self.settings.gcp_project}.{self.settings.dataset(layer)}.{name}"

    def insert(self, layer: str, name: str, rows: list[dict]) -> None:
        for start in range(0, len(rows), 500):
            errors = self.client.insert_rows_json(
                self.table(layer, name), rows[start : start + 500]
            )
            assert not errors, errors

    def sql(self, text: str) -> None:
        self.client.query(text).result()

    def validate(self, **kw) -> dict[str, CheckResult]:
        results = run_validations(self.client, self.settings, now=NOW, **kw)
        return {r.name: r for r in results}


def _raw(row: dict, payload: dict) -> dict:
    return {**row, "payload": json.dumps(payload), "_run_id": "r1", "_window_id": "w1"}


def clean_rows() -> dict[str, list[dict]]:
    """A small clean tenant: steady volumes, every link resolvable."""
    rows: dict[str, list[dict]] = {
        k: [] for k in ("jobs", "invoices", "payments", "estimates", "appointments")
    }
    rows["gross_pay_items"] = []
    ids = itertools.count(1000)
    day = FIRST_DAY
    while day <= CHECK_DAY:
        for k in range(JOBS_PER_DAY):
            ts = _local_noon(day, k)
            job_id = next(ids)
            bu = 1 + k % 2
            rows["jobs"].append(
                _raw(
                    {
                        "id": job_id,
                        "job_number": f"J{job_id}",
                        "business_unit_id": bu,
                        "job_status": "Completed",
                        "created_on": _iso(ts),
                        "modified_on": _iso(ts),
                    },
                    {"id": job_id, "jobNumber": f"J{job_id}", "businessUnitId": bu},
                )
            )
            inv_id = next(ids)
            rows["invoices"].append(
                _raw(
                    {
                        "id": inv_id,
                        "job_id": job_id,
                        "job_number": f"J{job_id}",
                        "sub_total": "100.00",
                        "total": "108.00",
                        "created_on": _iso(ts),
                        "modified_on": _iso(ts),
                        "invoice_date": _iso(ts),
                    },
                    {"id": inv_id, "job": {"id": job_id, "number": f"J{job_id}"}},
                )
            )
            pay_id = next(ids)
            rows["payments"].append(
                _raw(
                    {
                        "id": pay_id,
                        "paid_on": _iso(ts),
                        "total": "108.00",
                        "created_on": _iso(ts),
                        "modified_on": _iso(ts),
                    },
                    {"id": pay_id, "appliedTo": [{"appliedTo": inv_id, "appliedAmount": "108.00"}]},
                )
            )
            for table in ("estimates", "appointments"):
                rid = next(ids)
                rows[table].append(
                    _raw(
                        {
                            "id": rid,
                            "job_id": job_id,
                            "created_on": _iso(ts),
                            "modified_on": _iso(ts),
                        },
                        {"id": rid, "jobId": job_id},
                    )
                )
            rows["gross_pay_items"].append(
                _raw(
                    {
                        "item_key": f"k{job_id}",
                        "job_id": job_id,
                        "amount": "20.00",
                        "item_date": _iso(ts),
                        "modified_on": _iso(ts),
                    },
                    {"jobId": job_id, "amount": 20.0},
                )
            )
        day += dt.timedelta(days=1)
    return rows


CLEAN = clean_rows()


def kpi_rows(weeks: list[dt.date]) -> list[dict]:
    values = {
        "leads": 20,
        "estimates": 25,
        "total_booked": 30000.0,
        "success_rate": 0.4,
        "estimates_scheduled": 22,
        "produced": 50000.0,
        "gpm": 0.45,
        "future_bookings": 80000.0,
        "collected": 48000.0,
        "warranty_pct": 0.03,
        "outstanding_ar": 12000.0,
    }
    kinds = {"success_rate": "ratio", "gpm": "ratio", "warranty_pct": "ratio"}
    kinds.update({k: "count" for k in ("leads", "estimates", "estimates_scheduled")})
    out = []
    for week in weeks:
        for bu, kpis in (("Phoenix-Sales", SALES), ("Phoenix-Production", PRODUCTION)):
            for kpi in kpis:
                out.append(
                    {
                        "week_start": week.isoformat(),
                        "bu": bu,
                        "region": "PHX",
                        "kpi": kpi,
                        "kind": kinds.get(kpi, "money"),
                        "value": values[kpi],
                        "numerator": None,
                        "denominator": None,
                    }
                )
    return out


KPI_WEEKS = [dt.date(2025, 9, 8) - dt.timedelta(days=7 * k) for k in range(14, 0, -1)]


def build_clean_tenant(bq_emulator, *, with_marts: bool = True) -> Tenant:
    prefix = f"v{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        {
            "ST_API_BASE_URL": "http://127.0.0.1:9",
            "ST_AUTH_URL": "http://127.0.0.1:9",
            "ST_TENANT_ID": "1",
            "ST_CLIENT_ID": "x",
            "ST_CLIENT_SECRET": "x",
            "ST_APP_KEY": "x",
            "GCP_PROJECT": bq_emulator.project,
            "LANDING_BUCKET": "landing-test",
            "BQ_DATASET_PREFIX": prefix,
        }
    )
    t = Tenant(bq_emulator.client, settings)
    ensure_tables(t.client, settings)
    for name, rows in CLEAN.items():
        t.insert("raw", name, rows)
    old = _iso(dt.datetime(2024, 1, 1, tzinfo=UTC))
    t.insert(
        "raw",
        "business_units",
        [
            _raw({"id": i, "name": n, "active": True, "modified_on": old}, {"id": i, "name": n})
            for i, n in BUS.items()
        ],
    )
    from stkpi.registry import TRANSACTIONAL

    # the tenant's maps, as `stkpi tenant init` writes them: every unit mapped by its name,
    # one KPI's reports (a deployment without them is YELLOW: kpi.bu_map, reconciliation)
    at = NOW - dt.timedelta(days=30)
    write_bu_map(t.client, settings, "1", [propose(n, i, True) for i, n in BUS.items()],
                 source="discovered", at=at)  # fmt: skip
    write_report_map(t.client, settings, "1", [
        ReportSource("1", "leads", "total", "operations", 10, "BusinessUnitName", value_field="Leads"),
        ReportSource("1", "leads", "records", "operations", 11, "BusinessUnitName",
                     date_field="CreatedDate", id_field="JobId"),
    ], source="discovered", at=at)  # fmt: skip
    synced = _iso(NOW - dt.timedelta(hours=3))
    t.insert(
        "ops",
        "sync_state",
        [
            {"entity": e, "high_water": synced, "run_id": "run-1", "event_time": synced}
            for e in TRANSACTIONAL
        ],
    )
    planned, rebuilt = _iso(NOW - dt.timedelta(hours=4)), _iso(NOW - dt.timedelta(hours=3))
    t.insert(
        "ops",
        "run_events",
        [
            {"run_id": "run-1", "state": "planned", "run_type": "daily", "event_time": planned},
            {"run_id": "run-1", "state": "rebuilt", "run_type": "daily", "event_time": rebuilt},
        ],
    )
    t.insert(
        "ops",
        "window_events",
        [
            {"run_id": "run-1", "entity": e, "window_id": "w1", "state": s, "event_time": ts}
            for e in ("jobs", "invoices")
            for s, ts in (("planned", planned), ("loaded", rebuilt))
        ],
    )
    if with_marts:
        t.sql(
            f"CREATE TABLE `{t.table('dim', 'dim_business_units')}` "
            "(business_unit_id INT64, bu_name STRING, bu STRING, role STRING, region STRING)"
        )
        t.insert(
            "dim",
            "dim_business_units",
            [
                {"business_unit_id": i, "bu_name": n, "bu": n, "role": n.split("-")[1]}
                for i, n in BUS.items()
            ],
        )
        t.sql(
            f"CREATE TABLE `{t.table('mart', 'kpi_weekly')}` (week_start DATE, bu STRING, "
            "region STRING, kpi STRING, kind STRING, value NUMERIC, numerator NUMERIC, "
            "denominator NUMERIC)"
        )
        t.insert("mart", "kpi_weekly", kpi_rows(KPI_WEEKS))
    return t


@pytest.fixture
def tenant(bq_emulator) -> Tenant:
    return build_clean_tenant(bq_emulator)


def _not_green(results: dict[str, CheckResult]) -> dict[str, str]:
    return {n: f"{r.status}: {r.message}" for n, r in results.items() if r.status != GREEN}


def test_clean_tenant_is_all_green_and_stored(tenant: Tenant) -> None:
    results = tenant.validate(run_id="run-1", dead_letters=lambda: {"st-plan": 0})
    assert _not_green(results) == {}
    expected = {
        "freshness.invoices",
        "volume.invoices",
        "coverage.invoices",
        "join.invoices_jobs",
        "join.payments_invoices",
        "join.estimates_jobs",
        "join.appointments_jobs",
        "join.gross_pay_items_jobs",
        "join.jobs_business_units",
        "kpi.bu_map",
        "reconciliation.servicetitan",
        "kpi.presence",
        "kpi.ranges",
        "kpi.jumps",
        "pipeline.failed_windows",
        "pipeline.stuck_windows",
        "pipeline.runs_without_rebuild",
        "pipeline.dead_letters",
        "pipeline.duplicate_keys",
    }
    assert expected <= set(results)
    assert results["volume.invoices"].numbers["count"] == JOBS_PER_DAY
    assert results["join.invoices_jobs"].numbers["rate"] == 1.0
    assert exit_code(list(results.values()), strict=True) == 0
    stored = list(
        tenant.client.query(
            f"SELECT check_name, status, run_id FROM `{tenant.table('ops', 'validation_results')}`"
        ).result()
    )
    assert len(stored) == len(results)
    assert {r["run_id"] for r in stored} == {"run-1"}
    assert {r["status"] for r in stored} == {GREEN}


def test_collapsed_day_of_invoices_is_red_but_a_quiet_day_of_a_small_tenant_is_not(
    tenant: Tenant,
) -> None:
    # The check day keeps 1 invoice of its 4. With 4 a day (median of the eight Tuesdays
    # before) that is under the base of 20 a day: a small tenant's day, not judged.
    tenant.sql(
        f"DELETE FROM `{tenant.table('raw', 'invoices')}` "
        f"WHERE DATE(created_on, 'America/Phoenix') = DATE '{CHECK_DAY}' AND MOD(id, 4) <> 1"
    )
    quiet = tenant.validate(store=False)["volume.invoices"]
    assert quiet.status == GREEN and "too few a day to judge" in quiet.message
    assert quiet.numbers["count"] == 1 and quiet.numbers["baseline_median"] == JOBS_PER_DAY
    # The same day for a tenant with 24 invoices every Tuesday (20 more on each of the eight
    # before): 1 of 24 = 4%. The Tuesdays do not spread (dispersion 1, x 9/8 for the
    # median's noise): a negative binomial of size 24 / 0.125 = 192, p = 192 / 216, and
    # P(X <= 1) = p^192 (1 + 192 (1 - p)) = 1.5e-10 x 22.3 ~ 3.4e-9: a collapse, RED.
    ids = itertools.count(9_000_000)
    job = CLEAN["jobs"][0]
    extra = []
    for k in range(1, 9):
        day = CHECK_DAY - dt.timedelta(days=7 * k)
        for i in range(20):
            ts = _iso(_local_noon(day, i % 3) + dt.timedelta(seconds=i))
            inv_id = next(ids)
            extra.append(
                _raw(
                    {
                        "id": inv_id,
                        "job_id": job["id"],
                        "job_number": job["job_number"],
                        "sub_total": "100.00",
                        "total": "108.00",
                        "created_on": ts,
                        "modified_on": ts,
                        "invoice_date": ts,
                    },
                    {"id": inv_id, "job": {"id": job["id"], "number": job["job_number"]}},
                )
            )
    tenant.insert("raw", "invoices", extra)
    results = tenant.validate()
    vol = results["volume.invoices"]
    assert vol.status == RED
    assert vol.numbers["count"] == 1
    assert vol.numbers["baseline_median"] == JOBS_PER_DAY + 20
    assert vol.numbers["ratio"] == pytest.approx(1 / 24, abs=1e-4)
    assert vol.numbers["p_as_low"] < 1e-8
    assert "volume_daily.sql" in vol.next_step and "backfill" in vol.next_step
    assert results["volume.jobs"].status == GREEN
    assert exit_code(list(results.values())) == 2


def test_unlinked_invoices_turn_the_join_red(tenant: Tenant) -> None:
    # 1 invoice in 5 loses its job link: 80% < 90%.
    tenant.sql(
        f"UPDATE `{tenant.table('raw', 'invoices')}` "
        "SET job_id = NULL, job_number = NULL, payload = '{}' WHERE MOD(id, 25) = 1"
    )
    results = tenant.validate()
    join = results["join.invoices_jobs"]
    total = len(CLEAN["invoices"])
    unlinked = sum(1 for r in CLEAN["invoices"] if r["id"] % 25 == 1)
    assert join.status == RED
    assert join.numbers["total"] == total
    assert join.numbers["unlinked"] == unlinked
    assert join.numbers["without_reference"] == unlinked
    assert join.value == pytest.approx((total - unlinked) / total)
    assert "join_invoices_jobs.sql" in join.next_step


def test_invoice_linked_by_unique_job_number_counts_and_a_few_unlinked_is_yellow(
    tenant: Tenant,
) -> None:
    # Links by number only (job.id lost): still linked.
    tenant.sql(
        f"UPDATE `{tenant.table('raw', 'invoices')}` SET job_id = NULL, payload = '{{}}' "
        "WHERE MOD(id, 3) = 0"
    )
    # A handful with no link at all: between 90% and 99%, and 3% is three times what the
    # 99% target allows (P ~ 0.0004 for ~15 where ~5 are allowed) -> YELLOW.
    total = len(CLEAN["invoices"])
    n_bad = total * 3 // 100
    bad_ids = [r["id"] for r in CLEAN["invoices"]][:n_bad]
    tenant.sql(
        f"UPDATE `{tenant.table('raw', 'invoices')}` SET job_id = 999999999, job_number = 'nope', "
        f"payload = '{{}}' WHERE id IN ({', '.join(map(str, bad_ids))})"
    )
    join = tenant.validate()["join.invoices_jobs"]
    assert join.status == YELLOW
    assert join.numbers["unlinked"] == n_bad
    assert join.numbers["linked_by_number"] > 0


def test_stale_invoices_are_red_freshness(tenant: Tenant) -> None:
    # Invoices stopped syncing two days ago: nothing newer, and their sync mark is old.
    stale = NOW - dt.timedelta(hours=49)
    tenant.sql(
        f"DELETE FROM `{tenant.table('raw', 'invoices')}` WHERE modified_on > TIMESTAMP '{_iso(stale)}'"
    )
    tenant.sql(f"DELETE FROM `{tenant.table('ops', 'sync_state')}` WHERE entity = 'invoices'")
    tenant.insert(
        "ops",
        "sync_state",
        [
            {
                "entity": "invoices",
                "high_water": _iso(stale),
                "run_id": "run-0",
                "event_time": _iso(stale),
            }
        ],
    )
    results = tenant.validate()
    fresh = results["freshness.invoices"]
    assert fresh.status == RED
    assert fresh.numbers["sync_age_hours"] == pytest.approx(49.0)
    assert fresh.numbers["data_age_hours"] > 25
    assert fresh.threshold["max_age_hours"] == 25
    assert "stkpi status" in fresh.next_step
    assert results["freshness.jobs"].status == GREEN


def test_unmapped_business_unit_is_listed_by_name(tenant: Tenant) -> None:
    tenant.insert(
        "raw",
        "business_units",
        [_raw({"id": 3, "name": "Flagstaff Misc", "active": True}, {"id": 3})],
    )
    tenant.insert(
        "raw",
        "jobs",
        [
            _raw({"id": 5_000_000 + i, "business_unit_id": bu, "created_on": _iso(NOW)}, {})
            for i, bu in enumerate([3, 3, 77])
        ],
    )
    join = tenant.validate()["join.jobs_business_units"]
    assert join.status == RED
    assert join.numbers["unlinked"] == 3
    listed = {u["bu_name"]: u["jobs"] for u in join.numbers["unmapped_bus"]}
    assert listed == {"Flagstaff Misc": 2, "<id 77 not in business_units>": 1}
    assert "Flagstaff Misc (2 jobs)" in join.message
    assert "stkpi tenant map-bu" in join.next_step
    # the tenant's map does not list it and its name gives no role: YELLOW, with the command
    bu_map = tenant.validate()["kpi.bu_map"]
    assert bu_map.status == YELLOW and bu_map.numbers["unmapped"] == ["Flagstaff Misc"]
    assert 'stkpi tenant map-bu --name "Flagstaff Misc" --role ROLE' in bu_map.next_step


def test_failed_and_stuck_windows_and_missing_rebuild_are_red(tenant: Tenant) -> None:
    t0 = NOW - dt.timedelta(hours=6)
    tenant.insert(
        "ops",
        "window_events",
        [
            {"run_id": "run-2", "entity": "payments", "window_id": "w9", "state": "planned",
             "event_time": _iso(t0)},
            {"run_id": "run-2", "entity": "payments", "window_id": "w9", "state": "failed",
             "error": "HTTP 500 from ST", "event_time": _iso(t0 + dt.timedelta(minutes=5))},
            {"run_id": "run-2", "entity": "jobs", "window_id": "w8", "state": "fetched",
             "event_time": _iso(t0)},
        ],
    )  # fmt: skip
    tenant.insert(
        "ops",
        "run_events",
        [{"run_id": "run-2", "state": "planned", "run_type": "daily", "event_time": _iso(t0)}],
    )
    results = tenant.validate(dead_letters=lambda: {"st-windows": 2, "st-loads": 0})
    failed = results["pipeline.failed_windows"]
    assert failed.status == RED and failed.numbers["count"] == 1
    assert failed.numbers["rows"][0]["error"] == "HTTP 500 from ST"
    stuck = results["pipeline.stuck_windows"]
    assert stuck.status == RED and stuck.numbers["count"] == 1
    assert stuck.numbers["rows"][0]["window_id"] == "w8"
    runs = results["pipeline.runs_without_rebuild"]
    assert runs.status == RED and [r["run_id"] for r in runs.numbers["rows"]] == ["run-2"]
    dead = results["pipeline.dead_letters"]
    assert dead.status == RED and dead.numbers["total"] == 2


def test_a_key_held_twice_in_raw_is_red_and_named(tenant: Tenant) -> None:
    # Two copies of one invoice (an older version beside the newer one, as a MERGE pruned
    # on a mutable date left them): every KPI over invoices would count it twice.
    invoice = clean_rows()["invoices"][0]
    older = {**invoice, "modified_on": _iso(NOW - dt.timedelta(days=200))}
    tenant.insert("raw", "invoices", [older])
    results = tenant.validate()
    dup = results["pipeline.duplicate_keys"]
    assert dup.status == RED, dup
    assert (
        dup.numbers["by_entity"]["invoices"]["rows"] - dup.numbers["by_entity"]["invoices"]["keys"]
        == 1
    )
    sample = dup.numbers["by_entity"]["invoices"]["sample"]
    assert [(s["record_key"], s["copies"]) for s in sample] == [(str(invoice["id"]), 2)]
    assert f"key {invoice['id']}" in dup.message and "raw_duplicate_keys.sql" in dup.next_step
    assert set(dup.numbers["by_entity"]) == {"invoices"}  # the other tables are clean


def test_kpi_out_of_range_missing_and_jump(tenant: Tenant) -> None:
    mart = tenant.table("mart", "kpi_weekly")
    # Today is 2025-09-10: week 08-18 (Sunday 08-24) has had its 14 days for labor to
    # arrive, so 0.95 there is RED; week 09-01 has not, so 0.97 there is provisional.
    for week, gpm in (("2025-08-18", 0.95), ("2025-09-01", 0.97)):
        tenant.sql(
            f"UPDATE `{mart}` SET value = {gpm} WHERE kpi = 'gpm' "
            f"AND bu = 'Phoenix-Production' AND week_start = DATE '{week}'"
        )
    tenant.sql(f"DELETE FROM `{mart}` WHERE kpi = 'leads' AND week_start = DATE '2025-08-25'")
    tenant.sql(
        f"UPDATE `{mart}` SET value = 200000 WHERE kpi = 'produced' AND week_start = DATE '2025-08-18'"
    )
    results = tenant.validate()
    assert results["kpi.ranges"].status == RED
    assert results["kpi.ranges"].numbers["out_of_range"] == [
        {"week": "2025-08-18", "bu": "Phoenix-Production", "kpi": "gpm", "value": 0.95}
    ]
    assert results["kpi.ranges"].next_step.startswith("stkpi explain --kpi gpm")
    presence = results["kpi.presence"]
    assert presence.status == RED
    assert presence.numbers["missing"] == [
        {"week": "2025-08-25", "bu": "Phoenix-Sales", "kpi": "leads"}
    ]
    jumps = results["kpi.jumps"]
    assert jumps.status == YELLOW
    # 200000 is far above 3 x the highest other week; the return to normal the week
    # after is inside the BU's usual range, not a second jump.
    assert {(j["week"], j["kpi"]) for j in jumps.numbers["jumps"]} == {("2025-08-18", "produced")}


def test_missing_kpi_marts_are_reported_not_crashing(bq_emulator) -> None:
    t = build_clean_tenant(bq_emulator, with_marts=False)
    results = t.validate()
    kpi = results["kpi.presence"]
    assert kpi.status == RED
    assert kpi.message.startswith("KPI marts missing")
    assert results["join.invoices_jobs"].status == GREEN


def test_thresholds_come_from_configuration(tenant: Tenant) -> None:
    config = ValidationConfig(freshness_max_hours=2.0)
    results = tenant.validate(config=config, store=False)
    assert results["freshness.jobs"].status == RED
    assert results["freshness.jobs"].threshold["max_age_hours"] == 2.0


def _cli_env(monkeypatch: pytest.MonkeyPatch, t: Tenant, bq_emulator) -> None:
    s = t.settings
    env = {
        **bq_emulator.env,
        "BQ_DATASET_PREFIX": s.bq_dataset_prefix,
        "ST_TENANT_ID": str(s.st_tenant_id),  # whose maps kpi.bu_map reads (an operator sets it)
        "STKPI_STACK_ROOT": "/nonexistent",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)


def test_cli_json_and_exit_status(tenant: Tenant, bq_emulator, monkeypatch) -> None:
    from typer.testing import CliRunner

    from stkpi_tools.cli import app

    _cli_env(monkeypatch, tenant, bq_emulator)
    runner = CliRunner()
    as_of = ["--as-of", _iso(NOW)]
    clean = runner.invoke(app, ["validate", "--json", "--run-id", "cli-0", *as_of])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["status"] == GREEN
    mart = tenant.table("mart", "kpi_weekly")
    tenant.sql(
        f"UPDATE `{mart}` SET value = 1000000 WHERE kpi = 'produced' "
        "AND week_start = DATE '2025-09-01'"
    )
    assert runner.invoke(app, ["validate", "--no-store", *as_of]).exit_code == 0
    strict = runner.invoke(app, ["validate", "--no-store", "--strict", *as_of])
    assert strict.exit_code == 1
    assert "kpi.jumps" in strict.output and "YELLOW" in strict.output
    # Against the wall clock the tenant is old: freshness is RED, so the exit status is 2.
    result = CliRunner().invoke(app, ["validate", "--json", "--run-id", "cli-1"])
    doc = json.loads(result.output)
    by_name = {c["name"]: c for c in doc["checks"]}
    assert by_name["join.invoices_jobs"]["status"] == GREEN
    assert by_name["join.invoices_jobs"]["numbers"]["total"] == len(CLEAN["invoices"])
    assert "pipeline.dead_letters" not in by_name  # no Pub/Sub emulator configured
    assert by_name["freshness.invoices"]["status"] == RED
    assert result.exit_code == 2
    table = CliRunner().invoke(app, ["validate", "--no-store"])
    assert table.exit_code == 2
    assert "freshness.invoices" in table.output and "overall" in table.output


def test_clean_tenant_with_the_real_kpi_marts_is_all_green(bq_emulator) -> None:
    t = build_clean_tenant(bq_emulator, with_marts=False)
    build_marts(t.client, t.settings)
    results = t.validate(store=False)
    assert _not_green(results) == {}
    assert results["kpi.presence"].numbers["expected_rows"] == 12 * (len(SALES) + len(PRODUCTION))
