"""Terraform values as Python values, and the operations every other part of the evaluator
shares: conversion (``to_string``, numbers, bools), equality, sets in Terraform's order,
attribute and index access, iteration. Kept apart so functions, nodes and views agree
on one definition of each.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stkpi_tools.terraform.hcl.errors import HclError


class HclSet(tuple):
    """A Terraform set: unique elements in Terraform's iteration order (sorted)."""

    __slots__ = ()

    @classmethod
    def of(cls, items: Iterable[Any]) -> HclSet:
        items = list(items)
        if any(isinstance(x, str) for x in items) and all(
            isinstance(x, str | int | float | bool) for x in items
        ):
            items = [to_string(x) for x in items]  # toset(["a", 1]) is a set of string
        unique: list[Any] = []
        for x in items:
            if not any(equal(x, y) for y in unique):
                unique.append(x)
        return cls(sorted(unique, key=_sort_key))


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (0, v)
    if isinstance(v, int | float):
        return (1, v)
    if isinstance(v, str):
        return (2, v)
    return (3, json.dumps(plain(v), sort_keys=True, default=str))


def plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [plain(x) for x in v]
    return v


def norm_num(x: int | float) -> int | float:
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            raise HclError("arithmetic result is not a finite number")
        if x.is_integer() and abs(x) < 2**53:
            return int(x)
    return x


# Terraform's name for each Python type of value, most specific first (bool is an int,
# HclSet a tuple).
_TYPE_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "bool"),
    ((int, float), "number"),
    (str, "string"),
    (HclSet, "set"),
    ((list, tuple), "tuple"),
    (dict, "object"),
)


def type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, Lazy):
        return v.describe()
    for types, name in _TYPE_NAMES:
        if isinstance(v, types):
            return name
    return type(v).__name__


def to_string(v: Any) -> str:
    """Terraform's automatic conversion to string (templates, tostring, environment maps)."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        v = norm_num(v)
        return str(v) if isinstance(v, int) else repr(v)
    if v is None:
        raise HclError("a null value cannot be used as a string")
    raise HclError(f"a {type_name(v)} value cannot be used as a string")


def as_number(v: Any, what: str = "operand") -> int | float:
    if isinstance(v, bool) or v is None:
        raise HclError(f"{what} must be a number, got {type_name(v)}")
    if isinstance(v, int | float):
        return v
    if isinstance(v, str):
        try:
            return norm_num(float(v)) if re.search(r"[.eE]", v) else int(v)
        except ValueError:
            raise HclError(f"{what} must be a number, got string {v!r}") from None
    raise HclError(f"{what} must be a number, got {type_name(v)}")


def as_bool(v: Any, what: str = "operand") -> bool:
    if isinstance(v, bool):
        return v
    if v == "true":
        return True
    if v == "false":
        return False
    raise HclError(f"{what} must be a bool, got {type_name(v)}")


def equal(a: Any, b: Any) -> bool:
    a, b = materialize(a), materialize(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, HclSet) != isinstance(b, HclSet):
        return False
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return False


def from_python(v: Any) -> Any:
    """A value handed in from Python (variable overrides, ``each``) in this module's form."""
    if isinstance(v, Mapping):
        return {str(k): from_python(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, set | frozenset):
        return HclSet.of(from_python(x) for x in v)
    if isinstance(v, HclSet):
        return v
    if isinstance(v, list | tuple):
        return [from_python(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, float):
        return norm_num(v)
    return v


def sorted_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    return dict(sorted(d.items()))


class Lazy:
    """A value whose parts are computed on access (namespaces, resources, blocks)."""

    def describe(self) -> str:
        return type(self).__name__

    def hcl_attr(self, name: str) -> Any:
        raise HclError(f"{self.describe()} has no attribute {name!r}")

    def hcl_index(self, key: Any) -> Any:
        raise HclError(f"{self.describe()} cannot be indexed")

    def hcl_value(self) -> Any:
        raise HclError(f"{self.describe()} cannot be used as a whole value")


def materialize(v: Any) -> Any:
    return v.hcl_value() if isinstance(v, Lazy) else v


def get_attr(v: Any, name: str) -> Any:
    if isinstance(v, Lazy):
        return v.hcl_attr(name)
    if isinstance(v, dict):
        if name in v:
            return v[name]
        keys = ", ".join(sorted(v)) or "none"
        raise HclError(f"object has no attribute {name!r} (it has: {keys})")
    if v is None:
        raise HclError(f"cannot read attribute {name!r} of null")
    raise HclError(f"cannot read attribute {name!r} of a {type_name(v)}")


def get_index(v: Any, key: Any) -> Any:
    if isinstance(v, Lazy):
        return v.hcl_index(key)
    if isinstance(v, HclSet):
        raise HclError("a set cannot be indexed; convert it with tolist()")
    if isinstance(v, list | tuple):
        i = as_number(key, "index")
        if not isinstance(i, int):
            raise HclError(f"index must be a whole number, got {i}")
        if not 0 <= i < len(v):
            raise HclError(f"index {i} out of range for a tuple of {len(v)} elements")
        return v[i]
    if isinstance(v, dict):
        k = to_string(key)
        if k not in v:
            keys = ", ".join(repr(x) for x in sorted(v)) or "none"
            raise HclError(f"key {k!r} not found (keys: {keys})")
        return v[k]
    if v is None:
        raise HclError("cannot index null")
    raise HclError(f"cannot index a {type_name(v)}")


def iter_pairs(coll: Any, what: str) -> list[tuple[Any, Any]]:
    coll = materialize(coll)
    if isinstance(coll, dict):
        return list(coll.items())
    if isinstance(coll, HclSet):
        return [(x, x) for x in coll]
    if isinstance(coll, list | tuple):
        return list(enumerate(coll))
    if coll is None:
        raise HclError(f"{what}: cannot iterate over null")
    raise HclError(f"{what}: cannot iterate over a {type_name(coll)}")
