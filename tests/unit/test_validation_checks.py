"""The validation catalogue and its runner, without BigQuery.

The catalogue (stkpi.validation.checks) is data: these tests hold it to the files and
thresholds it names, and the runner to its promise that a check that cannot run is RED
without hiding the others.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from google.api_core.exceptions import NotFound

from stkpi.validation.checks import CHECKS, Check, Shared
from stkpi.validation.config import ValidationConfig
from stkpi.validation.context import Context
from stkpi.validation.fmt import sql_path
from stkpi.validation.result import GREEN, RED, YELLOW, CheckResult
from stkpi.validation.runner import run_checks

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2025, 9, 10, 15, tzinfo=dt.UTC)


def _ctx(**kw: Any) -> Context:
    """A context for what needs no warehouse: subjects, and the fake measures below."""
    return Context(None, None, NOW, ValidationConfig(), **kw)  # type: ignore[arg-type]


def _declared_files(ctx: Context) -> set[str]:
    files = set()
    for check in CHECKS:
        for subject in check.subjects(ctx):
            files |= {sql_path(s.format(subject=subject)) for s in check.sql}
        if check.shared is not None:
            files.add(check.shared.sql)
    return files


def test_every_validation_query_is_declared_by_a_check_and_exists() -> None:
    declared = _declared_files(_ctx(dead_letters=lambda: {}))
    on_disk = {str(p.relative_to(ROOT)) for p in (ROOT / "sql" / "validations").glob("*.sql")}
    assert on_disk - declared == set(), "queries no check runs"
    assert {f for f in declared if not (ROOT / f).is_file()} == set(), "declared, not on disk"


def test_thresholds_are_config_fields_and_every_field_is_read_by_a_check() -> None:
    fields = set(ValidationConfig.model_fields)
    claimed = {t for check in CHECKS for t in check.thresholds}
    assert claimed - fields == set(), "thresholds that are not ValidationConfig fields"
    assert fields - claimed == set(), "config fields no check declares"


def test_check_names_are_unique_and_category_dot_subject() -> None:
    ctx = _ctx(dead_letters=lambda: {})
    names = [c.name.format(subject=s) for c in CHECKS for s in c.subjects(ctx)]
    assert len(names) == len(set(names))
    assert all(n.count(".") == 1 for n in names), names


def test_dead_letters_are_checked_only_with_a_counter() -> None:
    def names(ctx: Context) -> set[str]:
        return {c.name for c in CHECKS for _ in c.subjects(ctx)}

    assert "pipeline.dead_letters" in names(_ctx(dead_letters=lambda: {}))
    assert "pipeline.dead_letters" not in names(_ctx())


# -- the runner, with fake measures ---------------------------------------------------------


def _ok(name: str, status: str = GREEN):
    def judge(**inputs: Any) -> CheckResult:
        return CheckResult(name, status, repr(inputs))  # type: ignore[arg-type]

    return judge


def _broken(*_: Any) -> dict[str, Any]:
    raise RuntimeError("Syntax error: Unexpected keyword")


def _fine(ctx: Context, subject: Any, shared: Any) -> dict[str, Any]:
    return {"subject": subject, "shared": dict(shared)}


def test_a_broken_check_is_red_names_its_query_and_hides_nothing() -> None:
    checks = (
        Check("a.x", ("a_query",), _broken, _ok("a.x")),
        Check("b.{subject}", ("b_{subject}",), _fine, _ok("b.y", YELLOW), subjects=lambda c: "y"),
    )
    a, b = run_checks(_ctx(), checks)
    assert (a.name, a.status) == ("a.x", RED)
    assert a.message == "check could not run: RuntimeError: Syntax error: Unexpected keyword"
    assert a.next_step == "sql/validations/a_query.sql; run it by hand to see the error"
    assert (b.name, b.status, b.message) == ("b.y", YELLOW, "{'subject': 'y', 'shared': {}}")


def test_a_missing_table_gives_the_checks_own_results_when_it_says_what_that_means() -> None:
    def missing(*_: Any) -> dict[str, Any]:
        raise NotFound("Table kpi_weekly not found")

    said = [CheckResult("k.presence", RED, "marts missing")]
    checks = (
        Check("k.presence", ("k",), missing, _ok("k"), if_missing=lambda ctx, exc: said),
        Check("k.other", ("k",), missing, _ok("k")),
    )
    first, second = run_checks(_ctx(), checks)
    assert first.message == "marts missing"
    assert second.message.startswith("check could not run: NotFound")


def test_a_shared_measurement_that_fails_is_one_red_and_a_required_one_stops_its_subjects() -> None:
    def boom(ctx: Context) -> dict[str, Any]:
        raise RuntimeError("no table")

    optional = Shared("s.state", "sql/validations/s_state.sql", boom, required=False)
    required = Shared("r.scans", "sql/ops/r_scans.sql", boom, required=True)
    checks = (
        Check("s.{subject}", ("s",), _fine, _ok("s.e"), subjects=lambda c: ["e"], shared=optional),
        Check("r.{subject}", ("r",), _fine, _ok("r.e"), subjects=lambda c: ["e"], shared=required),
    )
    results = run_checks(_ctx(), checks)
    assert [(r.name, r.status) for r in results] == [
        ("s.state", RED),
        ("s.e", GREEN),  # measured without the shared rows
        ("r.scans", RED),  # and nothing after it
    ]
    assert results[2].next_step.startswith("sql/ops/r_scans.sql;")


def test_a_shared_measurement_reaches_every_subject() -> None:
    shared = Shared("s.state", "x.sql", lambda ctx: {"jobs": 1}, required=True)
    check = Check(
        "s.{subject}", ("s",), _fine, _ok("s"), subjects=lambda c: ["a", "b"], shared=shared
    )
    results = run_checks(_ctx(), (check,))
    assert [r.message for r in results] == [
        "{'subject': 'a', 'shared': {'jobs': 1}}",
        "{'subject': 'b', 'shared': {'jobs': 1}}",
    ]
