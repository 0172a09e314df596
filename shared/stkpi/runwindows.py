"""A run's windows as they stand: the stored plan plus every split recorded so far.

The plan (``control/runs/R/plan.json``) is written once; splits are recorded as windows
meet their counts (``stkpi.splits``). Lanes, the per-entity MERGE and the rebuild claim
all ask the same question, "which windows does this run have now", and answer it here
from two listings of the landing bucket. Split records never change once written, so
their contents are cached per process.
"""

from __future__ import annotations

from dataclasses import dataclass

from stkpi.errors import PermanentError
from stkpi.landing import Landing
from stkpi.messages import WindowMessage
from stkpi.planner import RunPlan
from stkpi.splits import expand, leaves, marker

_CACHE_LIMIT = 20_000
_split_cache: dict[tuple[str, str], tuple[WindowMessage, ...]] = {}


def stored_plan(run_id: str, landing: Landing) -> RunPlan:
    """The run's plan as plan_windows stored it; a run without one can never finish."""
    doc = landing.read_json(Landing.plan_name(run_id))
    if doc is None:
        raise PermanentError(f"run {run_id} has no plan in the landing bucket")
    return RunPlan.from_manifest(doc)


@dataclass(frozen=True)
class RunWindows:
    plan: RunPlan
    splits: dict[str, tuple[WindowMessage, ...]]

    @classmethod
    def read(cls, plan: RunPlan, landing: Landing) -> RunWindows:
        folder = Landing.control_dir(plan.run_id, "split")
        splits: dict[str, tuple[WindowMessage, ...]] = {}
        for name in landing.listing(folder):
            key = (landing.bucket_name, f"{folder}{name}.json")
            children = _split_cache.get(key)
            if children is None:
                doc = landing.read_json(key[1]) or {"children": []}
                children = tuple(WindowMessage.model_validate(c) for c in doc["children"])
                if len(_split_cache) >= _CACHE_LIMIT:
                    _split_cache.clear()
                _split_cache[key] = children
            splits[name] = children
        return cls(plan, splits)

    @property
    def run_id(self) -> str:
        return self.plan.run_id

    def windows(self) -> list[WindowMessage]:
        """Every window of the run in lane order (children in place of their parent)."""
        return expand(self.plan.windows, self.splits)

    def leaves(self, entity: str | None = None) -> list[WindowMessage]:
        """The windows that load pages (did not split), of one entity or all."""
        out = leaves(self.plan.windows, self.splits)
        return out if entity is None else [w for w in out if w.entity == entity]

    def is_split(self, window: WindowMessage) -> bool:
        return marker(window) in self.splits

    def find(self, window_marker: str) -> WindowMessage | None:
        return next((w for w in self.windows() if marker(w) == window_marker), None)
