"""The Reporting API renders the tenant once per state, and again as soon as it changes."""

from __future__ import annotations

from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.state import ReportSnapshots
from stkpi_tools.sim.tenant import Tenant


class CountingTenant(Tenant):
    def __init__(self, config: SimConfig) -> None:
        super().__init__(config)
        self.rendered: list[str] = []

    def snapshot(self, name: str):  # type: ignore[override]
        self.rendered.append(name)
        return super().snapshot(name)


def test_snapshots_are_reused_until_the_clock_or_an_edit_changes_the_tenant():
    tenant = CountingTenant(SimConfig(scale=0.002, seed=5))
    source = ReportSnapshots(tenant)
    first = source("jobs")
    assert source("jobs") is first and tenant.rendered == ["jobs"]  # same state: reused
    tenant.advance(24)  # the clock moves: records may become visible
    assert source("jobs") == tenant.snapshot("jobs") and tenant.rendered[:2] == ["jobs"] * 2
    rendered = len(tenant.rendered)
    before_edit = source("jobs")
    tenant.edit("jobs", 3)
    after = source("jobs")
    assert len(tenant.rendered) == rendered + 1 and after is not before_edit  # a new state
    changed = [a for a, b in zip(after, before_edit, strict=True) if a != b]
    assert len(changed) == 3 and all(r["modifiedOn"] == tenant.now_iso() for r in changed)
