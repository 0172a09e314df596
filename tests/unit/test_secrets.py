"""ServiceTitan's credentials read at call time (stkpi.secrets): a deploy needs no secret
version, and until one exists a delivery says which secret to add and how.

Secret Manager has no emulator, so its client is replaced by an accessor that answers as
``secret_manager_accessor`` does (a value, or MissingSecretError)."""

from __future__ import annotations

import base64
import json

import pytest

from stkpi import runtime, secrets
from stkpi.config import load_settings
from stkpi.context import PipelineContext
from stkpi.errors import ConfigError
from stkpi.messages import PlanMessage
from stkpi.secrets import MissingSecretError, SecretReader, _missing, with_credentials

NAMES = {
    "ST_TENANT_ID": "projects/p/secrets/st-tenant-id",
    "ST_CLIENT_ID": "projects/p/secrets/st-client-id",
    "ST_CLIENT_SECRET": "projects/p/secrets/st-client-secret",
    "ST_APP_KEY": "projects/p/secrets/st-app-key",
}
BASE = {
    "ST_API_BASE_URL": "https://api.example",
    "ST_AUTH_URL": "https://auth.example",
    "GCP_PROJECT": "p",
    "LANDING_BUCKET": "p-st-landing",
}


def _deployed(**extra: str):
    """A function's settings as terraform gives them: secret names, no values."""
    return load_settings({**BASE, "ST_SECRETS": json.dumps(NAMES), **extra})


class Store:
    """Secret name -> its versions' values (the latest last); counts reads."""

    def __init__(self, **values: str) -> None:
        self.values = {NAMES[k]: v for k, v in values.items()}
        self.reads = 0

    def access(self, name: str) -> str:
        self.reads += 1
        if name not in self.values:
            raise MissingSecretError(_missing(name, "NotFound"))
        return self.values[name]


FULL = {"ST_TENANT_ID": "1000", "ST_CLIENT_ID": "c", "ST_CLIENT_SECRET": "s", "ST_APP_KEY": "k"}


def test_a_deployed_function_starts_without_any_secret_value() -> None:
    settings = _deployed()
    settings.require_servicetitan()  # references are enough to start
    assert settings.st_client_secret is None


def test_credentials_are_read_when_needed_and_stripped() -> None:
    store = Store(**{**FULL, "ST_APP_KEY": "k\n"})  # added from a file: a trailing newline
    resolved = with_credentials(_deployed(), SecretReader(store.access))
    assert resolved.st_tenant_id == "1000"
    assert resolved.st_app_key.get_secret_value() == "k"
    assert resolved.st_client_secret.get_secret_value() == "s"


def test_a_secret_with_a_line_break_inside_is_refused_by_name_never_by_value() -> None:
    # Pasted across two lines: no HTTP header can carry it, and requests' own error would
    # quote it. Refused where it is read, naming the variable only.
    store = Store(**{**FULL, "ST_APP_KEY": "ak-top-half\nak-bottom-half"})
    with pytest.raises(ConfigError) as refused:
        with_credentials(_deployed(), SecretReader(store.access))
    text = str(refused.value)
    assert "ST_APP_KEY" in text and "line break" in text
    assert "ak-top-half" not in text and "ak-bottom-half" not in text
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_a_refused_call_reads_the_secrets_again_past_the_cache(monkeypatch) -> None:
    # ServiceTitan refused a fresh token: the secret may have been rotated minutes ago,
    # while this warm instance holds the old value for CACHE_SECONDS.
    store = Store(**FULL)
    monkeypatch.setattr(secrets, "_READER", SecretReader(store.access, clock=lambda: 0.0))
    ctx = PipelineContext(_deployed())
    assert ctx.st_settings.st_app_key.get_secret_value() == "k"
    store.values[NAMES["ST_APP_KEY"]] = "k-rotated\n"
    assert ctx.st_settings.st_app_key.get_secret_value() == "k"  # cached
    assert ctx._reread_credentials().st_app_key.get_secret_value() == "k-rotated"


def test_a_secret_without_a_version_names_the_secret_and_the_command_that_adds_it() -> None:
    store = Store(**{k: v for k, v in FULL.items() if k != "ST_CLIENT_SECRET"})
    with pytest.raises(MissingSecretError) as err:
        with_credentials(_deployed(), SecretReader(store.access))
    text = str(err.value)
    assert "add a version of secret st-client-secret" in text
    assert "gcloud secrets versions add st-client-secret --project p --data-file=-" in text
    assert "stkpi dead-letters --replay" in text


def test_an_empty_latest_version_is_missing_too() -> None:
    store = Store(**{**FULL, "ST_APP_KEY": " \n"})
    with pytest.raises(MissingSecretError, match="st-app-key"):
        with_credentials(_deployed(), SecretReader(store.access))


def test_values_are_kept_a_while_then_read_again() -> None:
    now = [0.0]
    store = Store(**FULL)
    reader = SecretReader(store.access, clock=lambda: now[0], ttl=300)
    with_credentials(_deployed(), reader)
    with_credentials(_deployed(), reader)
    assert store.reads == 4  # one per secret, once
    store.values[NAMES["ST_APP_KEY"]] = "rotated"
    now[0] = 301.0
    assert with_credentials(_deployed(), reader).st_app_key.get_secret_value() == "rotated"


def test_a_value_in_the_environment_wins_and_nothing_is_read() -> None:
    store = Store()
    resolved = with_credentials(_deployed(**FULL), SecretReader(store.access))
    assert resolved.st_client_id.get_secret_value() == "c"
    assert store.reads == 0


def test_neither_value_nor_secret_is_a_config_error_naming_every_credential() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(BASE).require_servicetitan()
    for name in FULL:
        assert name in str(err.value)


def test_st_secrets_must_name_known_credentials() -> None:
    with pytest.raises(ConfigError, match="ST_SECRETS"):
        load_settings({**BASE, "ST_SECRETS": json.dumps({"ST_PASSWORD": "x"})})
    with pytest.raises(ConfigError, match="ST_SECRETS"):
        load_settings({**BASE, "ST_SECRETS": "not json"})


class _Bus:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict]] = []

    def publish_raw(self, topic: str, raw: bytes, **attrs: str) -> None:
        self.published.append((topic, raw, attrs))


class _Ctx:
    def __init__(self) -> None:
        self.settings = _deployed(DEAD_LETTER_TOPIC_SUFFIX="-dead-letter")
        self.bus = _Bus()


def test_a_delivery_waiting_for_a_secret_is_dead_lettered_replayable_with_the_fix() -> None:
    ctx = _Ctx()
    plan = PlanMessage(run_type="daily")
    envelope = {"message": {"data": base64.b64encode(plan.to_bytes()).decode(), "messageId": "m"}}

    def work(msg, c):
        with_credentials(c.settings, SecretReader(Store().access))

    _, status = runtime.handle_push("plan_windows", PlanMessage, envelope, work, ctx)
    assert status == 204  # acked: five quick retries cannot add the value
    [(topic, raw, attrs)] = ctx.bus.published
    assert topic == "st-plan-dead-letter" and raw == plan.to_bytes()
    assert attrs["replayable"] == "true"  # stkpi dead-letters --replay sends it back
    assert "gcloud secrets versions add st-" in attrs["error"]
