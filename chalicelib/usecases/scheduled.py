"""What each scheduled job does to one member, as one transaction.

Every action is idempotent by what it writes with the member (version-checked):
a lot already gone is not expired again, `birthday_awarded_year`,
`tier_reviewed_on` and `notices` record what was done, so a rerun, a
redelivered queue message or two workers on one member change nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from pynamodb.expressions.update import Action

from ..domain.calendar import is_celebrated_today
from ..domain.lifecycle import joined_on, lifecycle_stage
from ..domain.points import PointsState, earn, lot_expires_on, month_key, qualifying_points
from ..domain.rules import ProgramRules
from ..domain.tiers import reviewed_tier
from ..store.coupons import add_coupon, gift_coupon
from ..store.ledger import add_lot_points, ledger_entry
from ..store.members import as_dict, get_member, points_state, points_update
from ..store.models import Coupon, Member
from ..store.unit_of_work import Cancelled, Retryable, Transaction, with_retries
from .messaging import Decision, add_deferral, decide, deliver_now


@dataclass(frozen=True)
class JobContext:
    job: str
    as_of: date
    now_local: datetime
    rules: ProgramRules
    dry_run: bool


@dataclass
class MemberResult:
    affected: bool = False
    points: int = 0
    sent: int = 0
    deferred: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> MemberResult:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        return self


@dataclass
class Change:
    """What one action decided for one member: writes, ledger entries, a message."""

    actions: list[Action] = field(default_factory=list)
    entries: list[tuple[str, int, str]] = field(default_factory=list)  # kind, signed points, ref
    lots: list[tuple[str, int]] = field(default_factory=list)  # month, points earned
    state: PointsState | None = None
    message: Decision | None = None
    message_ref: str = ""
    result: MemberResult = field(default_factory=MemberResult)
    coupons: list[Coupon] = field(default_factory=list)  # issued with the change (store/coupons.py)

    def skipping(self, reason: str) -> Change:
        self.result.skip(reason)
        return self


def _commit(member: Member, change: Change, ctx: JobContext, now: datetime) -> MemberResult:
    """Write the change with the member (version-checked), then send its message."""
    result = change.result
    if not change.actions and not change.entries:
        return result
    planned = change.message.planned if change.message else None
    if not ctx.dry_run:
        tx = Transaction()
        balance = int(member.balance)
        for n, (kind, points, ref) in enumerate(change.entries):
            balance += points
            tx.put(f"ledger{n}", ledger_entry(member.member_id, kind, points, balance, ref, now + timedelta(microseconds=n)))
        for month, points in change.lots:
            add_lot_points(tx, member.member_id, month, points, lot_expires_on(month, ctx.rules.points_validity_months))
        for n, coupon in enumerate(change.coupons):
            add_coupon(tx, coupon, f"coupon{n}")
        actions = list(change.actions)
        if planned and planned.deferred:
            actions += add_deferral(tx, member, planned, change.message_ref)
        tx.update("member", member, actions)
        try:
            tx.commit()
        except Cancelled as exc:
            raise Retryable("member changed meanwhile") from exc
    result.affected = True
    if planned:
        if planned.deferred:
            result.deferred += 1
        elif ctx.dry_run or deliver_now(planned):
            result.sent += 1
        else:
            result.skip("delivery_failed")
    return result


def _with_message(change: Change, member: Member, ctx: JobContext, **message: Any) -> None:
    decision = decide(member, ctx.rules, ctx.now_local, **message)
    if decision.skipped:
        change.result.skip(decision.skipped)
        return
    change.message = decision
    change.actions += decision.actions


def _notices(member: Member, ctx: JobContext, key: str) -> list[Action]:
    """Record a notice as sent (keeping a year of them: the map stays small)."""
    keep_from = (ctx.as_of - timedelta(days=400)).isoformat()
    notices = {k: v for k, v in as_dict(member.notices).items() if v >= keep_from}
    notices[key] = ctx.as_of.isoformat()
    return [Member.notices.set(notices)]


# --- expire-points -------------------------------------------------------------------


def expire_lots(member: Member, ctx: JobContext, _: dict[str, Any]) -> Change:
    """Expire what is left of every lot whose date has come, oldest first."""
    change = Change()
    state = points_state(member)
    due = [(m, p) for m, p in state.lots_oldest_first() if lot_expires_on(m, ctx.rules.points_validity_months) <= ctx.as_of]
    if not due:
        return change.skipping("nothing_due")
    lots = dict(state.lots)
    for month, points in due:
        del lots[month]
        change.entries.append(("expire", -points, f"lot:{month}"))
        change.result.points += points
    new_state = replace(state, balance=state.balance - sum(p for _, p in due), lots=lots)
    change.actions = points_update(new_state)
    return change


def remind_expiry(member: Member, ctx: JobContext, unit: dict[str, Any]) -> Change:
    """One reminder per lot, `days` before it expires, while points are left in it."""
    change = Change()
    days = int(unit["days"])
    expires_on = ctx.as_of + timedelta(days=days)
    months = [m for m, p in points_state(member).lots_oldest_first() if lot_expires_on(m, ctx.rules.points_validity_months) == expires_on]
    if not months:
        return change.skipping("nothing_left_to_expire")
    key = f"expiry:{months[0]}:{days}"
    if key in as_dict(member.notices):
        return change.skipping("already_reminded")
    points = sum(int(as_dict(member.lots)[m]) for m in months)
    body = f"[{ctx.rules.program_name}] {points} of your points expire on {expires_on.isoformat()}. Use them before then!"
    _with_message(change, member, ctx, kind="expiry_reminder", body=body, consent_required=True, marketing=False)
    if change.message:
        change.message_ref = key
        change.actions += _notices(member, ctx, key)
    return change


# --- birthday-bonus ------------------------------------------------------------------


def birthday_gift(member: Member, ctx: JobContext, _: dict[str, Any]) -> Change:
    change = Change()
    if member.status != "active":
        return change.skipping(f"status_{member.status}")
    if not is_celebrated_today(member.birthday, ctx.as_of):
        return change.skipping("not_birthday")
    if member.birthday_awarded_year == ctx.as_of.year:
        return change.skipping("already_awarded")
    points = ctx.rules.birthday_points
    month = month_key(ctx.as_of)
    change.actions.append(Member.birthday_awarded_year.set(ctx.as_of.year))
    if points:
        state = earn(points_state(member), points, month, qualifying=False)
        change.actions += points_update(state)
        change.entries.append(("bonus", points, f"birthday:{ctx.as_of.year}"))
        change.lots.append((month, points))
        change.result.points += points
    coupon = gift_coupon(member.member_id, "birthday", ctx.rules.birthday_coupon_reward_id, ctx.rules, ctx.now_local)
    if coupon is not None:
        change.coupons.append(coupon)
    greeting = f"[{ctx.rules.program_name}] Happy birthday, {member.name or 'member'}! " + (
        f"{points} points are yours, and purchases today earn x{ctx.rules.birthday_multiplier}." if points else ""
    )
    if coupon is not None:
        greeting = greeting.strip() + " A birthday coupon is waiting for you in the app."
    _with_message(change, member, ctx, kind="birthday_greeting", body=greeting.strip(), consent_required=True, marketing=False)
    change.message_ref = f"birthday:{ctx.as_of.year}"
    return change


# --- reengagement --------------------------------------------------------------------


def reengage(member: Member, ctx: JobContext, unit: dict[str, Any]) -> Change:
    change = Change()
    window = int(unit["window"])
    last = ctx.as_of - timedelta(days=window)
    if member.status != "active":
        return change.skipping(f"status_{member.status}")
    if member.last_activity_on != last.isoformat():
        return change.skipping("active_since")
    stage = lifecycle_stage(ctx.rules, joined_on(member.created_at, ctx.rules.zone), last, bool(member.has_purchased), ctx.as_of)
    if stage != member.lifecycle:
        change.actions.append(Member.lifecycle.set(stage))
    key = f"reengage:{window}:{last.isoformat()}"
    if key in as_dict(member.notices):
        change.result.skip("already_sent")
        return change
    body = f"[{ctx.rules.program_name}] We miss you! Your {int(member.balance)} points are waiting for you."
    _with_message(change, member, ctx, kind="reengagement", body=body, consent_required=True, marketing=True)
    if change.message:
        change.message_ref = key
        change.actions += _notices(member, ctx, key)
    return change


# --- tier-review ---------------------------------------------------------------------


def review_tier(member: Member, ctx: JobContext, _: dict[str, Any]) -> Change:
    change = Change()
    joined = joined_on(member.created_at, ctx.rules.zone)
    if member.status not in ("active", "frozen"):
        return change.skipping(f"status_{member.status}")
    if joined.year >= ctx.as_of.year or not is_celebrated_today(joined, ctx.as_of):
        return change.skipping("not_anniversary")
    if member.tier_reviewed_on == ctx.as_of.isoformat():
        return change.skipping("already_reviewed")
    earned = qualifying_points(points_state(member), ctx.as_of, ctx.rules.tier_window_months)
    # Never below an operator's tier override (a floor).
    tier = ctx.rules.effective_tier(reviewed_tier(ctx.rules, member.tier, earned), member.tier_override)
    change.actions.append(Member.tier_reviewed_on.set(ctx.as_of.isoformat()))
    if tier != member.tier:
        change.actions.append(Member.tier.set(tier))
        name = ctx.rules.tier(tier).name
        body = f"[{ctx.rules.program_name}] Your yearly review is done: your tier is now {name}."
        _with_message(change, member, ctx, kind="tier_changed", body=body, consent_required=False, marketing=False)
        change.message_ref = f"tier-review:{ctx.as_of.isoformat()}"
    else:
        change.result.skip("tier_unchanged")
    return change


Action_ = Callable[[Member, JobContext, dict[str, Any]], Change]

# Fewer than a request's retries: the queue redelivers, and a member that keeps
# failing is retried alone, then dead-lettered.
MEMBER_ATTEMPTS = 8


def act_on_member(member: Member, ctx: JobContext, unit: dict[str, Any], action: Action_, now: datetime) -> MemberResult:
    """Run `action` for `member`, re-reading it if another writer got there first."""
    current: list[Member | None] = [member]

    def attempt() -> MemberResult:
        subject = current[0]
        if subject is None:
            return MemberResult().skip("member_gone")
        change = action(subject, ctx, unit)
        try:
            return _commit(subject, change, ctx, now)
        except Retryable:
            current[0] = get_member(subject.member_id)
            raise

    return with_retries(attempt, attempts=MEMBER_ATTEMPTS)
