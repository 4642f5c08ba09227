"""DynamoDB item sizes and capacity units, computed the way AWS bills them.

moto's `ReturnConsumedCapacity` figures are wrong (../shared/TOOL-NOTES.md),
so capacity is computed from item sizes:

- item size: UTF-8 bytes of every attribute name plus its value; strings are
  their UTF-8 bytes, numbers ~1 byte per 2 significant digits + 1, booleans
  and nulls 1 byte, maps and lists 3 bytes + 1 byte per element + contents;
- reads: 1 RRU per started 4 KB read strongly, 0.5 eventually (GSI queries
  are always eventual); a Query sums the sizes of the items it returns before
  rounding, a GetItem/BatchGetItem rounds each item (a missing item still
  costs the minimum); transactional reads x2;
- writes: 1 WRU per started 1 KB of the larger of the item before and after
  the write (a delete: the item deleted); transactional writes x2;
- GSI writes (standard rate): an item entering or leaving an index costs one
  index write of its index-entry size (item + 100 bytes for an ALL projection),
  a changed index key two (delete + put), any other change to a projected
  attribute one.

On-demand request units equal these capacity units.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

KB = 1024
READ_UNIT = 4 * KB
INDEX_ENTRY_OVERHEAD = 100

# On-demand, us-east-1 (after the November 2024 price cut), US dollars.
USD_PER_MILLION_WRU = 0.625
USD_PER_MILLION_RRU = 0.125


def number_size(text: str) -> int:
    """~1 byte per two significant digits, plus 1 (plus 1 if negative)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return len(text)
    sign, digits, _ = value.normalize().as_tuple()
    significant = "".join(map(str, digits)).strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1 + (1 if sign else 0)


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(value))
    except (ValueError, TypeError):
        return len(str(value).encode())


def value_size(value: Mapping[str, Any]) -> int:
    """Size of one attribute value in DynamoDB JSON (`{"S": "..."}`)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode("utf-8"))
    if kind == "N":
        return number_size(str(raw))
    if kind == "B":
        return _binary_size(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(v).encode("utf-8")) for v in raw)
    if kind == "NS":
        return sum(number_size(str(v)) for v in raw)
    if kind == "BS":
        return sum(_binary_size(v) for v in raw)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    """One read of `size` bytes (a Query passes the sum of its items)."""
    units = max(1, math.ceil(size / READ_UNIT))
    factor = 2.0 if transactional else (1.0 if consistent else 0.5)
    return units * factor


def write_units(size: int, *, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / KB))
    return units * (2.0 if transactional else 1.0)


def index_write_units(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    index_keys: list[str],
    table_keys: list[str],
    projection: str,
) -> tuple[float, str]:
    """Index writes caused by an item going from `before` to `after` (None: absent).

    Returns (units, what happened) where what happened is "", "put", "delete",
    "update" or "key change".
    """

    def in_index(item: Mapping[str, Any] | None) -> bool:
        return bool(item) and all(k in item for k in index_keys)  # type: ignore[operator]

    def entry_size(item: Mapping[str, Any]) -> int:
        if projection == "ALL":
            return item_size(item) + INDEX_ENTRY_OVERHEAD
        keys = {k: item[k] for k in [*table_keys, *index_keys] if k in item}
        return item_size(keys) + INDEX_ENTRY_OVERHEAD

    was, now = in_index(before), in_index(after)
    if not was and not now:
        return 0.0, ""
    if now and not was:
        return write_units(entry_size(after)), "put"  # type: ignore[arg-type]
    if was and not now:
        return write_units(entry_size(before)), "delete"  # type: ignore[arg-type]
    assert before is not None and after is not None
    if any(before[k] != after[k] for k in index_keys):
        return write_units(entry_size(before)) + write_units(entry_size(after)), "key change"
    projected_changed = before != after if projection == "ALL" else False
    if projected_changed:
        return write_units(max(entry_size(before), entry_size(after))), "update"
    return 0.0, ""


def usd_per_million(rru: float, wru: float) -> float:
    """On-demand cost of one million requests that each use `rru` and `wru`."""
    return rru * USD_PER_MILLION_RRU + wru * USD_PER_MILLION_WRU
