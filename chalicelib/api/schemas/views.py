"""What the API answers: the Member object and the other views of stored items
(../shared/API.md, openapi.yaml). Use cases build them (an idempotent write stores its answer
with its effect); they read the items the store returns and never reach the table."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ...domain.clock import iso
from ...domain.coupons import coupon_status
from ...domain.identity import email_is_confirmed
from ...domain.plans import PlanHolding, plan_status
from ...domain.tiers import TierProgress

if TYPE_CHECKING:
    from ...domain.rules import ProgramRules
    from ...store.models import BookEntry, Coupon, LedgerEntry, Member, Reward
    from ...store.models_engagement import CouponCode, Feedback, FeedbackQueueEntry


def as_dict(value: Any) -> dict[str, Any]:
    """A stored map (or None) as a plain dict."""
    if value is None:
        return {}
    return value.as_dict() if hasattr(value, "as_dict") else dict(value)


def tier_progress_view(progress: TierProgress) -> dict[str, Any]:
    """Where the member stands against the next tier (the `next_*` fields null at the top tier)."""
    return {
        "qualifying_points": progress.qualifying_points,
        "window_months": progress.window_months,
        "next_tier": progress.next_tier,
        "next_threshold": progress.next_threshold,
        "points_needed": progress.points_needed,
    }


def plan_view(holding: PlanHolding | None, today: date) -> dict[str, Any] | None:
    """The paid plan a member holds (domain/plans.py), as of `today`; None without one."""
    if holding is None:
        return None
    return {
        "plan_id": holding.plan_id,
        "name": holding.name,
        "tier": holding.tier,
        "started_on": holding.started_on.isoformat(),
        "ends_on": holding.ends_on.isoformat(),
        "status": plan_status(holding, today),
        "membership_id": holding.membership_id,
    }


def member_view(member: Member, expiring: list[dict[str, Any]], progress: TierProgress, today: date) -> dict[str, Any]:
    """The API's Member object (../shared/API.md), with the tier progress (domain/tiers.py) and the
    paid plan held (`today`: the program's date, for the plan's status)."""
    consents = as_dict(member.consents)
    return {
        "member_id": member.member_id,
        "phone": member.phone,
        "name": member.name,
        "email": member.email,
        "birthday": member.birthday,
        "status": member.status,
        "tier": member.tier,
        "points": {
            "balance": int(member.balance),
            "lifetime_earned": int(member.lifetime_earned),
            "expiring": expiring,
            # Held for a return window (usecases/pending_points.py): not spendable until available_on.
            "pending_points": int(member.pending_points or 0),
            "pending": [{"points": int(p), "available_on": day} for day, p in sorted(as_dict(member.pending).items())],
        },
        "tier_progress": tier_progress_view(progress),
        "plan": plan_view(PlanHolding.from_map(as_dict(member.plan)), today),
        "referral_code": member.referral_code,
        "consents": {k: bool(consents.get(k, False)) for k in ("sms_marketing", "email_marketing", "push")},
        "created_at": iso(member.created_at),
        # The rest of the profile (PATCH /v1/me, usecases/profile.py).
        "gender": member.gender,
        "address": as_dict(member.address) or None,
        "preferences": list(member.preferences or []),
        "tags": list(member.tags or []),
        "pending_email": member.pending_email,
        "email_verified": email_is_confirmed(member),
        "profile_completed": bool(member.profile_completed),
    }


def stamp_cards_view(rules: ProgramRules, counts: dict[str, int]) -> list[dict[str, Any]]:
    """The program's active stamp cards with the stamps the member has on each (domain/stamps.py)."""
    return [
        {"card_id": c.id, "name": c.name, "stamps": counts.get(c.id, 0), "stamps_needed": c.stamps_needed, "reward_id": c.reward_id}
        for c in rules.stamp_cards
        if c.active
    ]


def book_entry_view(entry: BookEntry, change: str, value: float) -> dict[str, Any]:
    """An entry of a member's books as the member and the operators see it, its change to the
    balance named `change` (the ledger's "points", the wallet's "amount")."""
    return {
        "entry_id": entry.entry_id,
        "kind": entry.kind,
        change: int(value),
        "balance_after": int(entry.balance_after),
        "created_at": iso(entry.created_at),
        "ref": entry.ref,
    }


def ledger_entry_view(entry: LedgerEntry) -> dict[str, Any]:
    """A ledger entry as the member and the operators see it."""
    view = book_entry_view(entry, "points", entry.points)
    if entry.pending is not None:
        view["pending"] = int(entry.pending)  # the change to the pending points (usecases/pending_points.py)
    if entry.breakdown is not None:
        view["breakdown"] = [{"rule_id": b["rule_id"], "label": b["label"], "points": int(b["points"])} for b in entry.breakdown]
    return view


def catalogue_reward_view(reward: Reward) -> dict[str, Any]:
    """A reward in the members' catalogue."""
    return {
        "reward_id": reward.reward_id,
        "name": reward.name,
        "points_cost": int(reward.points_cost),
        "stock": None if reward.stock is None else int(reward.stock),
    }


def reward_view(reward: Reward) -> dict[str, Any]:
    """A reward as operators see it (retired ones too): the catalogue's view and more."""
    return {
        **catalogue_reward_view(reward),
        "active": bool(reward.active),
        "coupon_valid_days": None if reward.coupon_valid_days is None else int(reward.coupon_valid_days),
    }


# --- coupons and feedback (usecases/coupons.py, usecases/feedback.py) ----------------------


def coupon_view(coupon: Coupon, now: datetime) -> dict[str, Any]:
    """A coupon as its member sees it (its status as of `now`)."""
    return {
        "code": coupon.code,
        "kind": coupon.kind,
        "reward_id": coupon.reward_id,
        "status": coupon_status(coupon.status, coupon.expires_at, now),
        "expires_at": iso(coupon.expires_at),
        "created_at": iso(coupon.created_at),
        "redeemed_at": iso(coupon.redeemed_at) if coupon.redeemed_at else None,
    }


def coupon_redemption_view(guard: CouponCode, redemption_id: str, store_id: str | None, redeemed_at: datetime) -> dict[str, Any]:
    """A till's redemption of a coupon (found by its code guard)."""
    return {
        "code": guard.code,
        "member_id": guard.member_id,
        "reward_id": guard.reward_id,
        "kind": guard.kind,
        "redemption_id": redemption_id,
        "store_id": store_id,
        "redeemed_at": iso(redeemed_at),
    }


def _feedback_answer_view(text: str | None, answered_at: datetime | None) -> dict[str, Any] | None:
    return {"text": text, "answered_at": iso(answered_at)} if text and answered_at else None


def feedback_view(item: Feedback) -> dict[str, Any]:
    """A piece of feedback as its member sees it."""
    return {
        "feedback_id": item.feedback_id,
        "category": item.category,
        "text": item.text,
        "order_id": item.order_id,
        "status": item.status,
        "created_at": iso(item.created_at),
        "answer": _feedback_answer_view(item.answer, item.answered_at),
    }


def feedback_queue_view(entry: FeedbackQueueEntry, status: str) -> dict[str, Any]:
    """A piece of feedback in the operators' queue."""
    return {
        "feedback_id": entry.feedback_id,
        "member_id": entry.member_id,
        "category": entry.category,
        "text": entry.text,
        "order_id": entry.order_id,
        "status": status,
        "created_at": iso(entry.created_at),
        "answer": _feedback_answer_view(entry.answer, entry.answered_at),
    }
