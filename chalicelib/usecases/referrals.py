"""Referrals: a member shares their code, a friend signs up with it.

- Signup records the referrer (`Member.referred_by`, enrolment.py) when the
  code exists; an unknown code never blocks a signup.
- When the referred member first verifies, the referral is recorded
  (`Referral`, a conditional put keyed by the referred member: once ever) and
  they get `referee_points`, in the verification's transaction.
- On their first purchase after that, the referral is settled once
  (conditional on `status == joined`, in the purchase's transaction): the
  referrer gets `referrer_points`, unless the referrer is frozen, closed or
  gone by then, in which case the referral is forfeited for good.

A full refund of that first purchase takes the referrer's bonus back when the rules say so
(`referral_clawback_on_refund`): once (conditional on `status == rewarded`, in the refund's
transaction), a `referral_clawback` ledger entry on the referrer. Like a refund's reversal
(points.claw_back), it may take the referrer's balance below zero when they already spent the
bonus: later earnings pay that debt first (domain/reconciliation.py allows it for this kind).

When a referral counts is the domain's (domain/referrals.py). Replayed
purchases cancel the whole transaction on the order guard, so they settle
nothing; later purchases find the referral settled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..domain.clock import today_in
from ..domain.points import claw_back, earn, lot_expires_on, month_key
from ..domain.referrals import why_not_rewarded
from ..domain.rules import ProgramRules
from ..notify.sender import Message
from ..observability import count, logger
from ..store import referrals
from ..store.ledger import ledger_entry, open_lot
from ..store.members import points_state, points_update
from ..store.models import Member, Order
from ..store.unit_of_work import UnitOfWork, Writes


@dataclass
class Joining:
    """What a first verification adds for a referral: bonus entries (ref, points) and member writes."""

    bonuses: list[tuple[str, int]] = field(default_factory=list)
    member_actions: Writes = field(default_factory=list)


def add_referral_on_verification(uow: UnitOfWork, member: Member, rules: ProgramRules, now: datetime) -> Joining:
    """On the referred member's first verification: record the referral and grant their bonus.

    The caller credits `bonuses` to the member in the same unit of work.
    """
    joining = Joining()
    referrer_id = member.referred_by
    if not referrer_id:
        return joining
    referrer, existing = referrals.referral_reads(referrer_id, member.member_id)
    if existing is not None:
        return joining  # recorded (and its bonus paid) by an earlier verification
    reason = why_not_rewarded(referrer, member)
    if reason:
        count("ReferralsRefused")
        logger.info("referral not counted", extra={"member_id": member.member_id, "referrer_id": referrer_id, "reason": reason})
        return joining
    referral = referrals.add_referral(uow, referrer_id, member.member_id, rules.referee_points, now)
    joining.member_actions += referrals.referral_open_writes(True)
    if rules.referee_points:
        joining.bonuses.append((f"referral:{referral.referral_id}", rules.referee_points))
    count("ReferralsJoined")
    logger.info("referral joined", extra={"member_id": member.member_id, "referrer_id": referrer_id})
    return joining


@dataclass
class Settlement:
    """What the referred member's first purchase does about their referral."""

    member_actions: Writes
    message: Message | None = None
    referrer_id: str | None = None
    points: int = 0


def settle_referral_on_purchase(uow: UnitOfWork, member: Member, rules: ProgramRules, now: datetime, today: date) -> Settlement | None:
    """On the first purchase since the member joined through a referral: settle it once.

    Adds to `uow`: the referral's settlement (conditional on it still being
    `joined`), and when the referrer may be rewarded, their balance
    (version-checked), ledger entry and lot. The caller adds
    `member_actions` (closing the member's open referral) to its own update.
    """
    if not member.referral_open or not member.referred_by:
        return None
    settlement = Settlement(member_actions=referrals.referral_open_writes(False))
    referrer, record = referrals.referral_reads(member.referred_by, member.member_id)
    if record is None or record.status != "joined":
        return settlement
    reason = why_not_rewarded(referrer, member)
    if reason:
        referrals.forfeit(uow, record, reason, now)
        count("ReferralsForfeited")
        logger.info("referral forfeited", extra={"member_id": member.member_id, "referrer_id": member.referred_by, "reason": reason})
        return settlement
    assert referrer is not None
    points = rules.referrer_points
    referrals.reward(uow, record, points, now)
    if points:
        month = month_key(today)
        state = earn(points_state(referrer), points, month, qualifying=False)
        uow.update("referrer", referrer, points_update(state))
        entry = ledger_entry(referrer.member_id, "bonus", points, state.balance, f"referral:{record.referral_id}", now, lot=month)
        uow.put("referrer_ledger", entry)
        open_lot(uow, referrer.member_id, month, lot_expires_on(month, rules.points_validity_months), held=referrer.lots)
        settlement.message = Message(
            channel="sms",
            to=referrer.phone,
            kind="referral_reward",
            body=f"[{rules.program_name}] A friend you invited made their first purchase: {points} points are yours. Thank you!",
            params={"points": str(points)},
        )
    settlement.referrer_id = referrer.member_id
    settlement.points = points
    return settlement


def claw_back_referral_on_refund(uow: UnitOfWork, order: Order, refunded_total: int, rules: ProgramRules, now: datetime) -> dict[str, Any]:
    """When `refunded_total` makes the referred member's first purchase fully refunded and the
    rules say so: take the referrer's bonus back, once. Adds to `uow` the referral's update
    (conditional on it still being `rewarded`), the referrer's balance (version-checked) and its
    `referral_clawback` entry; answers what the refund's answer says about it ({} for nothing)."""
    referrer_id = order.rewarded_referrer
    if not rules.referral_clawback_on_refund or not referrer_id or refunded_total < int(order.amount):
        return {}
    referrer, record = referrals.referral_reads(referrer_id, order.member_id)
    if record is None or record.status != "rewarded":
        return {}  # clawed back already (or never rewarded)
    points = int(record.referrer_points or 0)
    referrals.claw_back(uow, record, now)
    if points and referrer is not None and not referrer.erased:
        settled = record.settled_at or now
        state = claw_back(points_state(referrer), points, month_key(today_in(rules.zone, settled)))
        uow.update("referrer", referrer, points_update(state))
        uow.put("referrer_ledger", ledger_entry(referrer_id, "referral_clawback", -points, state.balance, f"referral:{record.referral_id}", now))
    count("ReferralsClawedBack")
    logger.info("referral bonus clawed back", extra={"member_id": order.member_id, "referrer_id": referrer_id, "points": points})
    return {"referral_points_clawed_back": points}
