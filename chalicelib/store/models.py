"""PynamoDB models of the single table.

One base model; entity types are told apart by a discriminator attribute
(`type`). Key formats come from `keys.py`, index definitions from `table.py`.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Self, TypedDict

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from ..settings import get_settings
from . import table

_REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _index_meta(name: str) -> type:
    definition = next(i for i in table.INDEXES if i.name == name)
    projection = AllProjection() if definition.projection == "ALL" else KeysOnlyProjection()
    return type("Meta", (), {"index_name": definition.name, "projection": projection})


class BaseItem(Model):
    """Every item of the table: pk/sk strings, a type, an optional TTL."""

    class Meta:
        table_name = get_settings().table_name
        region = _REGION
        connect_timeout_seconds = 2
        read_timeout_seconds = 5
        max_retry_attempts = 3

    pk = UnicodeAttribute(hash_key=True, attr_name=table.HASH_KEY)
    sk = UnicodeAttribute(range_key=True, attr_name=table.RANGE_KEY)
    entity = DiscriminatorAttribute(attr_name=table.ENTITY_ATTRIBUTE)
    ttl = TTLAttribute(null=True, attr_name=table.TTL_ATTRIBUTE)


class Recording(TypedDict):
    """What every idempotency record is made with, whatever it records (`Recorded.new`)."""

    fingerprint: str
    write_token: str
    response: dict[str, Any]
    now: datetime


class Recorded(BaseItem):
    """The record of an idempotent write (store/idempotency.py): what the request meant (a keyed
    fingerprint), the answer it got, and the write token of the request that made it."""

    fingerprint = UnicodeAttribute()
    write_token = UnicodeAttribute(null=True)
    response = MapAttribute[str, Any]()
    created_at = UTCDateTimeAttribute()

    @classmethod
    def new(cls, key: tuple[str, str], *, fingerprint: str, write_token: str, response: dict[str, Any], now: datetime, **fields: Any) -> Self:
        """A record not yet written (`idempotency.put_record` puts it), under `key`, with the
        record's own `fields` beside the request's fingerprint, answer and write token."""
        return cls(*key, fingerprint=fingerprint, write_token=write_token, response=response, created_at=now, **fields)


class PhoneIndex(GlobalSecondaryIndex["Member"]):
    Meta = _index_meta("by_phone")
    phone_key = UnicodeAttribute(hash_key=True)


class ExpiryIndex(GlobalSecondaryIndex["Lot"]):
    Meta = _index_meta("lots_by_expiry")
    expiry_bucket = UnicodeAttribute(hash_key=True)
    expiry_member = UnicodeAttribute(range_key=True)


class _MemberBucketIndex(GlobalSecondaryIndex["Member"]):
    pk = UnicodeAttribute(range_key=True, attr_name=table.HASH_KEY)


class BirthdayIndex(_MemberBucketIndex):
    Meta = _index_meta("members_by_birthday")
    birthday_bucket = UnicodeAttribute(hash_key=True)


class AnniversaryIndex(_MemberBucketIndex):
    Meta = _index_meta("members_by_anniversary")
    anniversary_bucket = UnicodeAttribute(hash_key=True)


class ActivityIndex(_MemberBucketIndex):
    Meta = _index_meta("members_by_activity")
    activity_bucket = UnicodeAttribute(hash_key=True)


class ErasureIndex(_MemberBucketIndex):
    Meta = _index_meta("members_by_erasure")
    erase_bucket = UnicodeAttribute(hash_key=True)


class ReleaseIndex(_MemberBucketIndex):
    Meta = _index_meta("members_by_release")
    release_bucket = UnicodeAttribute(hash_key=True)


class PlanEndIndex(_MemberBucketIndex):
    Meta = _index_meta("members_by_plan_end")
    plan_end_bucket = UnicodeAttribute(hash_key=True)


class Member(BaseItem, discriminator="Member"):
    """The member, with its points state (balance, lots, qualifying months).

    `version` makes every balance change an optimistic, conditional write:
    a transaction that changes the balance also writes the ledger entry and
    fails if anyone else changed the member since it was read.
    """

    member_id = UnicodeAttribute()
    phone = UnicodeAttribute()
    phone_key = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)
    gender = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    tier = UnicodeAttribute()
    tier_override = UnicodeAttribute(null=True)  # an operator's manual tier: a floor (usecases/operations/member_status_and_tier.py)
    balance = NumberAttribute(default=0)
    lifetime_earned = NumberAttribute(default=0)
    lots = MapAttribute[str, Any](default=dict)
    earned_months = MapAttribute[str, Any](default=dict)
    consents = MapAttribute[str, Any](default=dict)
    # When and how each consent was last given or withdrawn: {consent: {given, at, source}}, the
    # source `signup`, `member` (the profile) or `import <import id>` (domain/messaging.recorded_consents).
    consent_records = MapAttribute[str, Any](null=True)
    # Before the phone had to be proven by SMS, a member could ask for codes by email; such a
    # member's phone was never proven (domain: identity.phone_is_proven). Only read, never set to email.
    code_channel = UnicodeAttribute(default="sms")
    # When a code sent by SMS to `phone` was proven, and when `email` was confirmed by a code sent
    # to it: what a phone or an email may be trusted for (sign-in by email, bonuses).
    phone_verified_at = UTCDateTimeAttribute(null=True)
    email_verified_at = UTCDateTimeAttribute(null=True)
    # Tokens carry the epoch they were issued in; signing out (or closing) moves it on, so every
    # token issued before stops working (api/members.py's authorizer and the member routes).
    token_epoch = NumberAttribute(default=0)
    referral_code = UnicodeAttribute()
    referred_by = UnicodeAttribute(null=True)
    referral_open = BooleanAttribute(null=True)  # joined through a referral not yet settled (usecases/referrals.py)
    created_at = UTCDateTimeAttribute()
    activated_at = UTCDateTimeAttribute(null=True)
    closed_at = UTCDateTimeAttribute(null=True)  # set when closed; restorable within closure_grace_days
    # Profile the member keeps (usecases/profile.py) and closure (usecases/closure.py).
    address = MapAttribute[str, Any](null=True)
    preferences = ListAttribute[str](null=True)
    tags = ListAttribute[str](null=True)  # the member's own (profile), unlike operator_tags
    operator_tags = UnicodeSetAttribute(null=True)  # operators' labels (usecases/operations/member_tags.py)
    # A member a bulk import made (store/imports.py): the import, and the old system's id for them.
    imported_by = UnicodeAttribute(null=True)
    joined_member_id = UnicodeAttribute(null=True)  # a pay-to-join holding: the member its points went to (usecases/pay_to_join.py)
    external_id = UnicodeAttribute(null=True)
    pending_email = UnicodeAttribute(null=True)  # an email change waiting for its code
    # An operator's move to a new phone, waiting for the SMS code sent to it (store/contact_changes.py).
    moving_to_phone = UnicodeAttribute(null=True)
    profile_completed = BooleanAttribute(default=False)  # the completion bonus was granted (once ever)
    erase_after = UTCDateTimeAttribute(null=True)
    status_before_close = UnicodeAttribute(null=True)
    closure_reason = UnicodeAttribute(null=True)
    closed_by = UnicodeAttribute(null=True)
    erased = BooleanAttribute(default=False)
    erased_at = UTCDateTimeAttribute(null=True)
    last_activity_on = UnicodeAttribute(null=True)
    has_purchased = BooleanAttribute(default=False)
    lifecycle = UnicodeAttribute(default="new")
    # Sparse job-index keys (keys.py): present only while they apply.
    birthday_bucket = UnicodeAttribute(null=True)
    anniversary_bucket = UnicodeAttribute(null=True)
    activity_bucket = UnicodeAttribute(null=True)
    erase_bucket = UnicodeAttribute(null=True)
    release_bucket = UnicodeAttribute(null=True)  # the earliest day pending points are released (store/pending.py)
    # Purchase points held for a return window (domain/pending.py): not in `balance`, not spendable.
    pending_points = NumberAttribute(default=0)
    pending = MapAttribute[str, Any](default=dict)  # ISO release day -> points held
    released_through = UnicodeAttribute(null=True)  # ISO day: every pending day up to it was released
    plan_end_bucket = UnicodeAttribute(null=True)
    # The paid plan the member holds (domain/plans.PlanHolding.as_map), while they hold one.
    plan = MapAttribute[str, Any](null=True)
    # Points transfers sent on the last program-time day one was sent: {day, points, transfers}
    # (domain/transfers.SentToday); version-checked with the balance.
    transfers_sent = MapAttribute[str, Any](null=True)
    # The member's push devices: device id -> {platform, endpoint, token_hash, app_version,
    # registered_at} (store/devices.py), at most devices.MAX_DEVICES.
    devices = MapAttribute[str, Any](null=True)
    # WeChat bindings (store/wechat.py): app ("mini_program", "official_account") -> {openid,
    # unionid, bound_at}; and the member's subscription-message consents: template id -> sends left.
    wechat = MapAttribute[str, Any](null=True)
    wechat_subscriptions = MapAttribute[str, Any](null=True)
    # What scheduled work already did, so a rerun or a redelivered message does nothing.
    birthday_awarded_year = NumberAttribute(null=True)
    tier_reviewed_on = UnicodeAttribute(null=True)
    notices = MapAttribute[str, Any](default=dict)  # notice key -> ISO date it went out
    marketing_sent = ListAttribute[str](default=list)  # ISO timestamps inside the cap window
    # Where this member's messages held back by quiet hours wait (sort key -> SEND# bucket), so
    # closing finds them in one read; entries past any message's life are pruned as new ones come.
    deferred = MapAttribute[str, Any](null=True)
    # Points for actions other than purchases (domain/actions.py): per action type, what was
    # awarded today and this period (the limits); the last daily check-in, its streak and answer.
    action_counts = MapAttribute[str, Any](null=True)
    check_in = MapAttribute[str, Any](null=True)
    # Points given by earn rules with per-member limits: {rule_id: {d, dp, p, pp}} (domain/earn_rules.py),
    # only for rules that have such limits, stale days and periods overwritten: stays small.
    earn_counters = MapAttribute[str, Any](null=True)
    # Stamp cards (domain/stamps.py): card id -> stamps on the card, only cards holding some.
    stamp_cards = MapAttribute[str, Any](null=True)
    # Stamps held with pending points (domain/stamps.hold_stamps): ISO release day -> {card id: stamps}.
    pending_stamps = MapAttribute[str, Any](null=True)
    version = VersionAttribute()

    by_phone = PhoneIndex()
    by_birthday = BirthdayIndex()
    by_anniversary = AnniversaryIndex()
    by_activity = ActivityIndex()
    by_erasure = ErasureIndex()
    by_release = ReleaseIndex()
    by_plan_end = PlanEndIndex()


class PhoneGuard(BaseItem, discriminator="PhoneGuard"):
    """Exists while a member holds the phone: the table enforces uniqueness."""

    member_id = UnicodeAttribute()
    # A member made by a bulk import: which import and row (store/imports.py tells a redelivered
    # row, which finds its own guard, from a later row of the file with the same phone).
    import_id = UnicodeAttribute(null=True)
    import_row = NumberAttribute(null=True)


class VerificationCode(BaseItem, discriminator="VerificationCode"):
    """The current code for a phone, as an HMAC digest only. Single use."""

    salt = UnicodeAttribute()
    digest = UnicodeAttribute()
    nonce = UnicodeAttribute()
    expires_at = UTCDateTimeAttribute()
    target = UnicodeAttribute(null=True)  # a change code's new phone or email (store/contact_changes.py)
    channel = UnicodeAttribute(default="sms")  # where the code went: only an SMS code proves a phone
    # On a phone nobody holds: the member an operator is moving to it (store/contact_changes.py).
    moving_member_id = UnicodeAttribute(null=True)
    # A signup's profile (name, email, birthday, gender, consents, referrer), applied to the member
    # only when this code is proven: an unauthenticated request never changes a member.
    profile = MapAttribute[str, Any](null=True)


class CodeAttempts(BaseItem, discriminator="CodeAttempts"):
    """Attempts at a code in the current window, counted (conditionally) before each is judged;
    a proven code deletes it. (Stored as `failures`: every attempt is one until it succeeds.)"""

    failures = NumberAttribute(default=0)
    window_start = UTCDateTimeAttribute()


class SendThrottle(BaseItem, discriminator="SendThrottle"):
    sent_at = UTCDateTimeAttribute()


class SendCounter(BaseItem, discriminator="SendCounter"):
    """Codes sent in one window (a minute or a day) by one client address, to one recipient, or
    in all: incremented only while under the limit, in the transaction that reserves a send."""

    sent = NumberAttribute(default=0)


class BookEntry(BaseItem):
    """An entry of a member's books (the points ledger, the wallet). Immutable: written once, in
    the transaction that changed the balance to `balance_after`."""

    entry_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    balance_after = NumberAttribute()
    ref = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()

    @classmethod
    def new(cls, key: tuple[str, str], entry_id: str, kind: str, balance_after: int, ref: str | None, now: datetime, **change: Any) -> Self:
        """An entry not yet written, with its `change` to the balance (the points, the amount)."""
        return cls(*key, entry_id=entry_id, kind=kind, balance_after=balance_after, ref=ref, created_at=now, **change)


class LedgerEntry(BookEntry, discriminator="LedgerEntry"):
    points = NumberAttribute()
    lot = UnicodeAttribute(null=True)  # points earned: the month of the lot they went into (ledger.open_lot)
    # The change to the member's pending points (domain/pending.py), on the entries that hold,
    # cancel, release or forfeit them: `sum(pending) == pending_points` as `sum(points) == balance`.
    pending = NumberAttribute(null=True)
    # A purchase's earn entry: why, rule by rule ([{rule_id, label, points}], summing to `points`).
    breakdown = ListAttribute[Any](null=True)


class Lot(BaseItem, discriminator="Lot"):
    """A month a member earned points in, under the day they expire (the expiry index): written
    with the month's first points only (ledger.open_lot). What is left of it is on the Member
    (`lots`); what went into it, in the ledger entries that name it (`LedgerEntry.lot`)."""

    member_id = UnicodeAttribute()
    month = UnicodeAttribute()
    earned = NumberAttribute(null=True)  # only on lots written before ledger entries named their lot
    expires_on = UnicodeAttribute()
    expiry_bucket = UnicodeAttribute()
    expiry_member = UnicodeAttribute()

    by_expiry = ExpiryIndex()


class Order(Recorded, discriminator="Order"):
    """Created in the transaction that awards the purchase's points."""

    order_id = UnicodeAttribute()
    enrolled = BooleanAttribute(default=False)
    member_id = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)  # the store the purchase belongs to (refunds: usecases/merchants.py)
    merchant_store = UnicodeAttribute()  # the store of the key that reported it
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    points_earned = NumberAttribute()
    earn_month = UnicodeAttribute()
    refunded_amount = NumberAttribute(default=0)
    points_reversed = NumberAttribute(default=0)
    # Held pending until `release_on` (ISO day; `earn_month` is then that day's month): a refund
    # cancels what is still pending (domain/pending.py). None: the points were available at once.
    release_on = UnicodeAttribute(null=True)
    # The referrer this purchase (the referred member's first) rewarded: a full refund may claw it back.
    rewarded_referrer = UnicodeAttribute(null=True)
    # Reported with items (issue 14): {sku: [quantity, amount earned on, points, quantity refunded]}
    # and the points no line earned (bonuses), taken back when the whole order is refunded.
    lines = MapAttribute[str, Any](null=True)
    order_points = NumberAttribute(null=True)
    # Stamps it added, per card: {card_id: {added, removed, lines: {sku: stamps}}} (domain/stamps.py).
    stamps = MapAttribute[str, Any](null=True)
    version = VersionAttribute()


