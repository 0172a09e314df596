"""The compact per-entity arrays a tenant is made of.

A record is never stored as a dict: its id, birth time, the modification times of its
versions and the few numbers other records refer to live in numpy arrays; the full record
is rendered on demand (``records``). That keeps a production-size tenant in tens of MB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stkpi.registry import Entity


@dataclass
class Table:
    """One entity's records, sorted by id.

    ``birth`` is when the record appears (its ``createdOn``, or the immutable date the
    registry partitions on plus processing delay). ``versions[i]`` holds the modification
    time of each version of record i, ascending, padded with ``clock.NEVER``; column 0 is
    the birth. ``active`` is None for entities without an ``active`` flag.
    """

    entity: Entity
    ids: np.ndarray
    birth: np.ndarray
    versions: np.ndarray
    active: np.ndarray | None = None
    cols: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    def nbytes(self) -> int:
        arrays = [self.ids, self.birth, self.versions, *self.cols.values()]
        if self.active is not None:
            arrays.append(self.active)
        return int(sum(a.nbytes for a in arrays))
