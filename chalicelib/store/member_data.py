"""Everything the table holds about one member, read for their data export: their partition
(profile, points, lots, ledger, coupons, redemptions, pending changes, feedback, ...) and the
orders their ledger names, as plain values without the table's keys or secrets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import MapAttribute

from . import keys
from .members import as_dict
from .models import BaseItem, Order
from .models_engagement import ActionEvent, ActionRef
from .orders import order_key

# Keys, index keys, versions and secrets: the table's, never part of what a member is told.
INTERNAL = frozenset(
    {
        "pk",
        "sk",
        "entity",
        "ttl",
        "version",
        "phone_key",
        "birthday_bucket",
        "anniversary_bucket",
        "activity_bucket",
        "erase_bucket",
        "expiry_bucket",
        "expiry_member",
        "fingerprint",
        "write_token",
        "salt",
        "digest",
        "nonce",
        "token_epoch",
    }
)


def member_items(member_id: str) -> list[BaseItem]:
    """Every item of the member's partition: one strongly consistent query."""
    return list(BaseItem.query(keys.member_pk(member_id), consistent_read=True))


def orders(order_ids: Iterable[str]) -> list[Order]:
    """The orders named (those that exist): one batch read."""
    wanted = [order_key(order_id) for order_id in order_ids]
    return list(Order.batch_get(wanted)) if wanted else []


def actions(refs: Iterable[ActionRef]) -> list[ActionEvent]:
    """The reported actions the member's ActionRef items point to: one batch read."""
    wanted = [(keys.action_pk(ref.store_id, ref.event_id), keys.ACTION_SK) for ref in refs]
    return list(ActionEvent.batch_get(wanted)) if wanted else []


def plan_purchases(membership_ids: Iterable[str]) -> list[BaseItem]:
    """The plan purchases the member's ledger names (`plan_*` entries' refs) and their refunds:
    one batch read (a purchase and its refund share a partition)."""
    wanted: list[tuple[str, str]] = []
    for membership_id in membership_ids:
        wanted += [(keys.membership_pk(membership_id), keys.MEMBERSHIP_SK), (keys.membership_pk(membership_id), keys.MEMBERSHIP_REFUND_SK)]
    return list(BaseItem.batch_get(wanted)) if wanted else []


def kind_of(item: BaseItem) -> str:
    """The item's type name (Member, LedgerEntry, Coupon, ...)."""
    return type(item).__name__


def _plain(value: Any) -> Any:
    if isinstance(value, MapAttribute):
        return _plain(as_dict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def stored_fields(item: BaseItem, hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The item's attributes by name, in name order: none of the table's (INTERNAL) or `hidden`,
    none without a value, maps as plain dicts."""
    excluded = INTERNAL | hidden
    return {name: _plain(value) for name, value in sorted(item.attribute_values.items()) if name not in excluded and value is not None}
