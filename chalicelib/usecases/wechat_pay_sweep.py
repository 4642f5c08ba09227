"""The wechat-pay-sweep job: what WeChat Pay has not settled by a notification, asked again.

WeChat Pay tells of a payment and of a refund's end by notification, and retries for about a day;
but a notification can still be lost (our endpoint down all that time, a proxy in the way), and a
refund request can go unanswered. WeChat Pay's own guidance is to query what was not notified.
So every 10 minutes (schedules.py) this job reads the `wechat_pay_open` index (store/wechat_pay.py:
the top-up orders still `created` and the refunds still `requested` or `processing`) for what was
opened more than `GRACE` ago, and for each one:

- an order `created`: asks WeChat Pay for the order (`query_order`). SUCCESS: credited exactly
  as its notification would be (once per transaction id, the top-up bonus too). NOTPAY /
  USERPAYING: waits; after `ORDER_OPEN` it is closed at WeChat Pay (so it can no longer be paid)
  and becomes `closed`. CLOSED / REVOKED / PAYERROR, or no such order at WeChat Pay: `closed`.
- a refund `requested` (WeChat Pay never answered): asked again with the same out_refund_no
  (WeChat Pay refunds once). Accepted: `processing`; refused: `failed`, the money back.
- a refund `processing`: asks WeChat Pay for it (`query_refund`). SUCCESS: `succeeded`;
  CLOSED / ABNORMAL: `failed`, the money back in the wallet; PROCESSING: waits.

Each outcome goes through the same use case as the notification (wechat_pay.credit_transaction,
wechat_pay_refunds.settle), so a notification arriving at the same time changes nothing twice.
WeChat Pay not answering leaves the item as it is, for the next run. A dry run only counts what is
open: it asks WeChat Pay nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from ..domain import wechat_pay as wxpay
from ..domain.errors import PaymentProviderFailed
from ..notify.wechat_pay import WeChatPayError
from ..observability import logger
from ..store import wechat_pay as store
from ..store.models_wechat_pay import WeChatPayOrder, WeChatPayRefund
from ..store.parameters import wechat_pay_credentials
from .wechat_pay import client, credit_transaction, paid_transaction
from .wechat_pay_refunds import ask_wechat_pay, settle

# Left to the notification this long: it usually comes within seconds.
GRACE = timedelta(minutes=5)
# An order not paid this long after it was made is closed at WeChat Pay.
ORDER_OPEN = timedelta(hours=2)
# What WeChat Pay's order states mean here (trade_state).
_WAITING = ("NOTPAY", "USERPAYING")
_ENDED_UNPAID = ("CLOSED", "REVOKED", "PAYERROR")
# What a run counts (the job's report: jobs/specs.py).
OUTCOMES = (
    "orders_credited",
    "orders_closed",
    "orders_waiting",
    "orders_anomaly",
    "refunds_asked",
    "refunds_succeeded",
    "refunds_failed",
    "refunds_waiting",
    "unanswered",
    "already_settled",
    "open_orders",
    "open_refunds",
)


def sweep_open(shard: int, now: datetime, *, dry_run: bool = False) -> Counter[str]:
    """Ask WeChat Pay about the open orders and refunds of one shard opened before now - GRACE."""
    tally: Counter[str] = Counter()
    for item in store.read_open(store.open_keys(shard, now - GRACE)):
        tally["examined"] += 1
        if dry_run:
            tally["open_orders" if isinstance(item, WeChatPayOrder) else "open_refunds"] += 1
            continue
        try:
            outcome = _order(item, now) if isinstance(item, WeChatPayOrder) else _refund(item)
        except WeChatPayError as exc:
            # No answer, or not one WeChat Pay signed: the next run asks again.
            logger.warning("wechat pay sweep: no answer", extra={"out_trade_no": item.out_trade_no, "status": exc.status, "code": exc.code})
            outcome = "unanswered"
        tally[outcome] += 1
    return tally


def _order(order: WeChatPayOrder, now: datetime) -> str:
    if order.status != "created":
        return "already_settled"
    state = _order_state(order.out_trade_no)
    trade_state = state.get("trade_state")
    if trade_state in _WAITING and now - order.created_at >= ORDER_OPEN:
        try:
            client().close_order(order.out_trade_no)
        except WeChatPayError as exc:
            if exc.status is None:
                raise
        # Closed, or refused because the payer paid meanwhile: what it is now decides.
        state = _order_state(order.out_trade_no)
        trade_state = state.get("trade_state")
    if trade_state == "SUCCESS":
        paid = paid_transaction({**state, "_event_type": "TRANSACTION.SUCCESS"})
        assert paid is not None
        credited = credit_transaction(*paid)
        if credited in ("credited", "replayed"):
            logger.info("wechat pay sweep: payment found without its notification", extra={"out_trade_no": order.out_trade_no, "outcome": credited})
            return "orders_credited" if credited == "credited" else "already_settled"
        # An anomaly (amount differs, member closed): listed for operators, not asked again.
        store.leave_open_index(order)
        return "orders_anomaly"
    if trade_state in _ENDED_UNPAID or trade_state == "NOT_FOUND":
        return "orders_closed" if store.close_order(order) else "already_settled"
    return "orders_waiting"


def _order_state(out_trade_no: str) -> dict[str, Any]:
    """The order as WeChat Pay knows it, checked to be this merchant's; `trade_state` NOT_FOUND when
    WeChat Pay has no such order (its creation never reached it)."""
    try:
        state = client().query_order(out_trade_no)
    except WeChatPayError as exc:
        if exc.signed and exc.code == "ORDER_NOT_EXIST":
            return {"trade_state": "NOT_FOUND"}
        raise
    if state.get("mchid") != wechat_pay_credentials()["mchid"] or state.get("out_trade_no") != out_trade_no:
        raise WeChatPayError("WeChat Pay answered for another order or merchant")
    return state


def _refund(refund: WeChatPayRefund) -> str:
    if refund.status == "requested":
        try:
            asked = ask_wechat_pay(refund)
        except PaymentProviderFailed:
            return "unanswered"
        return "refunds_failed" if asked.status == "failed" else "refunds_asked"
    if refund.status != "processing":
        return "already_settled"
    state = client().query_refund(refund.out_refund_no)
    status = state.get("status")
    if state.get("out_refund_no") != refund.out_refund_no:
        raise WeChatPayError("WeChat Pay answered for another refund")
    if status not in ("SUCCESS", "CLOSED", "ABNORMAL"):
        return "refunds_waiting"
    refund_id = state.get("refund_id")
    outcome = settle(
        refund.out_trade_no,
        refund.out_refund_no,
        succeeded=status == "SUCCESS",
        refund_id=refund_id if isinstance(refund_id, str) and wxpay.is_id(refund_id, 64) else None,
        failure=None if status == "SUCCESS" else str(status),
    )
    if outcome != "settled":
        return "already_settled"
    return "refunds_succeeded" if status == "SUCCESS" else "refunds_failed"
