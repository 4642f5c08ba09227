"""Purchases and their refunds as the store keeps them: one `ORDER#<order_id>` partition each,
the order (its idempotency record: the purchase's points are awarded in the unit of work that
puts it) and one record per refund id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from . import keys
from .models import Order, Refund


def order_key(order_id: str) -> tuple[str, str]:
    return keys.order_pk(order_id), keys.ORDER_SK


def refund_key(order_id: str, refund_id: str) -> tuple[str, str]:
    return keys.order_pk(order_id), keys.refund_sk(refund_id)


def get_order(order_id: str) -> Order | None:
    try:
        return Order.get(*order_key(order_id), consistent_read=True)
    except DoesNotExist:
        return None


def get_refund(order_id: str, refund_id: str) -> Refund | None:
    try:
        return Refund.get(*refund_key(order_id, refund_id), consistent_read=True)
    except DoesNotExist:
        return None


def order_store(order: Order) -> str:
    """The store an order belongs to (orders recorded before `store_id` was always set: the reporting key's)."""
    return order.store_id or order.merchant_store


def new_order(order_id: str, *, member_id: str, response: dict[str, Any], now: datetime, **fields: Any) -> Order:
    """The order record: fingerprint, write_token, enrolled, store_id, merchant_store, amount,
    currency, points_earned, earn_month."""
    return Order(*order_key(order_id), order_id=order_id, member_id=member_id, response=response, created_at=now, **fields)


def new_refund(order_id: str, refund_id: str, fingerprint: str, write_token: str, response: dict[str, Any], now: datetime) -> Refund:
    return Refund(
        *refund_key(order_id, refund_id), refund_id=refund_id, fingerprint=fingerprint, write_token=write_token, response=response, created_at=now
    )


def refund_totals(
    refunded_amount: int, points_reversed: int, lines: dict[str, list[int]] | None = None, stamps: dict[str, dict[str, Any]] | None = None
) -> list[Action]:
    """The order's running totals of what its refunds gave back (and its lines' refunded
    quantities, for a refund of items; the stamps removed, when it added some). The order's
    version makes concurrent refunds take turns."""
    actions: list[Action] = [Order.refunded_amount.set(refunded_amount), Order.points_reversed.set(points_reversed)]
    actions += [Order.lines.set(lines)] if lines is not None else []
    return actions + ([Order.stamps.set(stamps)] if stamps is not None else [])
