"""PynamoDB models for paid membership plans (imported by models.py so their discriminators are
registered).

Each purchase of a plan is a `PlanMembership`, written in the transaction that starts or renews
the member's plan (the member's `plan` map, version-checked) with its 0-point ledger entry, and,
when paid from the wallet, the wallet's debit and its entry. The purchase is idempotent by a
`PlanPaymentRecord` (the till's payment id, or the member's Idempotency-Key) put only if absent
in that same transaction; its refund by a `PlanRefundRecord` under the membership (one refund
per purchase: the whole fee).
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute

from .models import BaseItem, Recorded


class PlanMembership(BaseItem, discriminator="PlanMembership"):
    """One paid period of a plan. `previous_ends_on` / `previous_membership_id`: what it extended
    (None when it started the plan), so that its refund can put the end back."""

    membership_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    plan_id = UnicodeAttribute()
    name = UnicodeAttribute()
    fee = NumberAttribute()
    currency = UnicodeAttribute()
    paid_by = UnicodeAttribute()  # "till" | "wallet"
    payment_ref = UnicodeAttribute()  # the till's payment id, or the wallet entry's id
    store_id = UnicodeAttribute(null=True)  # the till's store (None when paid from the wallet)
    merchant_store = UnicodeAttribute(null=True)
    purchased_on = UnicodeAttribute()  # program date
    refund_window_days = NumberAttribute()  # the plan's, fixed at the purchase
    period_starts_on = UnicodeAttribute()
    period_ends_on = UnicodeAttribute()
    previous_ends_on = UnicodeAttribute(null=True)
    previous_membership_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="paid")  # paid | refunded
    refunded_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)  # the membership closed while this period ran
    refund_due = UnicodeAttribute(null=True)  # "till": closed within the refund window, the store owes the fee
    created_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class PlanPaymentRecord(Recorded, discriminator="PlanPaymentRecord"):
    """The idempotency record of one purchase of a plan (its answer names the membership)."""

    membership_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)


class PlanRefundRecord(Recorded, discriminator="PlanRefundRecord"):
    """The idempotency record of the refund of one purchase."""

    refund_id = UnicodeAttribute()
    membership_id = UnicodeAttribute()
