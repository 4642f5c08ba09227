"""PynamoDB models for pay-to-join (支付即会员, docs/wechat-pay.md "Pay-to-join"); imported by
models.py so their discriminators register.

A store's WeChat Pay payment earns as a purchase report does: its Order is keyed by WeChat's
transaction id (put only if absent, in the transaction that credits the points). These two items
are what pay-to-join adds: who holds an unbound payer's points, and the payments that earned
nothing, for an operator.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem


class PayToJoinHolder(BaseItem, discriminator="PayToJoinHolder"):
    """`WECHAT#<sha256 of appid:openid>` / `PAYJOIN`: the pending member (no phone, no sign-in)
    that holds the points of an openid nobody is bound to. Put only if absent, with the member;
    deleted (only if it still names that member) when the payer proves a phone and the points
    move to the phone's member."""

    member_id = UnicodeAttribute()
    app = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class PayToJoinAnomaly(BaseItem, discriminator="PayToJoinAnomaly"):
    """`WXTXN#<transaction_id>` / `PAYJOIN#ANOMALY`: a verified store payment that earned nothing
    (`reason`: unmapped_merchant, unknown_appid, member_may_not_earn), kept once."""

    transaction_id = UnicodeAttribute()
    sub_mchid = UnicodeAttribute()
    reason = UnicodeAttribute()
    amount = NumberAttribute()
    created_at = UTCDateTimeAttribute()
