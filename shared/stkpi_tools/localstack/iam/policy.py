"""IAM policy of the local stack: grants, predefined roles, and the question Google asks.

A check is ``(permission, resource)`` on a canonical resource name::

    projects/{p}
    projects/{p}/buckets/{bucket}             projects/{p}/buckets/{bucket}/objects/{name}
    projects/{p}/datasets/{d}                 projects/{p}/datasets/{d}/tables/{t}
    projects/{p}/topics/{t}                   projects/{p}/subscriptions/{s}

A grant on a resource applies to that resource and to everything under it (IAM policy
inheritance: project -> bucket -> object, project -> dataset -> table, project -> topic or
subscription). ``allUsers`` and ``allAuthenticatedUsers`` grants apply to every caller.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from stkpi.errors import StkpiError

ROLES_FILE = Path(__file__).with_name("roles.json")
EVERYONE = ("allUsers", "allAuthenticatedUsers")

Check = tuple[str, str]  # (permission, resource)


class PolicyError(StkpiError):
    """A grant the gate cannot honour (unknown role): it would silently grant nothing."""


class NoRule(Exception):
    """The gate has no rule for this call (or cannot judge it): it is denied, loudly."""


@dataclass(frozen=True)
class Grant:
    member: str
    role: str
    resource: str


class _GrantLike(Protocol):
    member: str
    role: str
    resource: str


@cache
def _roles_cached() -> dict[str, frozenset[str]]:
    data = json.loads(ROLES_FILE.read_text())
    return {role: frozenset(perms) for role, perms in data.items() if not role.startswith("_")}


def load_roles() -> dict[str, frozenset[str]]:
    """Predefined role -> permissions, from ``roles.json`` (see ``refresh_roles``)."""
    return dict(_roles_cached())


def covers(granted_on: str, resource: str) -> bool:
    """True when a grant on ``granted_on`` applies to ``resource`` (itself or under it)."""
    return resource == granted_on or resource.startswith(granted_on + "/")


# ---- canonical names ------------------------------------------------------------------


def project(p: str) -> str:
    return f"projects/{p}"


def bucket(p: str, name: str) -> str:
    return f"projects/{p}/buckets/{name}"


def gcs_object(p: str, bucket_name: str, name: str) -> str:
    return f"projects/{p}/buckets/{bucket_name}/objects/{name}"


def split_gcs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/name`` -> (bucket, name); BigQuery jobs and EXPORT DATA name objects
    so, and any other scheme has no rule."""
    if not uri.startswith("gs://"):
        raise NoRule(f"iam gate: no rule for a job reading or writing {uri!r} (only gs://)")
    b, _, name = uri[len("gs://") :].partition("/")
    return b, name


def dataset(p: str, d: str) -> str:
    return f"projects/{p}/datasets/{d}"


def table(p: str, d: str, t: str) -> str:
    return f"projects/{p}/datasets/{d}/tables/{t}"


def topic(p: str, t: str) -> str:
    return f"projects/{p}/topics/{t}"


def subscription(p: str, s: str) -> str:
    return f"projects/{p}/subscriptions/{s}"


class Policy:
    """Who holds which permission where; ``allows`` answers one check."""

    def __init__(self, grants: Iterable[_GrantLike], roles: Mapping[str, frozenset[str]]):
        self.grants: tuple[Grant, ...] = tuple(
            sorted(
                {Grant(str(g.member), str(g.role), str(g.resource)) for g in grants},
                key=lambda g: (g.resource, g.role, g.member),
            )
        )
        unknown = sorted({g.role for g in self.grants if g.role not in roles})
        if unknown:
            who = "; ".join(
                f"{g.role} for {g.member} on {g.resource}" for g in self.grants if g.role in unknown
            )
            raise PolicyError(
                f"IAM roles without permission data: {', '.join(unknown)} ({who}). Add them "
                "to stkpi/localstack/iam/roles.json (python -m "
                "stkpi_tools.localstack.iam.refresh_roles --git-dir <iam-dataset> ROLE), or the "
                "local stack would silently grant nothing for them."
            )
        self.roles: dict[str, frozenset[str]] = {
            g.role: frozenset(roles[g.role]) for g in self.grants
        }
        self._by_member: dict[str, list[tuple[str, frozenset[str]]]] = {}
        for g in self.grants:
            self._by_member.setdefault(g.member, []).append((g.resource, self.roles[g.role]))

    def allows(self, member: str, permission: str, resource: str) -> bool:
        for who in (member, *EVERYONE):
            for granted_on, perms in self._by_member.get(who, ()):
                if permission in perms and covers(granted_on, resource):
                    return True
        return False

    def missing(self, member: str, checks: Iterable[Check]) -> list[Check]:
        """The checks ``member`` fails, in order, without repeats (empty: allowed)."""
        out: list[Check] = []
        seen: set[Check] = set()
        for check in checks:
            if check in seen:
                continue
            seen.add(check)
            if not self.allows(member, *check):
                out.append(check)
        return out

    def members(self) -> set[str]:
        return set(self._by_member)

    def projects(self) -> set[str]:
        """Projects named by any grant's resource."""
        return {g.resource.split("/")[1] for g in self.grants if g.resource.startswith("projects/")}

    def bucket_project(self, name: str) -> str | None:
        """The project of bucket ``name`` as the grants name it (None if none does)."""
        for g in self.grants:
            parts = g.resource.split("/")
            if len(parts) >= 4 and parts[0] == "projects" and parts[2:4] == ["buckets", name]:
                return parts[1]
        return None

    # -- serialisation (the gate's config file) -------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "grants": [
                {"member": g.member, "role": g.role, "resource": g.resource} for g in self.grants
            ],
            "roles": {role: sorted(perms) for role, perms in sorted(self.roles.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> Policy:
        if isinstance(data, str):
            data = json.loads(data)
        assert not isinstance(data, str)
        roles = {role: frozenset(perms) for role, perms in data["roles"].items()}
        return cls((Grant(**g) for g in data["grants"]), roles)

    def __repr__(self) -> str:
        return f"Policy({len(self.grants)} grants, {len(self.roles)} roles)"
