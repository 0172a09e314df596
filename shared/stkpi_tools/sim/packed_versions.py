"""(key, modifiedOn) pairs packed in one string, as ``sql/ops/raw_versions.sql`` packs raw.

Entries are ``"key micros"`` (microseconds since the epoch, ``-`` for no modifiedOn)
joined by commas. The chaos comparison reads ~150,000 pairs from each side after every
scenario; one string per entity instead of a JSON line per record took that from ~10 s
to under two. Both sides use this one format so the comparison sees integers, never two
spellings of the same instant.
"""

from __future__ import annotations

from collections.abc import Iterable

NONE = "-"


def pack(pairs: Iterable[tuple[str, int | None]]) -> str:
    """The packed string of ``pairs``; a key holding a comma or a space is refused (it
    could not be told apart from the next entry)."""
    entries = []
    for key, micros in pairs:
        if "," in key or " " in key:
            raise ValueError(f"key {key!r} cannot be packed: it holds a comma or a space")
        entries.append(f"{key} {NONE if micros is None else int(micros)}")
    return ",".join(entries)


def unpack(packed: str) -> list[tuple[str, int | None]]:
    """The (key, micros) pairs of a packed string, in order; "" holds none."""
    pairs: list[tuple[str, int | None]] = []
    for entry in packed.split(",") if packed else ():
        key, micros = entry.rsplit(" ", 1)
        pairs.append((key, None if micros == NONE else int(micros)))
    return pairs
