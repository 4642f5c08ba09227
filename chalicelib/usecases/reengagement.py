"""The `reengagement` job, member by member: a message to members idle exactly 30, 60 or 90 days
(`reengagement_windows`), once per window and day of last activity; the member's lifecycle
stage follows how long they have been idle (domain/lifecycle.py). Marketing: consent and the
frequency cap apply (domain/messaging.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from ..domain.lifecycle import joined_on, lifecycle_stage
from ..domain.membership import Status
from ..domain.notices import reengagement_key, with_notice
from ..store.members import as_dict, lifecycle_update, notices_update
from .member_changes import JobContext, MemberChange, MemberResult, change_member

if TYPE_CHECKING:
    from ..store.models import Member


def reengage_idle_member(member: Member, ctx: JobContext, window: int) -> MemberResult:
    """The message to an active member last active `window` days before the job's day."""
    return change_member(member, ctx, lambda current: _reengagement(current, ctx, window))


def _reengagement(member: Member, ctx: JobContext, window: int) -> MemberChange:
    change = MemberChange()
    last = ctx.as_of - timedelta(days=window)
    if member.status != Status.ACTIVE:
        return change.skipping(f"status_{member.status}")
    if member.last_activity_on != last.isoformat():
        return change.skipping("active_since")
    stage = lifecycle_stage(ctx.rules, joined_on(member.created_at, ctx.rules.zone), last, bool(member.has_purchased), ctx.as_of)
    if stage != member.lifecycle:
        change.actions += lifecycle_update(stage)
    key = reengagement_key(window, last)
    notices = as_dict(member.notices)
    if key in notices:
        return change.skipping("already_sent")
    body = f"[{ctx.rules.program_name}] We miss you! Your {int(member.balance)} points are waiting for you."
    change.with_message(member, ctx, kind="reengagement", body=body, consent_required=True, marketing=True)
    if change.message:
        change.message_ref = key
        change.actions += notices_update(with_notice(notices, key, ctx.as_of))
    return change
