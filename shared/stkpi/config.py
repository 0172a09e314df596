"""Settings: one frozen object, read once from the environment and passed explicitly.

The same variable names are used locally and in Terraform. A missing or malformed setting
fails at start with one message listing every problem, so a user fixes them all in one go
instead of discovering them one crash at a time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from stkpi.errors import ConfigError

# The days a tenant's weeks may start on (KPIS.md: Monday unless the tenant says otherwise).
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

# ServiceTitan's tenant id: its path parameter {tenant} is an int64 (the OpenAPI specs); it
# also names an added tenant's datasets and landing root, so nothing else may pass.
TENANT_ID_PATTERN = r"[1-9][0-9]{0,18}"

# ServiceTitan credential: environment variable -> Settings field (stkpi.secrets reads them).
CREDENTIAL_FIELDS = {
    "ST_TENANT_ID": "st_tenant_id",
    "ST_CLIENT_ID": "st_client_id",
    "ST_CLIENT_SECRET": "st_client_secret",
    "ST_APP_KEY": "st_app_key",
}


class Settings(BaseModel):
    """Everything the pipeline reads from its environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    st_api_base_url: str = Field(description="ServiceTitan API base URL")
    st_auth_url: str = Field(description="ServiceTitan auth server URL")
    # Credentials are optional here because only the functions that call ServiceTitan are
    # granted them (least privilege). A deployed function gets references instead of values
    # (ST_SECRETS: env name -> Secret Manager secret), read when a call needs them
    # (stkpi.secrets.with_credentials); whatever talks to ServiceTitan calls
    # require_servicetitan() at start, which accepts either.
    st_tenant_id: str | None = Field(default=None, min_length=1)
    st_client_id: SecretStr | None = None
    st_client_secret: SecretStr | None = None
    st_app_key: SecretStr | None = None
    st_secrets: dict[str, str] = Field(default_factory=dict)
    st_rate_limit_per_second: float = Field(default=10.0, gt=0, le=1000)
    # ServiceTitan's largest page: fewer requests per record under a per-request limit.
    st_page_size: int = Field(default=5000, ge=1, le=5000)
    st_request_timeout_seconds: float = Field(default=100.0, gt=0)
    report_timezone: str = "America/Phoenix"
    # The day the tenant's KPI weeks start on (the tenant registry's ``weeks_start``).
    weeks_start: Weekday = "monday"
    gcp_project: str = Field(min_length=1)
    landing_bucket: str = Field(min_length=3)
    bq_dataset_prefix: str = Field(default="st", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    bq_location: str = "US"
    # Where this tenant's objects live in the landing bucket (stkpi.landing): "" for the
    # deployment's default tenant (today's paths), ``t<id>/`` for an added tenant
    # (stkpi.tenants.settings_for), so two tenants' runs never share an object.
    landing_root: str = Field(default="", pattern=r"^(?:[A-Za-z0-9_=-]+/)*$")
    # An added tenant's settings (stkpi.tenants.settings_for) keep the deployment's dataset
    # prefix here: what is about the deployment, not one tenant (the tenant registry, the
    # tenants' maps, the combined marts), stays in its datasets. None: the deployment's own.
    deployment_dataset_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    fetch_time_budget_seconds: float = Field(default=480.0, gt=0)
    # Coarse windows: a plan cuts its range into windows of at most this many days, and
    # each window splits itself by record count (stkpi.splits), so the default (10 years)
    # is one window per entity for any backfill that fits in a decade.
    window_days: int = Field(default=3660, ge=1, le=3660)
    # A window holding more than this many full pages splits into children (stkpi.splits).
    window_target_pages: int = Field(default=25, ge=1, le=10_000)
    # Page requests one fetch keeps outstanding: an API that answers a 5,000-record page
    # in about a second leaves the rate limit unused with one page at a time.
    fetch_pages_in_flight: int = Field(default=4, ge=1, le=64)
    # A key scan that would mark more than this share of an entity's rows deleted in one
    # go marks nothing and turns validation RED (stkpi.key_scan): a revoked scope or a
    # truncated API answer must never wipe the warehouse.
    delete_guard_share: float = Field(default=0.02, gt=0, le=1)
    # ... judged over this many days of scans, per entity: two scans marking 1.5% each in
    # one week are a 3% loss, however each looks alone. Only the operator raises the share
    # (`stkpi deletes --allow-share`, st_ops.delete_allowances), never a plan message.
    delete_guard_days: int = Field(default=30, ge=1, le=366)
    # A record whose modifiedOn or createdOn lies further ahead of now than this is
    # quarantined (stkpi.quarantine): kept, the MERGE would never replace it again.
    future_tolerance_hours: float = Field(default=24.0, gt=0, le=24 * 366)
    topic_plan: str = "st-plan"
    topic_windows: str = "st-windows"
    topic_loads: str = "st-loads"
    topic_rebuild: str = "st-rebuild"
    # Deployment shape, set by terraform/ (main.tf common_env) and, locally, read from it.
    dead_letter_topic_suffix: str | None = Field(default=None, min_length=1)
    dead_letter_subscription_suffix: str | None = Field(default=None, min_length=1)
    window_lanes: int | None = Field(default=None, ge=1, le=1000)
    # The function's timeout (terraform/functions.tf): its deliveries' deadline.
    function_timeout_seconds: float | None = Field(default=None, gt=0, le=3600)

    @field_validator("st_secrets", mode="before")
    @classmethod
    def _secret_names(cls, value: object) -> object:
        if isinstance(value, str):  # the environment's JSON object
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError as exc:
                raise ValueError(f"must be a JSON object of secret names ({exc})") from None
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(CREDENTIAL_FIELDS))
            if unknown:
                raise ValueError(f"names no ServiceTitan credential: {', '.join(unknown)}")
        return value

    # Where "now" in the tenant's world is read (stkpi.clock): unset in the cloud (the wall
    # clock); the local stack points it at the simulator's clock, which stands still.
    tenant_clock_url: str | None = None

    @field_validator("st_api_base_url", "st_auth_url", "tenant_clock_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator(
        "st_tenant_id", "st_client_id", "st_client_secret", "st_app_key", mode="before"
    )
    @classmethod
    def _clean_credential(cls, value: object) -> object:
        """A credential as ServiceTitan issued it: the whitespace around it (a secret added
        from a file ends in a line break) is dropped; what is left must be a header value
        (printable ASCII), or requests would fail with an error that quotes it. Errors
        never show the value."""
        if value is None:
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        text = text.strip()
        if not text:
            raise ValueError("is empty (only whitespace)")
        if any(not " " <= ch <= "~" for ch in text):
            raise ValueError(
                "holds a line break, a control or a non-ASCII character inside: re-add the "
                "secret exactly as ServiceTitan shows it (the value is not shown here)"
            )
        return text

    @field_validator("report_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    def require_servicetitan(self) -> None:
        """Fail with one message naming every ServiceTitan credential that has neither a
        value nor a secret to read it from (ST_SECRETS)."""
        missing = [
            env
            for env, name in CREDENTIAL_FIELDS.items()
            if getattr(self, name) is None and env not in self.st_secrets
        ]
        if missing:
            raise ConfigError(
                "invalid configuration:\n"
                + "\n".join(
                    f"  - {m}: is required to call ServiceTitan but not set" for m in missing
                )
            )

    def require_function(self) -> None:
        """What every deployed function needs besides the common settings: where to
        dead-letter a message that can never succeed, and how many windows a run may keep
        in flight. Checked at start so a deploy without them fails at once, not mid-run."""
        self.require("dead_letter_topic_suffix", "window_lanes", why="by the pipeline functions")

    def require(self, *names: str, why: str) -> None:
        """Fail with one message naming every optional setting in ``names`` that is unset."""
        missing = [name.upper() for name in names if getattr(self, name) is None]
        if missing:
            raise ConfigError(
                "invalid configuration:\n"
                + "\n".join(f"  - {m}: is required {why} but not set" for m in missing)
            )

    @property
    def pipeline_topics(self) -> tuple[str, str, str, str]:
        """The four topics that drive the steps, in pipeline order."""
        return (self.topic_plan, self.topic_windows, self.topic_loads, self.topic_rebuild)

    def dead_letter_topic(self, topic: str) -> str:
        """The dead-letter topic of a pipeline topic (terraform/pubsub.tf names it)."""
        self.require("dead_letter_topic_suffix", why="to dead-letter a message")
        return f"{topic}{self.dead_letter_topic_suffix}"

    def dead_letter_subscription(self, topic: str) -> str:
        """The pull subscription that holds a pipeline topic's dead letters."""
        self.require(
            "dead_letter_topic_suffix",
            "dead_letter_subscription_suffix",
            why="to read dead letters (terraform output operator_env has them)",
        )
        return f"{self.dead_letter_topic(topic)}{self.dead_letter_subscription_suffix}"

    @property
    def window_target_records(self) -> int:
        """Records above which a window splits (``stkpi.splits``)."""
        return self.window_target_pages * self.st_page_size

    def dataset(self, layer: str) -> str:
        """BigQuery dataset id of a layer (raw, stage, dim, mart, ops)."""
        return f"{self.bq_dataset_prefix}_{layer}"

    def deployment_dataset(self, layer: str) -> str:
        """The deployment's dataset of a layer, whichever tenant these settings are for."""
        return f"{self.deployment_dataset_prefix or self.bq_dataset_prefix}_{layer}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.report_timezone)


def with_values(settings: Settings, update: Mapping[str, Any]) -> Settings:
    """``settings`` with ``update`` applied and checked as at start (a credential read from
    Secret Manager is cleaned and refused the same way as one from the environment);
    raises ``ConfigError`` naming the setting, never its value."""
    try:
        return Settings.model_validate({**dict(settings), **update})
    except ValidationError as exc:
        raise _config_error(exc) from None


def _config_error(exc: ValidationError) -> ConfigError:
    problems = []
    for err in exc.errors():
        name = str(err["loc"][0]).upper() if err["loc"] else "?"
        reason = "is required but not set" if err["type"] == "missing" else err["msg"]
        problems.append(f"  - {name}: {reason}")
    return ConfigError("invalid configuration:\n" + "\n".join(problems))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: the process environment).

    Raises ``ConfigError`` naming every missing or malformed variable, never a traceback.
    """
    env = dict(os.environ if environ is None else environ)
    values = {name: env[name.upper()] for name in Settings.model_fields if name.upper() in env}
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise _config_error(exc) from None
