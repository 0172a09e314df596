"""HTTP client for the ``/_sim`` admin endpoints of a simulator in another process.

Same methods as ``SimHandle`` so a chaos script works against either; ``of(tenant_id)``
steers another tenant of the same simulator (``/_sim/...?tenant=<id>``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import requests

from stkpi_tools.sim.packed_versions import unpack


class SimAdmin:
    """Steer a running simulator over HTTP (loopback only)."""

    def __init__(self, base_url: str, timeout: float = 60.0, tenant: str | None = None) -> None:
        """``tenant``: the tenant addressed (None: the simulator's primary tenant)."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.tenant_id = tenant
        self._params = {"tenant": tenant} if tenant else {}
        self._session = requests.Session()

    def of(self, tenant_id: str) -> SimAdmin:
        """The same simulator, addressing tenant ``tenant_id``."""
        return SimAdmin(self.base_url, self.timeout, tenant_id)

    def tenants(self) -> list[dict[str, Any]]:
        """Every tenant the simulator serves (id, name, seed, scale, time zone, its fake
        credentials), the primary first."""
        return self._get("tenants")["tenants"]

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self._session.post(
            f"{self.base_url}/_sim/{path}",
            json=body or {},
            params=self._params,
            timeout=self.timeout,
        )
        resp.raise_for_status()
        return resp.json()

    def _get(self, path: str) -> dict[str, Any]:
        resp = self._session.get(
            f"{self.base_url}/_sim/{path}", params=self._params, timeout=self.timeout
        )
        resp.raise_for_status()
        return resp.json()

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        return self._post("faults", changes)

    def faults(self) -> dict[str, Any]:
        return self._get("faults")

    def advance(self, hours: float) -> str:
        return self._post("clock", {"advance_hours": hours})["now"]

    def set_now(self, now: str | datetime) -> str:
        text = now if isinstance(now, str) else now.isoformat()
        return self._post("clock", {"now": text})["now"]

    @property
    def now(self) -> datetime:
        """The simulated clock."""
        return datetime.fromisoformat(self._get("clock")["now"].replace("Z", "+00:00"))

    def revoke_tokens(self) -> None:
        self._post("faults", {"revoke_tokens": True})

    def stats(self) -> dict[str, Any]:
        return self._get("stats")

    def reset(self) -> None:
        self._post("reset")

    def counts(self) -> dict[str, int]:
        return self._get("counts")

    def edit(self, entity_name: str, count: int) -> list[int]:
        return self._post("edit", {"entity": entity_name, "count": count})["ids"]

    def delete(
        self, entity_name: str, *, ids: list[int] | None = None, fraction: float | None = None
    ) -> list[int]:
        """Hard-delete records (``ids``, or a ``fraction`` of the entity); their ids."""
        body: dict[str, Any] = {"entity": entity_name}
        if ids is not None:
            body["ids"] = ids
        if fraction is not None:
            body["fraction"] = fraction
        return self._post("delete", body)["ids"]

    def restore(self, entity_name: str, ids: list[int]) -> list[int]:
        return self._post("restore", {"entity": entity_name, "ids": ids})["ids"]

    def deleted(self, entity_name: str) -> list[int]:
        return self._get(f"deleted/{entity_name}")["ids"]

    def snapshot(self, entity_name: str) -> list[dict[str, Any]]:
        url = f"{self.base_url}/_sim/snapshot/{entity_name}"
        with self._session.get(url, params=self._params, stream=True, timeout=self.timeout) as resp:
            resp.raise_for_status()
            return [json.loads(line) for line in resp.iter_lines() if line]

    def versions(self, entity_name: str) -> dict[str, int | None]:
        """Key -> modifiedOn (microseconds since the epoch) of every record the simulator
        serves (the ground truth)."""
        body = self._get(f"versions/{entity_name}")
        pairs = unpack(body["versions"])
        if len(pairs) != body["n"]:
            raise RuntimeError(
                f"simulator versions of {entity_name}: unpacked {len(pairs)} of {body['n']}"
            )
        return dict(pairs)

    def close(self) -> None:
        self._session.close()
