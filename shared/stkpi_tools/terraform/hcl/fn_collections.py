"""Terraform's built-in functions over numbers, type conversions and collections (maps,
lists, sets), each taking the evaluation scope first like every built-in here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stkpi_tools.terraform.hcl.errors import HclError
from stkpi_tools.terraform.hcl.values import (
    HclSet,
    as_bool,
    as_number,
    equal,
    norm_num,
    sorted_dict,
    to_string,
    type_name,
)

if TYPE_CHECKING:
    from stkpi_tools.terraform.hcl.nodes import Ctx


def check_map(v: Any, fn: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise HclError(f"{fn}() needs a map or object, got {type_name(v)}")
    return v


def check_list(v: Any, fn: str) -> list[Any]:
    if not isinstance(v, list | tuple):
        raise HclError(f"{fn}() needs a list, tuple or set, got {type_name(v)}")
    return list(v)


def _f_merge(_: Ctx, *maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in maps:
        if m is None:
            continue
        out.update(check_map(m, "merge"))
    return sorted_dict(out)


def _f_lookup(_: Ctx, m: Any, key: Any, *default: Any) -> Any:
    m = check_map(m, "lookup")
    k = to_string(key)
    if k in m:
        return m[k]
    if default:
        return default[0]
    raise HclError(f"lookup(): key {k!r} not found and no default given")


def _f_length(_: Ctx, v: Any) -> int:
    if isinstance(v, str | list | tuple | dict):
        return len(v)
    raise HclError(f"length() needs a string, collection or object, got {type_name(v)}")


def _f_tostring(_: Ctx, v: Any) -> str | None:
    return None if v is None else to_string(v)


def _f_tonumber(_: Ctx, v: Any) -> int | float | None:
    return None if v is None else as_number(v, "tonumber() argument")


def _f_tobool(_: Ctx, v: Any) -> bool | None:
    return None if v is None else as_bool(v, "tobool() argument")


def _f_toset(_: Ctx, v: Any) -> HclSet:
    return HclSet.of(check_list(v, "toset"))


def _f_tolist(_: Ctx, v: Any) -> list[Any]:
    return check_list(v, "tolist")


def _f_tomap(_: Ctx, v: Any) -> dict[str, Any]:
    return check_map(v, "tomap")


def _f_concat(_: Ctx, *lists: Any) -> list[Any]:
    out: list[Any] = []
    for x in lists:
        out.extend(check_list(x, "concat"))
    return out


def _f_contains(_: Ctx, coll: Any, value: Any) -> bool:
    return any(equal(x, value) for x in check_list(coll, "contains"))


def _f_coalesce(_: Ctx, *args: Any) -> Any:
    for a in args:
        if a is not None and a != "":
            return a
    raise HclError("coalesce(): every argument is null or an empty string")


def _f_flatten(_: Ctx, v: Any) -> list[Any]:
    out: list[Any] = []
    for x in check_list(v, "flatten"):
        if isinstance(x, list | tuple):
            out.extend(_f_flatten(_, x))
        else:
            out.append(x)
    return out


def _f_distinct(_: Ctx, v: Any) -> list[Any]:
    out: list[Any] = []
    for x in check_list(v, "distinct"):
        if not any(equal(x, y) for y in out):
            out.append(x)
    return out


def _f_setproduct(_: Ctx, *colls: Any) -> Any:
    if not colls:
        raise HclError("setproduct() needs at least one collection")
    lists = [check_list(c, "setproduct") for c in colls]
    combos: list[list[Any]] = [[]]
    for items in lists:
        combos = [[*c, x] for c in combos for x in items]
    if all(isinstance(c, HclSet) for c in colls):
        return HclSet.of(combos)
    return combos


def _f_range(_: Ctx, *args: Any) -> list[Any]:
    nums = [as_number(a, "range() argument") for a in args]
    if len(nums) == 1:
        start, stop, step = 0, nums[0], 1
    elif len(nums) == 2:
        start, stop, step = nums[0], nums[1], 1 if nums[1] >= nums[0] else -1
    elif len(nums) == 3:
        start, stop, step = nums
    else:
        raise HclError("range() takes 1 to 3 arguments")
    if step == 0:
        raise HclError("range(): step cannot be 0")
    out = []
    x = start
    while (x < stop) if step > 0 else (x > stop):
        out.append(norm_num(x))
        x += step
    return out


def _f_element(_: Ctx, v: Any, i: Any) -> Any:
    items = check_list(v, "element")
    if not items:
        raise HclError("element(): the list is empty")
    return items[int(as_number(i)) % len(items)]


def _f_index(_: Ctx, v: Any, value: Any) -> int:
    for i, x in enumerate(check_list(v, "index")):
        if equal(x, value):
            return i
    raise HclError("index(): value not found")


def _f_one(_: Ctx, v: Any) -> Any:
    items = check_list(v, "one")
    if len(items) > 1:
        raise HclError(f"one(): the collection has {len(items)} elements")
    return items[0] if items else None


def _f_zipmap(_: Ctx, ks: Any, vs: Any) -> dict[str, Any]:
    keys, vals = check_list(ks, "zipmap"), check_list(vs, "zipmap")
    if len(keys) != len(vals):
        raise HclError("zipmap(): keys and values differ in length")
    return sorted_dict({to_string(k): v for k, v in zip(keys, vals, strict=True)})


def _f_alltrue(_: Ctx, v: Any) -> bool:
    return all(as_bool(x, "alltrue() element") for x in check_list(v, "alltrue"))


def _f_anytrue(_: Ctx, v: Any) -> bool:
    return any(as_bool(x, "anytrue() element") for x in check_list(v, "anytrue"))


def _f_sum(_: Ctx, v: Any) -> int | float:
    items = check_list(v, "sum")
    if not items:
        raise HclError("sum(): the list is empty")
    return norm_num(sum(as_number(x) for x in items))


def _f_minmax(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def f(_: Ctx, *args: Any) -> Any:
        if not args:
            raise HclError(f"{name}() needs at least one number")
        return norm_num(fn(as_number(a, f"{name}() argument") for a in args))

    return f


# name -> implementation: numbers, conversion, collections
COLLECTION_FUNCTIONS: dict[str, Callable[..., Any]] = {
    # numbers
    "max": _f_minmax(max, "max"),
    "min": _f_minmax(min, "min"),
    "floor": lambda _, x: math.floor(as_number(x)),
    "ceil": lambda _, x: math.ceil(as_number(x)),
    "abs": lambda _, x: norm_num(abs(as_number(x))),
    "pow": lambda _, x, y: norm_num(float(as_number(x)) ** as_number(y)),
    "signum": lambda _, x: (as_number(x) > 0) - (as_number(x) < 0),
    "log": lambda _, x, b: norm_num(math.log(as_number(x), as_number(b))),
    "parseint": lambda _, s, base: int(to_string(s), int(as_number(base))),
    "sum": _f_sum,
    # conversion
    "tostring": _f_tostring,
    "tonumber": _f_tonumber,
    "tobool": _f_tobool,
    "toset": _f_toset,
    "tolist": _f_tolist,
    "tomap": _f_tomap,
    "sensitive": lambda _, v: v,
    "nonsensitive": lambda _, v: v,
    # collections
    "merge": _f_merge,
    "keys": lambda _, m: list(check_map(m, "keys")),
    "values": lambda _, m: list(check_map(m, "values").values()),
    "lookup": _f_lookup,
    "concat": _f_concat,
    "contains": _f_contains,
    "length": _f_length,
    "flatten": _f_flatten,
    "distinct": _f_distinct,
    "setproduct": _f_setproduct,
    "coalesce": _f_coalesce,
    "coalescelist": lambda _, *ls: next((x for x in ls if check_list(x, "coalescelist")), []),
    "compact": lambda _, v: [x for x in check_list(v, "compact") if x is not None and x != ""],
    "element": _f_element,
    "index": _f_index,
    "one": _f_one,
    "range": _f_range,
    "reverse": lambda _, v: list(reversed(check_list(v, "reverse"))),
    "slice": lambda _, v, a, b: check_list(v, "slice")[int(as_number(a)) : int(as_number(b))],
    "sort": lambda _, v: sorted(to_string(x) for x in check_list(v, "sort")),
    "zipmap": _f_zipmap,
    "alltrue": _f_alltrue,
    "anytrue": _f_anytrue,
}
