"""FaultState: damaged pages go where the settings say, and only there."""

from __future__ import annotations

from stkpi_tools.sim.config import FaultConfig
from stkpi_tools.sim.faults import FaultState


def test_damaged_copies_spread_over_requests_by_default() -> None:
    faults = FaultState(FaultConfig(malformed_pages=2), seed=1)
    assert faults.take_body_fault("jobs", 2, "/a") == "malformed"
    assert faults.take_body_fault("jobs", 2, "/b") == "malformed"
    assert faults.take_body_fault("jobs", 2, "/a") is None  # used up


def test_damage_same_request_pins_every_copy_to_the_first_request() -> None:
    # 3 copies: a client retrying one request twice sees all three and gives up, while
    # requests for other windows pass untouched.
    faults = FaultState(
        FaultConfig(truncate_pages=1, malformed_pages=2, damage_same_request=True), seed=1
    )
    assert faults.take_body_fault("jobs", 2, "/w1") == "truncate"
    assert faults.take_body_fault("jobs", 2, "/w2") is None
    assert faults.take_body_fault("jobs", 2, "/w1") == "malformed"
    assert faults.take_body_fault("jobs", 2, "/w1") == "malformed"
    assert faults.take_body_fault("jobs", 2, "/w1") is None
    faults.update(malformed_pages=1)  # new settings pin a new request
    assert faults.take_body_fault("jobs", 2, "/w2") == "malformed"
