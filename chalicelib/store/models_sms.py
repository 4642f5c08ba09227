"""PynamoDB model for SMS sent by a template provider (imported by models.py so its discriminator is
registered): one `SmsSend` per provider message id, holding what the provider's delivery receipt
later says (usecases/sms_receipts.py). No phone in clear: a keyed digest only."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem


class SmsSend(BaseItem, discriminator="SmsSend"):
    """`SMSSEND#<provider>#<message id>` / `SMSSEND`: one SMS the provider accepted, and its
    delivery (`sent`, then `delivered` or `failed` once, with the provider's error code)."""

    provider = UnicodeAttribute()
    kind = UnicodeAttribute()
    phone_digest = UnicodeAttribute()  # HMAC of the phone with the fingerprint key: never the phone
    status = UnicodeAttribute()
    sent_at = UTCDateTimeAttribute()
    reported_at = UTCDateTimeAttribute(null=True)
    error_code = UnicodeAttribute(null=True)
