"""WeChat Pay top-up orders, their credited transactions and anomalies (keys.py: WXPAY#, WXTXN#).

A notification is credited in one unit of work: the WalletTopup record under WeChat's
transaction id (put only if absent: exactly once per transaction id, whatever WeChat Pay
replays), the order marked paid (conditioned on still being `created`: one credit per order),
the wallet's new balance and its entries (store/wallet.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from pynamodb.expressions.update import Action

from ..domain.errors import ValidationFailed
from ..settings import get_settings
from . import keys
from .models import Member, Recording
from .models_wallet import Wallet, WalletTopup
from .models_wechat_pay import WeChatPayAnomaly, WeChatPayAnomalyEntry, WeChatPayOrder, WeChatPayRefund
from .paging import Page, decode_cursor, encode_cursor, query_page
from .reads import Key, item_of, member_key, read_together, wallet_key
from .unit_of_work import UnitOfWork, connection

# The index of what WeChat Pay has not settled yet (keys.py: `wechat_pay_open`).
OPEN_INDEX = "wechat_pay_open"


def order_key(out_trade_no: str) -> tuple[str, str]:
    return keys.wxpay_pk(out_trade_no), keys.WXPAY_ORDER_SK


def transaction_key(transaction_id: str) -> tuple[str, str]:
    return keys.wxtxn_pk(transaction_id), keys.TOPUP_SK


# --- orders ---------------------------------------------------------------------------------------


class OpenFields(TypedDict):
    open_bucket: str
    open_since: str


def open_fields(out_trade_no: str, now: datetime) -> OpenFields:
    """What puts an order or a refund in the `wechat_pay_open` index (its shard by order number)."""
    return {"open_bucket": keys.wxpay_open_bucket(keys.shard_of(out_trade_no, get_settings().index_shards)), "open_since": now.isoformat()}


def open_keys(shard: int, before: datetime) -> list[Key]:
    """The orders and refunds in one shard of the `wechat_pay_open` index opened before `before`,
    oldest first (KEYS_ONLY: cheap to read)."""
    request: dict[str, Any] = {
        "TableName": get_settings().table_name,
        "IndexName": OPEN_INDEX,
        "KeyConditionExpression": "#bucket = :bucket AND #since < :before",
        "ExpressionAttributeNames": {"#bucket": "wxpay_open_bucket", "#since": "wxpay_open_since"},
        "ExpressionAttributeValues": {":bucket": {"S": keys.wxpay_open_bucket(shard)}, ":before": {"S": before.isoformat()}},
    }
    found: list[Key] = []
    start = None
    while True:
        page = connection().client.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        found += [(item["pk"]["S"], item["sk"]["S"]) for item in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if not start:
            return found


def read_open(wanted: list[Key]) -> list[WeChatPayOrder | WeChatPayRefund]:
    """The orders and refunds named (strongly consistent; one settled meanwhile is read as it is now)."""
    found = read_together(wanted)
    return [item for key in wanted if isinstance(item := found.get(key), WeChatPayOrder | WeChatPayRefund)]


def leave_open_index(order: WeChatPayOrder) -> None:
    """Out of the open index, status unchanged: an order whose payment is an anomaly for operators
    (store.record_anomaly), which asking WeChat Pay again would not change."""
    order.update([WeChatPayOrder.open_bucket.remove(), WeChatPayOrder.open_since.remove()])


def put_order(out_trade_no: str, member_id: str, amount: int, currency: str, now: datetime) -> WeChatPayOrder:
    """Write a new order (status created, open); its number is new, so the put is conditioned on that."""
    order = WeChatPayOrder(
        *order_key(out_trade_no),
        out_trade_no=out_trade_no,
        member_id=member_id,
        amount=amount,
        currency=currency,
        status="created",
        created_at=now,
        **open_fields(out_trade_no, now),
    )
    order.save(WeChatPayOrder.pk.does_not_exist())
    return order


def set_order_prepay(order: WeChatPayOrder, prepay_id: str | None, status: str) -> None:
    """Record WeChat Pay's prepay_id (or that it refused the order: status failed, no longer open)."""
    actions: list[Action] = [WeChatPayOrder.status.set(status)]
    if prepay_id:
        actions.append(WeChatPayOrder.prepay_id.set(prepay_id))
    if status != "created":
        actions += [WeChatPayOrder.open_bucket.remove(), WeChatPayOrder.open_since.remove()]
    order.update(actions, WeChatPayOrder.status == "created")


