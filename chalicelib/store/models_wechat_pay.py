"""PynamoDB models for WeChat Pay top-ups (imported by models.py so their discriminators register).

An order is written before WeChat Pay is asked for its prepay_id, so a notification always finds
it unless it overtakes the write (then it is answered 404 and WeChat Pay sends it again). A paid
transaction is credited once: the WalletTopup record under `WXTXN#<transaction_id>` is put only
if absent, in the transaction that credits the wallet and marks the order paid.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute

from .models import BaseItem


class WeChatPayOrder(BaseItem, discriminator="WeChatPayOrder"):
    """status: created (waiting for the payment) | paid (credited) | failed (WeChat Pay refused it)."""

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
