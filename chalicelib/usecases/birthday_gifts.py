"""The `birthday-bonus` job, member by member: on the day a member's birthday is celebrated
(28 February for 29 February outside leap years), `birthday_points` once a calendar year, a
birthday coupon if the program has one, and a greeting. Purchases that day earn the birthday
multiplier (domain/earning.py), not this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.calendar import is_celebrated_today
from ..domain.membership import Status
from ..domain.points import earn, month_key
from ..store.members import birthday_awarded, points_state, points_update
from .coupons import gift_coupon
from .member_changes import JobContext, MemberChange, MemberResult, change_member

if TYPE_CHECKING:
    from ..store.models import Member


def give_birthday_gift(member: Member, ctx: JobContext) -> MemberResult:
    """The gift for an active member whose birthday is celebrated on the job's day, once a year."""
    return change_member(member, ctx, lambda current: _gift(current, ctx))


def _gift(member: Member, ctx: JobContext) -> MemberChange:
    change = MemberChange()
    if member.status != Status.ACTIVE:
        return change.skipping(f"status_{member.status}")
    if not is_celebrated_today(member.birthday, ctx.as_of):
        return change.skipping("not_birthday")
    if member.birthday_awarded_year == ctx.as_of.year:
        return change.skipping("already_awarded")
    points = ctx.rules.birthday_points
    month = month_key(ctx.as_of)
    change.actions += birthday_awarded(ctx.as_of.year)
    if points:
        state = earn(points_state(member), points, month, qualifying=False)
        change.actions += points_update(state)
        change.entries.append(("bonus", points, f"birthday:{ctx.as_of.year}", month))
        change.result.points += points
    coupon = gift_coupon(member.member_id, "birthday", ctx.rules.birthday_coupon_reward_id, ctx.rules, ctx.now_local)
    if coupon is not None:
        change.coupons.append(coupon)
    greeting = f"[{ctx.rules.program_name}] Happy birthday, {member.name or 'member'}! " + (
        f"{points} points are yours, and purchases today earn x{ctx.rules.birthday_multiplier}." if points else ""
    )
    if coupon is not None:
        greeting = greeting.strip() + " A birthday coupon is waiting for you in the app."
    change.with_message(member, ctx, kind="birthday_greeting", body=greeting.strip(), consent_required=True, marketing=False)
    change.message_ref = f"birthday:{ctx.as_of.year}"
    return change
