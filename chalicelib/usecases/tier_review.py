"""The `tier-review` job, member by member: on the membership anniversary, the tier the points
earned in the qualifying window hold (down one level at most, never below an operator's
override or the tier of a paid plan still running: domain/tiers.py, domain/plans.py), once a
day; the member is told when it changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.calendar import is_celebrated_today
from ..domain.lifecycle import joined_on
from ..domain.membership import MAY_BE_REVIEWED
from ..domain.plans import PlanHolding
from ..domain.points import qualifying_points
from ..domain.tiers import reviewed_tier
from ..store.members import as_dict, points_state, tier_reviewed
from .member_changes import JobContext, MemberChange, MemberResult, change_member

if TYPE_CHECKING:
    from ..store.models import Member


def review_tier(member: Member, ctx: JobContext) -> MemberResult:
    """The yearly review of an active or frozen member whose anniversary is the job's day."""
    return change_member(member, ctx, lambda current: _review(current, ctx))


def _review(member: Member, ctx: JobContext) -> MemberChange:
    change = MemberChange()
    joined = joined_on(member.created_at, ctx.rules.zone)
    if member.status not in MAY_BE_REVIEWED:
        return change.skipping(f"status_{member.status}")
    if joined.year >= ctx.as_of.year or not is_celebrated_today(joined, ctx.as_of):
        return change.skipping("not_anniversary")
    if member.tier_reviewed_on == ctx.as_of.isoformat():
        return change.skipping("already_reviewed")
    earned = qualifying_points(points_state(member), ctx.as_of, ctx.rules.tier_window_months)
    # Never below an operator's tier override, nor a running paid plan's tier (floors).
    plan = PlanHolding.from_map(as_dict(member.plan))
    plan_tier = plan.tier if plan is not None and plan.runs_on(ctx.as_of) else None
    tier = ctx.rules.effective_tier(reviewed_tier(ctx.rules, member.tier, earned), member.tier_override, plan_tier)
    if tier == member.tier:
        change.actions += tier_reviewed(ctx.as_of)
        return change.skipping("tier_unchanged")
    change.actions += tier_reviewed(ctx.as_of, tier)
    body = f"[{ctx.rules.program_name}] Your yearly review is done: your tier is now {ctx.rules.tier(tier).name}."
    change.with_message(member, ctx, kind="tier_changed", body=body, consent_required=False, marketing=False)
    change.message_ref = f"tier-review:{ctx.as_of.isoformat()}"
    return change
