"""The environment a pipeline process needs on the local stack (Settings vars + emulators)."""

from __future__ import annotations

from collections.abc import Mapping

from stkpi.config import Settings, load_settings

LOCAL_BUCKET = "stkpi-landing"


def local_settings_env(
    project: str,
    *,
    st_base_url: str = "http://127.0.0.1:9",
    bucket: str = LOCAL_BUCKET,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Settings variables with local defaults (test credentials, the simulator's tenant)."""
    env = {
        "ST_API_BASE_URL": st_base_url,
        "ST_AUTH_URL": st_base_url,
        "ST_TENANT_ID": "1000",
        "ST_CLIENT_ID": "local-client",
        "ST_CLIENT_SECRET": "local-secret",
        "ST_APP_KEY": "local-app-key",
        "REPORT_TIMEZONE": "America/Phoenix",
        "GCP_PROJECT": project,
        "LANDING_BUCKET": bucket,
        "BQ_DATASET_PREFIX": "st",
        "GOOGLE_CLOUD_PROJECT": project,
    }
    env.update(extra or {})
    return env


def settings_from(env: Mapping[str, str]) -> Settings:
    return load_settings(env)
