"""Reading several items of the table in one round trip, by their keys.

Use cases that must decide on a few items at once (the member and an idempotency record, a
reward, a wallet...) read them together: one strongly consistent BatchGetItem.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import keys
from .models import BaseItem

Key = tuple[str, str]


def read_together(wanted: Sequence[Key]) -> dict[Key, Any]:
    """The items that exist among `wanted`, by (pk, sk): one strongly consistent BatchGetItem
    (a key asked twice is read once)."""
    unique = list(dict.fromkeys(wanted))
    return {(i.pk, i.sk): i for i in BaseItem.batch_get(unique, consistent_read=True)}


def item_of[T](kind: type[T], item: object) -> T | None:
    """`item` if it is a `kind` (an absent item, or one of another type, is None)."""
    return item if isinstance(item, kind) else None


def member_key(member_id: str) -> Key:
    return keys.member_pk(member_id), keys.PROFILE


def wallet_key(member_id: str) -> Key:
    return keys.member_pk(member_id), keys.WALLET_SK
