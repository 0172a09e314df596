"""ServiceTitan's credentials, read when a call needs them: the one place a secret is read.

A deployed function is told *where* each credential is (``ST_SECRETS``: environment
variable name -> Secret Manager secret, terraform/functions.tf), never its value, and reads
version ``latest`` when it first calls ServiceTitan. Cloud Run refuses to start a revision
that mounts a secret version that does not exist, so mounting the secrets would fail the
first ``terraform apply``, which runs before anyone has added their values (the values
never pass through Terraform). Read at call time, the deploy completes either way, and a
delivery that needs a credential nobody has added yet is dead-lettered, replayable, with
the command that adds it (:class:`MissingSecretError`; ``stkpi.runtime``).

A value given in the environment (the local stack, the CLI's ``.env``) wins over a
reference: nothing is looked up. A value read from Secret Manager is kept for
``CACHE_SECONDS``, so a rotated secret is picked up within minutes without a redeploy;
``forget()`` drops it at once (for a caller that was just refused with it).
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from stkpi.config import CREDENTIAL_FIELDS, Settings, with_values
from stkpi.errors import ConfigError

# environment variable -> Settings field
CREDENTIALS = CREDENTIAL_FIELDS
CACHE_SECONDS = 300.0
SECRETS_DIR_ENV = "ST_SECRETS_DIR"

# secret resource name ("projects/p/secrets/s") -> its latest value ("" = no usable version)
Accessor = Callable[[str], str]


class MissingSecretError(ConfigError):
    """A credential's secret has no usable version yet. Nothing a retry can fix until
    someone adds one, so the delivery is dead-lettered as replayable, with this message."""


def _secret_id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def add_version_command(name: str) -> str:
    """The command that gives secret ``name`` a value (read from stdin, not the shell)."""
    project = name.split("/")[1] if name.startswith("projects/") else ""
    where = f" --project {project}" if project else ""
    return (
        f'read -rs V && printf %s "$V" | gcloud secrets versions add {_secret_id(name)}'
        f"{where} --data-file=-"
    )


def secret_manager_accessor() -> Accessor:
    """Reads ``<secret>/versions/latest`` with the official client (built on first use)."""
    from google.api_core import exceptions
    from google.cloud import secretmanager

    client = secretmanager.SecretManagerServiceClient()

    def access(name: str) -> str:
        try:
            response = client.access_secret_version(name=f"{name}/versions/latest")
        except (exceptions.NotFound, exceptions.FailedPrecondition) as exc:
            # NotFound: no version at all (or no secret); FailedPrecondition: the latest
            # version is disabled or destroyed. Either way: add a version.
            raise MissingSecretError(_missing(name, type(exc).__name__)) from None
        return response.payload.data.decode("utf-8")

    return access


def directory_accessor(root: Path) -> Accessor:
    """Secret Manager's stand-in for the local stack (it has no emulator): ``root/<secret
    id>`` holds the latest value of secret ``projects/P/secrets/<secret id>``."""

    def access(name: str) -> str:
        secret_id = _secret_id(name)
        path = root / secret_id
        if not path.is_file():
            raise MissingSecretError(
                f"secret {secret_id} has no value: no file {path} ({SECRETS_DIR_ENV})"
            )
        return path.read_text()

    return access


def default_accessor() -> Accessor:
    """Secret Manager, or the directory ``ST_SECRETS_DIR`` names where it is set (locally
    only: the cloud never sets it)."""
    root = os.environ.get(SECRETS_DIR_ENV, "").strip()
    return directory_accessor(Path(root)) if root else _secret_manager()


@functools.cache
def _secret_manager() -> Accessor:
    return secret_manager_accessor()  # one client per process


def _missing(name: str, why: str) -> str:
    return (
        f"secret {_secret_id(name)} has no usable version ({why}): add a version of secret "
        f"{_secret_id(name)} with `{add_version_command(name)}`, then replay what waited "
        "for it with `stkpi dead-letters --replay`"
    )


class SecretReader:
    """Values of Secret Manager secrets, each read at most once per ``CACHE_SECONDS``."""

    def __init__(
        self,
        access: Accessor | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = CACHE_SECONDS,
    ) -> None:
        self._access = access
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, str]] = {}

    def read(self, name: str) -> str:
        with self._lock:
            cached = self._values.get(name)
            if cached is not None and self._clock() - cached[0] < self._ttl:
                return cached[1]
            access = self._access or default_accessor()
            value = access(name).strip()  # a value added from a file ends in "\n"
            if not value:
                raise MissingSecretError(_missing(name, "its latest version is empty"))
            self._values[name] = (self._clock(), value)
            return value

    def forget(self) -> None:
        with self._lock:
            self._values.clear()


_READER = SecretReader()


def read(name: str) -> str:
    """The latest value of secret ``name`` (cached like every credential)."""
    return _READER.read(name)


def forget() -> None:
    """Read every secret again at its next use (e.g. after ServiceTitan refused one)."""
    _READER.forget()


def with_credentials(settings: Settings, reader: SecretReader | None = None) -> Settings:
    """``settings`` with every ServiceTitan credential filled in: its own value when the
    environment gave one, else its secret's latest value. Raises MissingSecretError (the
    secret has no version yet) or ConfigError (neither a value nor a secret)."""
    reader = reader or _READER
    update: dict[str, Any] = {}
    for env, field in CREDENTIALS.items():
        if getattr(settings, field) is not None:
            continue
        name = settings.st_secrets.get(env)
        if name is None:
            continue  # require_servicetitan below names it
        value = reader.read(name)
        update[field] = value if field == "st_tenant_id" else SecretStr(value)
    resolved = with_values(settings, update) if update else settings  # cleaned, checked
    resolved.require_servicetitan()
    return resolved
