"""Reading members and turning points changes into writes.

Every balance change goes through `points_update` + `ledger_entry` in one
`Transaction`, conditioned on the member's version: so the ledger entry's
`balance_after` is exact and `sum(ledger) == balance` always holds.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from ..domain import codes
from ..domain.identity import email_is_confirmed
from ..domain.lifecycle import lifecycle_stage
from ..domain.points import PointsState, lot_expires_on
from ..domain.rules import ProgramRules
from ..settings import get_settings
from . import keys
from .models import LedgerEntry, Lot, Member, PhoneGuard
from .unit_of_work import Transaction


def get_member(member_id: str) -> Member | None:
    try:
        return Member.get(keys.member_pk(member_id), keys.PROFILE, consistent_read=True)
    except DoesNotExist:
        return None


def member_id_for_phone(phone: str) -> str | None:
    """Strongly consistent: the phone guard is the source of truth."""
    try:
        return PhoneGuard.get(keys.phone_pk(phone), keys.GUARD, consistent_read=True).member_id
    except DoesNotExist:
        return None


def find_member_by_phone(phone: str, *, strongly: bool = False) -> Member | None:
    """One round trip through the `by_phone` index (eventually consistent);
    `strongly` goes through the guard instead (two round trips, never stale)."""
    if strongly:
        member_id = member_id_for_phone(phone)
        return get_member(member_id) if member_id else None
    for member in Member.by_phone.query(phone, limit=1):
        if member.phone == phone:
            return member
    return None


def as_dict(value: Any) -> dict[str, Any]:
    """A raw MapAttribute (or None) as a plain dict."""
    if value is None:
        return {}
    return value.as_dict() if hasattr(value, "as_dict") else dict(value)


def points_state(member: Member) -> PointsState:
    return PointsState(
        balance=int(member.balance),
        lifetime_earned=int(member.lifetime_earned),
        lots={k: int(v) for k, v in as_dict(member.lots).items()},
        earned_months={k: int(v) for k, v in as_dict(member.earned_months).items()},
    )


def points_update(state: PointsState) -> list[Action]:
    return [
        Member.balance.set(state.balance),
        Member.lifetime_earned.set(state.lifetime_earned),
        Member.lots.set(state.lots),
        Member.earned_months.set(state.earned_months),
    ]


def apply_points(member: Member, state: PointsState) -> None:
    """Mirror a new points state on an unsaved Member (for a Put)."""
    member.balance = state.balance
    member.lifetime_earned = state.lifetime_earned
    member.lots = state.lots
    member.earned_months = state.earned_months


_MAX_MILLIS = 10**13 - 1


def new_entry_id(now: datetime) -> str:
    """Sorts newest first (inverted milliseconds), unique by its random tail."""
    return f"{_MAX_MILLIS - int(now.timestamp() * 1000):013d}-{secrets.token_hex(4)}"


def ledger_entry(member_id: str, kind: str, points: int, balance_after: int, ref: str | None, now: datetime) -> LedgerEntry:
    entry_id = new_entry_id(now)
    return LedgerEntry(
        keys.member_pk(member_id),
        keys.ledger_sk(entry_id),
        entry_id=entry_id,
        kind=kind,
        points=points,
        balance_after=balance_after,
        ref=ref,
        created_at=now,
    )


def add_lot_points(tx: Transaction, member_id: str, month: str, points: int, validity_months: int) -> None:
    """Record that `member_id` earned in `month` (idempotent upsert), for the expiry index."""
    expires_on = lot_expires_on(month, validity_months).isoformat()
    shard = keys.shard_of(member_id, get_settings().index_shards)
    lot = Lot(keys.member_pk(member_id), keys.lot_sk(month))
    tx.update(
        "lot",
        lot,
        [
            Lot.entity.set(Lot),
            Lot.member_id.set(member_id),
            Lot.month.set(month),
            Lot.earned.add(points),
            Lot.expires_on.set(expires_on),
            Lot.expiry_bucket.set(keys.expiry_bucket(expires_on, shard)),
            Lot.expiry_member.set(keys.expiry_member(member_id, month)),
        ],
    )


def new_referral_code() -> str:
    return "".join(secrets.choice(codes.REFERRAL_ALPHABET) for _ in range(8))


def member_view(member: Member, expiring: list[dict[str, Any]]) -> dict[str, Any]:
    """The API's Member object (../shared/API.md)."""
    from ..domain.clock import iso

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
        },
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


def member_shard(member_id: str) -> int:
    return keys.shard_of(member_id, get_settings().index_shards)


def birthday_bucket_for(member_id: str, birthday: str | None) -> str | None:
    return keys.birthday_bucket(birthday[5:10], member_shard(member_id)) if birthday else None


def joined_on(member: Member, rules: ProgramRules) -> date:
    return member.created_at.astimezone(rules.zone).date()


def activity_actions(member: Member, rules: ProgramRules, today: date, *, purchased: bool = False) -> list[Action]:
    """Record activity today (a purchase, a redemption, a sign-in): the last-activity
    index key moves at most once a day, and the lifecycle stage follows."""
    actions: list[Action] = []
    day = today.isoformat()
    if member.last_activity_on != day:
        actions += [Member.last_activity_on.set(day), Member.activity_bucket.set(keys.activity_bucket(day, member_shard(member.member_id)))]
    has_purchased = bool(member.has_purchased) or purchased
    if purchased and not member.has_purchased:
        actions.append(Member.has_purchased.set(True))
    stage = lifecycle_stage(rules, joined_on(member, rules), today, has_purchased, today)
    if stage != member.lifecycle:
        actions.append(Member.lifecycle.set(stage))
    return actions


def mark_new_member_activity(member: Member, rules: ProgramRules, today: date, *, purchased: bool) -> None:
    """The same, on an unsaved Member (for a Put)."""
    member.last_activity_on = today.isoformat()
    member.activity_bucket = keys.activity_bucket(member.last_activity_on, member_shard(member.member_id))
    member.has_purchased = purchased
    member.lifecycle = lifecycle_stage(rules, joined_on(member, rules), today, purchased, today)
