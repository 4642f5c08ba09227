"""What a member's first verification grants, written in the verification's transaction:
the welcome points, the referral bonus (referrals.py) and the welcome coupon.

The verification that activates a member is conditioned on the member's
version and `pending` status, so all of this happens once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from ..domain.points import earn, lot_expires_on, month_key
from ..domain.rules import ProgramRules
from ..store.coupons import add_coupon
from ..store.ledger import ledger_entry, open_lot
from ..store.members import apply_points, points_state, points_update
from ..store.models import Member
from ..store.unit_of_work import UnitOfWork
from .coupons import gift_coupon
from .referrals import add_referral_on_verification

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action


def add_joining_benefits(tx: UnitOfWork, member: Member, rules: ProgramRules, now: datetime, today: date) -> list[Action]:
    """Add the joining benefits to `tx`; returns the member writes the caller puts in its own update.

    One `bonus` ledger entry per benefit (`welcome`, `referral:<id>`), each
    with its exact `balance_after`, and one lot for their sum (a transaction
    touches an item once).
    """
    bonuses = [("welcome", rules.welcome_points)] if rules.welcome_points else []
    referral = add_referral_on_verification(tx, member, rules, now)
    bonuses += referral.bonuses
    actions: list[Action] = list(referral.member_actions)
    if bonuses:
        month = month_key(today)
        state = points_state(member)
        for n, (ref, points) in enumerate(bonuses):
            state = earn(state, points, month, qualifying=False)
            # A millisecond apart so the ledger (newest first) lists them in a stable order.
            entry = ledger_entry(member.member_id, "bonus", points, state.balance, ref, now + timedelta(milliseconds=n), lot=month)
            tx.put("ledger" if n == 0 else f"ledger{n}", entry)
        actions += points_update(state)
        open_lot(tx, member.member_id, month, lot_expires_on(month, rules.points_validity_months), held=member.lots)
        apply_points(member, state)
    coupon = gift_coupon(member.member_id, "welcome", rules.welcome_coupon_reward_id, rules, now)
    if coupon is not None:
        add_coupon(tx, coupon)
    return actions