class Refund(Recorded, discriminator="Refund"):
    refund_id = UnicodeAttribute()


class Reward(BaseItem, discriminator="Reward"):
    reward_id = UnicodeAttribute()
    name = UnicodeAttribute()
    points_cost = NumberAttribute()
    stock = NumberAttribute(null=True)  # None: unlimited
    active = BooleanAttribute(default=True)
    coupon_valid_days = NumberAttribute(null=True)


class Redemption(Recorded, discriminator="Redemption"):
    """`MEMBER#<id>` / `REDEMPTION#<idempotency key>`: put in the transaction that spends the points."""


class Coupon(BaseItem, discriminator="Coupon"):
    """Single use: `status` goes issued -> redeemed (or revoked) once, conditionally.
    Found by code at the till through its CouponCode guard (models_engagement.py)."""

    code = UnicodeAttribute()
    member_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # welcome | birthday | redemption | stamp_card
    reward_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="issued")
    expires_at = UTCDateTimeAttribute()
    created_at = UTCDateTimeAttribute()
    redeemed_at = UTCDateTimeAttribute(null=True)
    redemption_id = UnicodeAttribute(null=True)  # the till's id for the redemption
    redeemed_store = UnicodeAttribute(null=True)


class ApiKey(BaseItem, discriminator="ApiKey"):
    """A merchant key, by the SHA-256 of the key (the key itself is never stored)."""

    key_id = UnicodeAttribute()
    store_id = UnicodeAttribute()
    # "store": acts for its own store only; "brand": a head-office backend acting for every store.
    scope = UnicodeAttribute(default="store")
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()


