"""Pay-to-join (支付即会员), pure: what a store's WeChat Pay payment notification says, which store
it belongs to, and how a pay-to-join holding's points join the member who proves the phone
(docs/wechat-pay.md "Pay-to-join").

A store pays through WeChat Pay as a sub-merchant of the brand (service-provider mode): the
decrypted resource names the brand (`sp_mchid`), the store's merchant id (`sub_mchid`), the brand's
app (`sp_appid`) and the payer's openid in it (`payer.sp_openid`). The store is found only through
the operator's mapping `wechat_pay_stores` (sub_mchid -> store id) in the program rules: nothing
the payer controls names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .points import PointsState, earn
from .wechat_pay import is_id

PAID_EVENT = "TRANSACTION.SUCCESS"
PAID_STATE = "SUCCESS"
MAX_AMOUNT = 10**12  # what a purchase report accepts; WeChat Pay's own limit is far below


class MalformedPayment(ValueError):
    """A verified notification that is not a store payment WeChat Pay would send."""


@dataclass(frozen=True)
class StorePayment:
    transaction_id: str
    sub_mchid: str
    appid: str  # the brand's app the openid belongs to (sp_appid)
    openid: str
    amount: int  # fen: what the order came to (amount.total)
    currency: str
    paid_at: datetime | None


def is_store_payment(resource: Mapping[str, Any]) -> bool:
    """A sub-merchant's payment (a store's), as opposed to the brand's own top-up orders."""
    return "sub_mchid" in resource


def _text(value: Any, name: str, limit: int = 64) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= limit or not value.isascii():
        raise MalformedPayment(f"{name} is missing or not WeChat Pay's")
    return value


def _part(resource: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = resource.get(name)
    return value if isinstance(value, dict) else {}


def store_payment(event_type: str | None, resource: Mapping[str, Any]) -> StorePayment | None:
    """The payment a store's notification reports; None when it reports no completed payment (a
    refund, a closed or unpaid transaction: nothing to earn). MalformedPayment if a paid one lacks
    what WeChat Pay always sends."""
    if event_type != PAID_EVENT or resource.get("trade_state") != PAID_STATE:
        return None
    transaction_id = resource.get("transaction_id")
    if not is_id(transaction_id, 64):
        raise MalformedPayment("transaction_id is missing or not WeChat Pay's")
    payer = _part(resource, "payer")
    amount = _part(resource, "amount")
    total = amount.get("total")
    if type(total) is not int or not 0 <= total <= MAX_AMOUNT:
        raise MalformedPayment("amount.total is not a whole number of fen")
    paid_at = None
    if isinstance(resource.get("success_time"), str):
        try:
            paid_at = datetime.fromisoformat(resource["success_time"])
        except ValueError:
            raise MalformedPayment("success_time is not a timestamp") from None
        if paid_at.tzinfo is None:
            paid_at = None
    return StorePayment(
        transaction_id=transaction_id,
        sub_mchid=_text(resource.get("sub_mchid"), "sub_mchid", 32),
        appid=_text(resource.get("sp_appid"), "sp_appid", 32),
        openid=_text(payer.get("sp_openid"), "payer.sp_openid", 128),
        amount=total,
        currency=str(amount.get("currency") or "CNY"),
        paid_at=paid_at,
    )


def store_for(mapping: Mapping[str, str], sub_mchid: str) -> str | None:
    """The store the operator mapped this WeChat Pay sub-merchant to (None: not mapped)."""
    return mapping.get(sub_mchid)


@dataclass(frozen=True)
class Joined:
    """A holding's points after they join the member: the holding emptied, the member's state,
    and what moved per lot month (each month keeps its expiry)."""

    holding: PointsState
    member: PointsState
    months: tuple[tuple[str, int], ...]

    @property
    def points(self) -> int:
        return sum(points for _, points in self.months)


def join_points(holding: PointsState, member: PointsState) -> Joined:
    """Move every point the holding has to the member, month by month (qualifying: they were
    earned by purchases, and count for the member's tier in the months they were earned). The
    holding keeps its lifetime figures (its ledger shows the move) and is left with nothing."""
    months = tuple(holding.lots_oldest_first())
    after = member
    for month, points in months:
        after = earn(after, points, month, qualifying=True)
    return Joined(replace(holding, balance=holding.balance - sum(p for _, p in months), lots={}), after, months)
