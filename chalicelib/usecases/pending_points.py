"""Pending points (issue 14): a purchase's points held for a return window, cancelled by a refund
inside it, made available by the `release-pending-points` job when it closes.

What is held and when it is released is the domain's (domain/pending.py); this writes it with the
member, in the unit of work that changes the member's balance, with a ledger entry each time:

| ledger kind         | points | pending | when                                             |
|---------------------|--------|---------|--------------------------------------------------|
| `earn_pending`      | 0      | +n      | a purchase whose points are held                 |
| `pending_cancelled` | 0      | -n      | a refund while they are held                     |
| `points_available`  | +n     | -n      | the job, on the release day (ref `release:<day>`) |
| `pending_forfeited` | 0      | -n      | the membership is erased while points are held   |

So `sum(points) == balance` stays the reconciliation invariant, and `sum(pending) ==
pending_points` is its twin (domain/reconciliation.py checks both).

Exactly once: every write is conditioned on the member's version (and a refund on its refund
record), and a release removes the days it releases from the member, so a rerun, a redelivered
queue message, or a refund racing the job finds them gone: the points end up either cancelled or
available (and then reversed from the balance), never both.

Statuses: a frozen member's points are released on schedule (they were earned before the hold;
the freeze still stops spending them). A closed member's are released too, into the balance kept
through the grace period (a restore gets them back; the erasure forfeits the balance). An erased
member's pending points are forfeited with the erasure (`forfeit_on_erasure`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ..domain.clock import utcnow
from ..domain.pending import PendingState, cancel, forfeit_all, hold, release_day, release_due
from ..domain.points import lot_expires_on, month_key, prune_earned_months
from ..domain.rules import ProgramRules
from ..domain.stamps import due_stamps
from ..domain.tiers import upgraded_tier
from ..observability import logger
from ..store.coupons import add_coupon
from ..store.ledger import ledger_entry, open_lot
from ..store.members import (
    get_member,
    pending_stamps,
    pending_stamps_update,
    points_state,
    points_update,
    stamp_counts,
    stamp_counts_update,
    tier_update,
)
from ..store.pending import apply_pending, pending_state, pending_update
from ..store.unit_of_work import UnitOfWork, run
from .member_changes import MEMBER_ATTEMPTS, JobContext, MemberResult
from .stamp_cards import stamp_with_coupons

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

    from ..store.models import Member, Order


# --- the purchase: where its points go -----------------------------------------------------


@dataclass(frozen=True)
class Held:
    """A purchase's points held until `release_on`: the member's pending state after the hold."""

    release_on: date
    points: int
    state: PendingState

    @property
    def month(self) -> str:
        """The month the points will be earned in (the order's `earn_month`: refunds after the release reverse from it)."""
        return month_key(self.release_on)


def hold_for(member: Member, rules: ProgramRules, channel: str | None, today: date, points: int) -> Held | None:
    """Whether the rules hold this purchase's points (None: they are available at once)."""
    if points <= 0:
        return None
    state = pending_state(member)
    day = release_day(rules, channel, today, state)
    return Held(day, points, hold(state, day, points)) if day is not None else None


def order_fields(held: Held | None, month: str) -> dict[str, Any]:
    """The order's fields that say where its points went."""
    return {"earn_month": held.month if held else month, "release_on": held.release_on.isoformat() if held else None}


def answer_fields(held: Held | None) -> dict[str, Any]:
    """What the purchase answer says about held points (nothing when they are available at once:
    the answer is as it always was)."""
    return {"points_pending": held.points, "available_on": held.release_on.isoformat()} if held else {}


def member_writes(member: Member, held: Held | None) -> list[Action]:
    """The member's writes for the hold (none when the points were not held)."""
    return pending_update(member.member_id, held.state) if held else []


def apply_to_new_member(member: Member, held: Held | None) -> None:
    if held:
        apply_pending(member, held.state)


def add_held_entry(uow: UnitOfWork, member_id: str, held: Held, balance: int, order_id: str, now: datetime) -> None:
    """The ledger entry of the hold: no change to the balance, +points pending."""
    uow.put("ledger", ledger_entry(member_id, "earn_pending", 0, balance, order_id, now, pending=held.points))


# --- the refund: pending points first ------------------------------------------------------


@dataclass
class PendingCancel:
    """What a refund cancels of the order's pending points (0: they were released, or never held)."""

    points: int = 0
    member_actions: list[Action] = field(default_factory=list)

    def add_entry(self, uow: UnitOfWork, member_id: str, balance: int, order_id: str, now: datetime) -> None:
        if self.points:
            uow.put("pending_ledger", ledger_entry(member_id, "pending_cancelled", 0, balance, order_id, now, pending=-self.points))


def cancel_for_refund(member: Member, order: Order, reverse: int) -> PendingCancel:
    """Cancel up to `reverse` of the order's points while they are still pending; the rest (if
    any) the refund reverses from the balance, as for any purchase."""
    if not order.release_on or reverse <= 0:
        return PendingCancel()
    state, cancelled = cancel(pending_state(member), order.release_on, reverse)
    if not cancelled:
        return PendingCancel()
    return PendingCancel(cancelled, pending_update(member.member_id, state))


# --- the erasure -----------------------------------------------------------------------------


def forfeit_on_erasure(uow: UnitOfWork, member: Member, now: datetime) -> list[Action]:
    """An erased member's pending points are dropped, on the ledger (part `pending_ledger`): the
    member writes to add to the erasure's own."""
    state = pending_state(member)
    if not state.total and not state.by_day:
        return []
    uow.put("pending_ledger", ledger_entry(member.member_id, "pending_forfeited", 0, 0, "closure:forfeit", now, pending=-state.total))
    return pending_update(member.member_id, forfeit_all(state))


# --- the job: release-pending-points ---------------------------------------------------------


def _read_then_fresh(member: Member) -> Iterator[Member | None]:
    yield member
    while True:
        yield get_member(member.member_id)


def release_held_stamps(uow: UnitOfWork, member: Member, rules: ProgramRules, as_of: date, now: datetime) -> list[Action]:
    """The stamps held with the points released now join the member's cards (issuing the reward
    coupons they complete, in this unit of work): the member writes to add to the release's."""
    due, left = due_stamps(pending_stamps(member), as_of.isoformat())
    if not due:
        return []
    counts, coupons, _ = stamp_with_coupons(rules, stamp_counts(member), due, member, now) if rules.stamp_cards else (stamp_counts(member), [], [])
    for n, coupon in enumerate(coupons):
        add_coupon(uow, coupon, f"stamp_coupon{n}")
    return stamp_counts_update(member, counts) + pending_stamps_update(member, left)


def release_pending_points(member: Member, ctx: JobContext) -> MemberResult:
    """Make available every pending day due by the job's date: one `points_available` entry per
    day, a lot in the release day's month, the tier upgraded if they reach the next one."""
    reads = _read_then_fresh(member)

    def attempt(uow: UnitOfWork) -> MemberResult:
        subject = next(reads)
        if subject is None:
            return MemberResult().skip("member_gone")
        if subject.erased:
            return MemberResult().skip("erased")
        rules = ctx.rules
        release = release_due(pending_state(subject), points_state(subject), ctx.as_of)
        if not release.released:
            return MemberResult().skip("nothing_due")
        state = prune_earned_months(release.points, ctx.as_of, rules.tier_window_months)
        current_tier = rules.effective_tier(subject.tier, subject.tier_override)
        tier = upgraded_tier(rules, current_tier, state, ctx.as_of)
        result = MemberResult(affected=True, points=release.total)
        if ctx.dry_run:
            return result
        now = utcnow()
        balance = int(subject.balance)
        months: dict[str, None] = {}  # the lots the released points go into, in order
        for n, (day, points) in enumerate(release.released):
            balance += points
            month = month_key(date.fromisoformat(day))
            entry = ledger_entry(subject.member_id, "points_available", points, balance, f"release:{day}", now, pending=-points, lot=month)
            uow.put(f"ledger{n}", entry)
            months[month] = None
        for month in months:
            open_lot(uow, subject.member_id, month, lot_expires_on(month, rules.points_validity_months), held=subject.lots, part=f"lot:{month}")
        actions = points_update(state) + pending_update(subject.member_id, release.pending)
        if tier != subject.tier:
            actions += tier_update(tier)
        actions += release_held_stamps(uow, subject, rules, ctx.as_of, now)
        uow.update("member", subject, actions)
        uow.commit()
        if tier != subject.tier:
            logger.info("tier upgraded", extra={"member_id": subject.member_id, "tier": tier})
        return result

    return run(attempt, attempts=MEMBER_ATTEMPTS)
