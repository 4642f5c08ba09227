"""Operators' refunds of WeChat Pay top-ups (usecases/wechat_pay_refunds.py; keys.py: WXPAY#).

A refund is held in one unit of work: the refund record under `WXPAY#<no>`/`REFUND#<out_refund_no>`
(put only if absent: the request's idempotency record), the order moved `paid` -> `refunding`
(under the version read: one refund of an order at a time, however many requests race), the
wallet debited by the top-up and its bonus (never below zero) and its entries. Its settlement
(WeChat Pay's refund notification, or its refusal) moves the record once from requested or
processing, in the same unit of work as the order and, on a failure, the money given back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action

from . import keys
from .models import Member, Recording
from .models_wallet import Wallet
from .models_wechat_pay import WeChatPayOrder, WeChatPayRefund
from .reads import item_of, member_key, read_together, wallet_key
from .unit_of_work import UnitOfWork
from .wechat_pay import open_fields, order_key

OPEN_STATUSES = ("requested", "processing")


def refund_key(out_trade_no: str, out_refund_no: str) -> tuple[str, str]:
    return keys.wxpay_pk(out_trade_no), keys.wxpay_refund_sk(out_refund_no)


@dataclass(frozen=True)
class RefundRead:
    """What a refund decides on, read strongly: the order, this refund's record, the member and
    their wallet (the last two only when the order exists)."""

    order: WeChatPayOrder | None
    refund: WeChatPayRefund | None
    member: Member | None
    wallet: Wallet | None


def read_for_refund(out_trade_no: str, out_refund_no: str) -> RefundRead:
    found = read_together([order_key(out_trade_no), refund_key(out_trade_no, out_refund_no)])
    order = item_of(WeChatPayOrder, found.get(order_key(out_trade_no)))
    refund = item_of(WeChatPayRefund, found.get(refund_key(out_trade_no, out_refund_no)))
    if order is None:
        return RefundRead(None, refund, None, None)
    owner = read_together([member_key(order.member_id), wallet_key(order.member_id)])
    return RefundRead(order, refund, item_of(Member, owner.get(member_key(order.member_id))), item_of(Wallet, owner.get(wallet_key(order.member_id))))


def get_refund(out_trade_no: str, out_refund_no: str) -> WeChatPayRefund | None:
    key = refund_key(out_trade_no, out_refund_no)
    return item_of(WeChatPayRefund, read_together([key]).get(key))


def new_refund(order: WeChatPayOrder, out_refund_no: str, *, recording: Recording, **fields: Any) -> WeChatPayRefund:
    return WeChatPayRefund.new(
        refund_key(order.out_trade_no, out_refund_no),
        out_trade_no=order.out_trade_no,
        out_refund_no=out_refund_no,
        member_id=order.member_id,
        status="requested",
        **open_fields(order.out_trade_no, recording["now"]),
        **recording,
        **fields,
    )


def hold_order(uow: UnitOfWork, order: WeChatPayOrder, out_refund_no: str) -> None:
    """The order `paid` -> `refunding` (part "order"), under the version read."""
    uow.update(
        "order",
        order,
        [WeChatPayOrder.status.set("refunding"), WeChatPayOrder.refund_no.set(out_refund_no)],
        WeChatPayOrder.status == "paid",
    )


def settle_order(uow: UnitOfWork, order: WeChatPayOrder, out_refund_no: str, succeeded: bool) -> None:
    """The order of a settled refund: `refunded`, or `paid` again (the refund failed)."""
    uow.update(
        "order",
        order,
        [WeChatPayOrder.status.set("refunded" if succeeded else "paid")],
        (WeChatPayOrder.status == "refunding") & (WeChatPayOrder.refund_no == out_refund_no),
    )


def settle_refund(uow: UnitOfWork, refund: WeChatPayRefund, status: str, now: datetime, *, refund_id: str | None, failure: str | None) -> None:
    """The refund record from open to `status` (succeeded | failed), once (part "refund"), out of the
    open index."""
    actions: list[Action] = [
        WeChatPayRefund.status.set(status),
        WeChatPayRefund.settled_at.set(now),
        WeChatPayRefund.open_bucket.remove(),
        WeChatPayRefund.open_since.remove(),
    ]
    if refund_id:
        actions.append(WeChatPayRefund.refund_id.set(refund_id))
    if failure:
        actions.append(WeChatPayRefund.failure.set(failure))
    uow.update("refund", refund, actions, WeChatPayRefund.status.is_in(*OPEN_STATUSES))


def mark_processing(refund: WeChatPayRefund, refund_id: str | None) -> None:
    """WeChat Pay accepted the refund: requested -> processing (a notification may have settled it
    already: then nothing changes)."""
    from pynamodb.exceptions import UpdateError

    actions: list[Action] = [WeChatPayRefund.status.set("processing")]
    if refund_id:
        actions.append(WeChatPayRefund.refund_id.set(refund_id))
    try:
        refund.update(actions, WeChatPayRefund.status == "requested")
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