def close_order(order: WeChatPayOrder) -> bool:
    """An order never paid, closed at WeChat Pay: created -> closed, out of the open index. False if
    it is no longer `created` (a notification credited it meanwhile)."""
    from pynamodb.exceptions import UpdateError

    try:
        order.update(
            [WeChatPayOrder.status.set("closed"), WeChatPayOrder.open_bucket.remove(), WeChatPayOrder.open_since.remove()],
            WeChatPayOrder.status == "created",
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        return False
    return True


def get_order(out_trade_no: str) -> WeChatPayOrder | None:
    return item_of(WeChatPayOrder, read_together([order_key(out_trade_no)]).get(order_key(out_trade_no)))


@dataclass(frozen=True)
class NotificationRead:
    """What crediting a notification reads, in one batch: the transaction's record (if it was
    credited before), the order, the member and their wallet."""

    credited: WalletTopup | None
    order: WeChatPayOrder | None
    member: Member | None
    wallet: Wallet | None


def read_for_notification(out_trade_no: str, transaction_id: str) -> NotificationRead:
    """Strongly consistent: the transaction record and the order, then the order's member and wallet."""
    found = read_together([transaction_key(transaction_id), order_key(out_trade_no)])
    credited = item_of(WalletTopup, found.get(transaction_key(transaction_id)))
    order = item_of(WeChatPayOrder, found.get(order_key(out_trade_no)))
    if credited is not None or order is None:
        return NotificationRead(credited, order, None, None)
    owner = read_together([member_key(order.member_id), wallet_key(order.member_id)])
    member = item_of(Member, owner.get(member_key(order.member_id)))
    return NotificationRead(None, order, member, item_of(Wallet, owner.get(wallet_key(order.member_id))))


def new_transaction_topup(transaction_id: str, *, member_id: str, recording: Recording, **fields: Any) -> WalletTopup:
    """The top-up record of a WeChat Pay transaction (topup_id: the transaction id)."""
    return WalletTopup.new(transaction_key(transaction_id), topup_id=transaction_id, member_id=member_id, **recording, **fields)


def mark_order_paid(uow: UnitOfWork, order: WeChatPayOrder, transaction_id: str, bonus: int, now: datetime) -> None:
    """The order paid (part "order"): only from `created`, under the version read."""
    uow.update(
        "order",
        order,
        [
            WeChatPayOrder.status.set("paid"),
            WeChatPayOrder.transaction_id.set(transaction_id),
            WeChatPayOrder.bonus.set(bonus),
            WeChatPayOrder.paid_at.set(now),
            WeChatPayOrder.open_bucket.remove(),
            WeChatPayOrder.open_since.remove(),
        ],
        # failed or closed too: money WeChat Pay took is credited, whatever we thought of the order.
        WeChatPayOrder.status.is_in("created", "failed", "closed"),
    )


def record_anomaly(order: WeChatPayOrder, transaction_id: str, reason: str, notified_amount: int, now: datetime) -> None:
    """Keep a verified notification that was not credited, once per (order, transaction), and its
    entry in the operators' list (`WXPAY#ANOMALIES`) in the same transaction."""
    listed: dict[str, Any] = {
        "out_trade_no": order.out_trade_no,
        "reason": reason,
        "order_amount": int(order.amount),
        "notified_amount": notified_amount,
    }
    key = (keys.wxpay_pk(order.out_trade_no), keys.wxpay_anomaly_sk(transaction_id))
    anomaly = WeChatPayAnomaly(*key, transaction_id=transaction_id, created_at=now, **listed)
    entry = anomaly_entry(transaction_id, now, source="topup", **listed)
    uow = UnitOfWork()
    uow.put("anomaly", anomaly, WeChatPayAnomaly.pk.does_not_exist())
    uow.put("entry", entry, WeChatPayAnomalyEntry.pk.does_not_exist())
    uow.commit(lambda cancelled: "kept before")  # the same anomaly again: kept once


def anomaly_entry(transaction_id: str, now: datetime, **fields: Any) -> WeChatPayAnomalyEntry:
    """The operators' list entry of an anomaly (put it only if absent, with the anomaly itself)."""
    sk = keys.wxpay_anomaly_entry_sk(now.isoformat(), transaction_id)
    return WeChatPayAnomalyEntry(keys.WXPAY_ANOMALIES_PK, sk, transaction_id=transaction_id, created_at=now, **fields)


def anomaly_page(limit: int, cursor: str | None, status: str | None = None) -> Page[WeChatPayAnomalyEntry]:
    """One page of the anomalies, oldest first (the operators' list): every one, or only those
    `open` or `settled` (a filtered page: fewer items than `limit`, `next_cursor` while there are
    more to read)."""
    settled = WeChatPayAnomalyEntry.settled_at
    only = {None: None, "open": settled.does_not_exist(), "settled": settled.exists()}[status]
    prefix = keys.WXPAY_ANOMALY_ENTRY_PREFIX
    return query_page(WeChatPayAnomalyEntry, keys.WXPAY_ANOMALIES_PK, prefix, limit, cursor, filter_condition=only, more_if_any=only is not None)


def anomaly_id(entry: WeChatPayAnomalyEntry) -> str:
    """The anomaly's id in the API: its list entry's sort key, opaque (as a cursor is)."""
    return encode_cursor(entry.sk)


def anomaly_entry_of(anomaly_id: str) -> WeChatPayAnomalyEntry | None:
    """The list entry an `anomaly_id` names, or None (an id this API never gave out included)."""
    try:
        sk = decode_cursor(anomaly_id, keys.WXPAY_ANOMALY_ENTRY_PREFIX)
    except ValidationFailed:
        return None
    try:
        return WeChatPayAnomalyEntry.get(keys.WXPAY_ANOMALIES_PK, sk, consistent_read=True)
    except WeChatPayAnomalyEntry.DoesNotExist:
        return None


def settle_anomaly(uow: UnitOfWork, entry: WeChatPayAnomalyEntry, resolution: str, reference: str | None, now: datetime) -> None:
    """Mark the anomaly settled, only if it still is open."""
    actions = [WeChatPayAnomalyEntry.settled_at.set(now), WeChatPayAnomalyEntry.resolution.set(resolution)]
    if reference is not None:
        actions.append(WeChatPayAnomalyEntry.settled_reference.set(reference))
    uow.update("anomaly", entry, actions, WeChatPayAnomalyEntry.pk.exists() & WeChatPayAnomalyEntry.settled_at.does_not_exist())


def anomalies_of(out_trade_no: str) -> list[WeChatPayAnomaly]:
    """The anomalies recorded for an order (operators; tests)."""
    return list(WeChatPayAnomaly.query(keys.wxpay_pk(out_trade_no), WeChatPayAnomaly.sk.startswith("ANOMALY#"), consistent_read=True))