class ReferralCode(BaseItem, discriminator="ReferralCode"):
    member_id = UnicodeAttribute()


class DeferredMessage(BaseItem, discriminator="DeferredMessage"):
    """A message held back by quiet hours, under the hour it may go (keys.py)."""

    member_id = UnicodeAttribute()
    channel = UnicodeAttribute()
    recipient = UnicodeAttribute()
    kind = UnicodeAttribute()
    body = UnicodeAttribute()
    send_after = UTCDateTimeAttribute()
    params = MapAttribute[str, Any](null=True)  # an SMS template's values (domain/sms_templates.py)
    # The member's consent the message goes under (sms_marketing, email_marketing, push), read
    # again when it goes; None when it needs none (a service notice) or WeChat's subscription.
    consent = UnicodeAttribute(null=True)


class JobRun(BaseItem, discriminator="JobRun"):
    """A job run's summary, added to by every unit of work it fanned out."""

    job = UnicodeAttribute()
    as_of = UnicodeAttribute()
    run_id = UnicodeAttribute()
    dry_run = BooleanAttribute(default=False)
    units_planned = NumberAttribute(default=0)
    units_done = NumberAttribute(default=0)
    counters = MapAttribute[str, Any](default=dict)
    started_at = UTCDateTimeAttribute()
    # The ids of the units already added (runner.unit_id): a redelivered unit is not added twice.
    units_recorded = UnicodeSetAttribute(null=True)


# Models kept in their own modules; imported here so every discriminator is
# registered whenever any item of the table is read.
from . import (  # noqa: E402, F401
    models_admin,
    models_bulk,
    models_campaigns,
    models_engagement,
    models_imports,
    models_pay_to_join,
    models_plans,
    models_product_codes,
    models_segments,
    models_sms,
    models_surveys,
    models_transfers,
    models_wallet,
    models_webhooks,
    models_wechat_pay,
)


class BudgetShard(BaseItem, discriminator="BudgetShard"):
    """One shard of an earn rule's budget: the points it gave (store/earn_budgets.py)."""

    rule_id = UnicodeAttribute()
    given = NumberAttribute(default=0)
