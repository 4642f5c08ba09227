"""The `expire-points` job, member by member: expire the lots whose date has come, and remind
members (30 and 7 days before, `expiry_reminder_days`) of points about to expire.

What is due and what a reminder is about is the domain's (domain/expiry.py); this writes it
with the member (usecases/member_changes.py): one `expire` ledger entry per lot, ref `lot:<month>`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.expiry import expire_due, reminder_due
from ..domain.notices import with_notice
from ..store.members import as_dict, notices_update, points_state, points_update
from .member_changes import JobContext, MemberChange, MemberResult, change_member

if TYPE_CHECKING:
    from ..store.models import Member


def expire_due_lots(member: Member, ctx: JobContext) -> MemberResult:
    """Expire what is left of every lot whose date has come by the job's day, oldest first."""
    return change_member(member, ctx, lambda current: _expiry(current, ctx))


def _expiry(member: Member, ctx: JobContext) -> MemberChange:
    change = MemberChange()
    expiry = expire_due(points_state(member), ctx.as_of, ctx.rules.points_validity_months)
    if not expiry.expired:
        return change.skipping("nothing_due")
    change.entries += [("expire", -points, f"lot:{month}", None) for month, points in expiry.expired]
    change.result.points += expiry.points
    change.actions += points_update(expiry.state)
    return change


def remind_expiring_points(member: Member, ctx: JobContext, days: int) -> MemberResult:
    """One reminder per lot, `days` before it expires, while points are left in it."""
    return change_member(member, ctx, lambda current: _reminder(current, ctx, days))


def _reminder(member: Member, ctx: JobContext, days: int) -> MemberChange:
    change = MemberChange()
    reminder = reminder_due(points_state(member), ctx.as_of, days, ctx.rules.points_validity_months)
    if reminder is None:
        return change.skipping("nothing_left_to_expire")
    notices = as_dict(member.notices)
    if reminder.notice in notices:
        return change.skipping("already_reminded")
    body = f"[{ctx.rules.program_name}] {reminder.points} of your points expire on {reminder.expires_on.isoformat()}. Use them before then!"
    change.with_message(member, ctx, kind="expiry_reminder", body=body, consent_required=True, marketing=False)
    if change.message:
        change.message_ref = reminder.notice
        change.actions += notices_update(with_notice(notices, reminder.notice, ctx.as_of))
    return change
