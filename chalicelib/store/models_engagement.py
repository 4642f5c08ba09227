"""PynamoDB models for referrals, coupons at the till and feedback (imported by models.py so their discriminators are registered).

Key formats are in `keys.py`. The member's Coupon item itself lives in
`models.py` (redemptions issue coupons too).
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem, Recorded


class CouponCode(BaseItem, discriminator="CouponCode"):
    """`COUPON#<code>`: written (if absent) in the transaction that issues the coupon.

    Makes codes unique across the program and lets a till find the coupon by
    its code alone. Holds only the coupon's immutable facts; whether it is
    still usable is the member's Coupon item's `status`.
    """

    code = UnicodeAttribute()
    member_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    reward_id = UnicodeAttribute(null=True)
    expires_at = UTCDateTimeAttribute()
    created_at = UTCDateTimeAttribute()


class CouponUse(Recorded, discriminator="CouponUse"):
    """`COUPONUSE#<redemption_id>`: put (if absent) in the transaction that marks the
    coupon redeemed, so a till's retry gets the first answer and nothing happens twice."""

    redemption_id = UnicodeAttribute()
    code = UnicodeAttribute()


class Referral(BaseItem, discriminator="Referral"):
    """`MEMBER#<referrer>` / `REFERRAL#<referee>`: one per referred member, ever.

    Put (if absent) when the referred member first verifies (their bonus is
    paid in that transaction); settled once, conditionally on `status ==
    joined`, in the transaction of their first purchase (the referrer's bonus).
    """

    referral_id = UnicodeAttribute()
    referrer_id = UnicodeAttribute()
    referee_id = UnicodeAttribute()
    status = UnicodeAttribute()  # joined | rewarded | forfeited | clawed_back (a refund took the bonus back)
    reason = UnicodeAttribute(null=True)  # why forfeited
    referee_points = NumberAttribute(default=0)
    referrer_points = NumberAttribute(default=0)
    joined_at = UTCDateTimeAttribute()
    settled_at = UTCDateTimeAttribute(null=True)
    clawed_back_at = UTCDateTimeAttribute(null=True)


class Feedback(BaseItem, discriminator="Feedback"):
    """`MEMBER#<id>` / `FEEDBACK#<feedback_id>`: what the member wrote, and the answer."""

    feedback_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    category = UnicodeAttribute()
    text = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="open")  # open | answered
    answer = UnicodeAttribute(null=True)
    answered_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class FeedbackQueueEntry(BaseItem, discriminator="FeedbackQueueEntry"):
    """`FEEDBACKQ#<status>` / `<feedback_id>`: the operators' queue. Answering moves the
    entry from `open` to `answered` in the transaction that records the answer.
    Feedback is rare next to purchases, so one partition per status is enough."""

    feedback_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    category = UnicodeAttribute()
    text = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    answer = UnicodeAttribute(null=True)
    answered_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class FeedbackKey(Recorded, discriminator="FeedbackKey"):
    """`MEMBER#<id>` / `FEEDBACKKEY#<key>`: the first answer to an Idempotency-Key."""


class ActionEvent(Recorded, discriminator="ActionEvent"):
    """`ACTION#<store_id>#<event_id>` / `ACTION`: an action a store reported (a review, a
    share...), put (if absent) in the transaction that awards its points (or records that a
    limit left it none), so a retry gets the first answer and nothing is awarded twice."""

    event_id = UnicodeAttribute()
    store_id = UnicodeAttribute()
    merchant_store = UnicodeAttribute()  # the store of the key that reported it
    member_id = UnicodeAttribute()
    action_type = UnicodeAttribute()
    points = NumberAttribute(default=0)


class ActionRef(BaseItem, discriminator="ActionRef"):
    """`MEMBER#<member_id>` / `ACTIONREF#<store_id>#<event_id>`: that the member's action lives
    under `ACTION#<store_id>#<event_id>`, put with it: the data export finds the member's actions
    in their own partition (an ActionEvent is keyed by the store's event id, not the member)."""

    store_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
