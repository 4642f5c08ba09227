"""PynamoDB models for WeChat Pay top-ups (imported by models.py so their discriminators register).

An order is written before WeChat Pay is asked for its prepay_id, so a notification always finds
it unless it overtakes the write (then it is answered 404 and WeChat Pay sends it again). A paid
transaction is credited once: the WalletTopup record under `WXTXN#<transaction_id>` is put only
if absent, in the transaction that credits the wallet and marks the order paid.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute
from pynamodb.indexes import GlobalSecondaryIndex

from .models import BaseItem, Recorded, _index_meta


class WeChatPayOpenIndex(GlobalSecondaryIndex["WeChatPayOrder"]):
    """What WeChat Pay has not settled yet (orders `created`, refunds `requested`/`processing`), by
    when it was opened: the wechat-pay-sweep job's (store/wechat_pay.open_keys)."""

    Meta = _index_meta("wechat_pay_open")
    open_bucket = UnicodeAttribute(hash_key=True, attr_name="wxpay_open_bucket")
    open_since = UnicodeAttribute(range_key=True, attr_name="wxpay_open_since")


class WeChatPayOrder(BaseItem, discriminator="WeChatPayOrder"):
    """status: created (waiting for the payment) | paid (credited) | failed (WeChat Pay refused it)
    | refunding (an operator's refund is held from the wallet, WeChat Pay is paying it back) |
    refunded (WeChat Pay notified the refund's success) | closed (never paid: closed at WeChat Pay by
    the wechat-pay-sweep job). `refund_no`: the refund under way or done. While `created`, the order
    is in the `wechat_pay_open` index (`open_bucket`, `open_since`: keys.py)."""

    out_trade_no = UnicodeAttribute()
    member_id = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()
    prepay_id = UnicodeAttribute(null=True)
    transaction_id = UnicodeAttribute(null=True)
    bonus = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    paid_at = UTCDateTimeAttribute(null=True)
    refund_no = UnicodeAttribute(null=True)
    open_bucket = UnicodeAttribute(null=True, attr_name="wxpay_open_bucket")
    open_since = UnicodeAttribute(null=True, attr_name="wxpay_open_since")
    by_open = WeChatPayOpenIndex()
    version = VersionAttribute()


class WeChatPayAnomaly(BaseItem, discriminator="WeChatPayAnomaly"):
    """A paid notification that was verified but not credited, for an operator to settle by hand:
    `reason` amount_mismatch (WeChat's amount is not the order's), already_paid (the order was
    credited under another transaction id), member_closed."""

    out_trade_no = UnicodeAttribute()
    transaction_id = UnicodeAttribute()
    reason = UnicodeAttribute()
    order_amount = NumberAttribute()
    notified_amount = NumberAttribute()
    created_at = UTCDateTimeAttribute()


class WeChatPayAnomalyEntry(BaseItem, discriminator="WeChatPayAnomalyEntry"):
    """The anomaly once more under `WXPAY#ANOMALIES`, for the operators' list (ids and amounts only):
    a top-up's (`source` absent: written before store payments were listed, or "topup") or a store
    payment's (pay-to-join, store/pay_to_join.py: no order, the store's `sub_mchid`). Open until an
    operator settles it: then `settled_at`, `resolution` and the operator's `settled_reference`
    (a refund number, a ticket), once."""

    source = UnicodeAttribute(null=True)
    out_trade_no = UnicodeAttribute(null=True)
    sub_mchid = UnicodeAttribute(null=True)
    transaction_id = UnicodeAttribute()
    reason = UnicodeAttribute()
    order_amount = NumberAttribute(null=True)
    notified_amount = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    settled_at = UTCDateTimeAttribute(null=True)
    resolution = UnicodeAttribute(null=True)
    settled_reference = UnicodeAttribute(null=True)


class WeChatPayRefund(Recorded, discriminator="WeChatPayRefund"):
    """An operator's refund of a paid top-up, one per (order, Idempotency-Key): the idempotency
    record of the request and the refund's state. `status`: requested (the top-up and its bonus
    held from the wallet; WeChat Pay not yet asked, or its answer lost) | processing (WeChat Pay
    accepted it) | succeeded (its notification said so: the order is refunded) | failed (WeChat
    Pay refused or closed it: the held money went back to the wallet, the order is paid again).
    While requested or processing, the refund is in the `wechat_pay_open` index (keys.py)."""

    out_trade_no = UnicodeAttribute()
    out_refund_no = UnicodeAttribute()
    member_id = UnicodeAttribute()
    amount = NumberAttribute()
    bonus = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()
    refund_id = UnicodeAttribute(null=True)  # WeChat Pay's
    failure = UnicodeAttribute(null=True)  # WeChat Pay's error code or refund_status
    actor = UnicodeAttribute()
    settled_at = UTCDateTimeAttribute(null=True)
    held_in_wallet = BooleanAttribute(null=True)  # counted in the wallet's `held` (refunds held before it existed were not)
    open_bucket = UnicodeAttribute(null=True, attr_name="wxpay_open_bucket")
    open_since = UnicodeAttribute(null=True, attr_name="wxpay_open_since")
    by_open = WeChatPayOpenIndex()
    version = VersionAttribute()
