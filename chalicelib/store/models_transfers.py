"""PynamoDB models for points transfers and push devices (imported by models.py so their
discriminators are registered).

A transfer is idempotent by a `TransferRecord` under the sender (`TRANSFER#<Idempotency-Key>`),
put only if absent in the transaction that moves the points (usecases/transfers.py). A push
device token belongs to one member at a time: its `PushTokenGuard` (keyed by the token's
SHA-256, the token itself is never a key) names the member and device that hold it.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem, Recorded


class TransferRecord(Recorded, discriminator="TransferRecord"):
    """`MEMBER#<sender>` / `TRANSFER#<key>`: the sender's transfer, its answer replayed."""


class PushTokenGuard(BaseItem, discriminator="PushTokenGuard"):
    """`PUSHTOKEN#<sha256 of platform:token>` / `PUSHTOKEN`: who holds the token now."""

    member_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    registered_at = UTCDateTimeAttribute()


class WechatGuard(BaseItem, discriminator="WechatGuard"):
    """`WECHAT#<sha256 of appid:openid>` / `WECHAT`: the one member a WeChat openid is bound to."""

    member_id = UnicodeAttribute()
    app = UnicodeAttribute()
    bound_at = UTCDateTimeAttribute()
