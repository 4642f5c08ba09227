"""What the jobs that act on one member at a time share: the day they run for, what one
member's change is, and writing it with the member in one unit of work, its message sent after.

Every change is idempotent by what it writes with the member (version-checked): a lot already
gone is not expired again, `birthday_awarded_year`, `tier_reviewed_on` and `notices` record what
was done, so a rerun, a redelivered queue message or two workers on one member change nothing
twice. The use cases (points_expiry, birthday_gifts, reengagement, tier_review) decide a change
from the member as read; `change_member` writes it, and decides again from a fresh read when
another writer got there first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..domain.clock import utcnow
from ..domain.points import lot_expires_on
from ..domain.rules import ProgramRules
from ..store.coupons import add_coupon
from ..store.ledger import ledger_entry, open_lot
from ..store.members import get_member
from ..store.unit_of_work import UnitOfWork, run
from .messaging import Decision, add_deferral, decide, deliver_now

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

    from ..store.models import Coupon, Member

# Fewer than a request's retries: the queue redelivers, and a member that keeps
# failing is retried alone, then dead-lettered.
MEMBER_ATTEMPTS = 8


@dataclass(frozen=True)
class JobContext:
    """The day a job runs for, the program-local time it stands for ("now" for quiet hours),
    the program rules, and whether it only counts what it would do (a dry run writes nothing)."""

    as_of: date
    now_local: datetime
    rules: ProgramRules
    dry_run: bool


@dataclass
class MemberResult:
    """What a job did to one member, as the run counts it."""

    affected: bool = False
    points: int = 0
    sent: int = 0
    deferred: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> MemberResult:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        return self


@dataclass
class MemberChange:
    """What a job decided for one member: member writes, ledger entries, lots, coupons, a message."""

    actions: list[Action] = field(default_factory=list)
    # kind, signed points, ref, and for points earned the month of their lot (ledger.open_lot)
    entries: list[tuple[str, int, str, str | None]] = field(default_factory=list)
    coupons: list[Coupon] = field(default_factory=list)  # issued with the change (store/coupons.py)
    message: Decision | None = None
    message_ref: str = ""
    result: MemberResult = field(default_factory=MemberResult)

    def skipping(self, reason: str) -> MemberChange:
        self.result.skip(reason)
        return self

    def with_message(self, member: Member, ctx: JobContext, **message: Any) -> MemberChange:
        """Add the message if the member gets it (consent, frequency cap), with the member writes
        that go with it; else count why not."""
        decision = decide(member, ctx.rules, ctx.now_local, **message)
        if decision.skipped:
            return self.skipping(decision.skipped)
        self.message = decision
        self.actions += decision.actions
        return self

    @property
    def writes(self) -> bool:
        return bool(self.actions or self.entries)


def _read_then_fresh(member: Member) -> Iterator[Member | None]:
    """The member as the job read it, then, for every retry, as it is now (None once gone)."""
    yield member
    while True:
        yield get_member(member.member_id)


def change_member(member: Member, ctx: JobContext, decide_change: Callable[[Member], MemberChange]) -> MemberResult:
    """Decide a change for `member` and write it with the member in one unit of work (nothing in a
    dry run); when another writer got there first, decide again from a fresh read. Its message
    goes out after the commit (or waits for the end of quiet hours)."""
    reads = _read_then_fresh(member)

    def attempt(uow: UnitOfWork) -> MemberChange | None:
        subject = next(reads)
        if subject is None:
            return None
        change = decide_change(subject)
        if change.writes and not ctx.dry_run:
            _write(uow, subject, change, ctx.rules, utcnow())
            uow.commit()
        return change

    change = run(attempt, attempts=MEMBER_ATTEMPTS)
    if change is None:
        return MemberResult().skip("member_gone")
    return _after_commit(change, ctx, member.member_id)


def _write(uow: UnitOfWork, member: Member, change: MemberChange, rules: ProgramRules, now: datetime) -> None:
    balance = int(member.balance)
    lots: dict[str, None] = {}
    for n, (kind, points, ref, lot) in enumerate(change.entries):
        balance += points
        uow.put(f"ledger{n}", ledger_entry(member.member_id, kind, points, balance, ref, now + timedelta(microseconds=n), lot=lot))
        if lot is not None:
            lots[lot] = None
    for month in lots:
        open_lot(uow, member.member_id, month, lot_expires_on(month, rules.points_validity_months), held=member.lots)
    for n, coupon in enumerate(change.coupons):
        add_coupon(uow, coupon, f"coupon{n}")
    actions = list(change.actions)
    planned = change.message.planned if change.message else None
    if planned and planned.deferred:
        actions += add_deferral(uow, member, planned, change.message_ref)
    uow.update("member", member, actions)


def _after_commit(change: MemberChange, ctx: JobContext, member_id: str) -> MemberResult:
    result = change.result
    if not change.writes:
        return result
    result.affected = True
    planned = change.message.planned if change.message else None
    if planned:
        if planned.deferred:
            result.deferred += 1
        elif ctx.dry_run or deliver_now(planned, member_id):
            result.sent += 1
        else:
            result.skip("delivery_failed")
    return result
