"""Settings fail at start with one message listing every problem, never a traceback."""

from __future__ import annotations

import pytest

from stkpi.config import load_settings
from stkpi.errors import ConfigError

VALID = {
    "ST_API_BASE_URL": "http://127.0.0.1:1",
    "ST_AUTH_URL": "http://127.0.0.1:1",
    "GCP_PROJECT": "p",
    "LANDING_BUCKET": "bucket",
}


def test_every_problem_is_listed_at_once() -> None:
    env = {"ST_API_BASE_URL": "ftp://x", "ST_PAGE_SIZE": "9000", "REPORT_TIMEZONE": "Mars/Base"}
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    text = str(info.value)
    for needle in (
        "ST_API_BASE_URL: Value error, must start with http",
        "ST_AUTH_URL: is required",
        "ST_PAGE_SIZE: Input should be less than or equal to 5000",
        "REPORT_TIMEZONE: Value error, unknown IANA time zone 'Mars/Base'",
        "GCP_PROJECT: is required",
        "LANDING_BUCKET: is required",
    ):
        assert needle in text


def test_defaults_follow_the_handbook() -> None:
    s = load_settings(VALID)
    assert s.report_timezone == "America/Phoenix"
    assert s.dataset("raw") == "st_raw"
    assert s.st_page_size == 5000  # ServiceTitan's largest page: the limit is per request
    assert s.window_target_records == 25 * 5000


def test_servicetitan_credentials_checked_only_where_used() -> None:
    s = load_settings(VALID)  # plan/load/rebuild start without credentials
    with pytest.raises(ConfigError) as info:
        s.require_servicetitan()
    assert "ST_CLIENT_SECRET: is required to call ServiceTitan" in str(info.value)
    full = load_settings(
        {
            **VALID,
            "ST_TENANT_ID": "1",
            "ST_CLIENT_ID": "c",
            "ST_CLIENT_SECRET": "s3cr3t",
            "ST_APP_KEY": "k",
        }
    )
    full.require_servicetitan()
    assert "s3cr3t" not in repr(full)  # secrets never print
