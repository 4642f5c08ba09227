"""PynamoDB models for stored value (imported by models.py so their discriminators are registered).

The wallet's balance changes only in a transaction that also writes the
immutable WalletEntry for the change and is conditioned on the wallet's
`version`, so `balance_after` is exact and the entries always add up to the
balance. Each top-up, payment and payment refund is a record put only if
absent, keyed by the merchant's business id, in that same transaction: it
happens once, and a replay answers from the record.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute

from .models import BaseItem, BookEntry, Recorded


class Wallet(BaseItem, discriminator="Wallet"):
    """A member's stored-value balance, in minor units of `currency` (fixed by the first top-up)."""

    member_id = UnicodeAttribute()
    balance = NumberAttribute(default=0)
    # Taken out of the balance by WeChat Pay refunds not settled yet (usecases/wechat_pay_refunds.py):
    # still the member's until WeChat Pay pays it back, so the membership cannot close meanwhile.
    held = NumberAttribute(null=True)
    currency = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class WalletEntry(BookEntry, discriminator="WalletEntry"):
    """`kind`: topup | bonus | payment | refund."""

    amount = NumberAttribute()  # signed, minor units


class WalletTopup(Recorded, discriminator="WalletTopup"):
    """One per topup id: created in the transaction that credits the wallet."""

    topup_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    amount = NumberAttribute()
    bonus = NumberAttribute(default=0)
    currency = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    merchant_store = UnicodeAttribute()


class WalletPayment(Recorded, discriminator="WalletPayment"):
    """One per payment id: created in the transaction that debits the wallet.

    `refunded_amount` grows with each refund, under `version`, so refunds of
    one payment never add up to more than `amount`.
    """

    payment_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    merchant_store = UnicodeAttribute()
    refunded_amount = NumberAttribute(default=0)
    version = VersionAttribute()


class WalletRefund(Recorded, discriminator="WalletRefund"):
    """One per (payment id, refund id): created in the transaction that credits the wallet back."""

    refund_id = UnicodeAttribute()
    payment_id = UnicodeAttribute()
    amount = NumberAttribute()
    merchant_store = UnicodeAttribute()
