"""Closing a membership, restoring it within the grace period, and erasing it after.

Closing is one version-checked write on the member: status `closed`,
`closed_at`, `erase_after` (now + `closure_grace_days`) and the sparse
`members_by_erasure` index key of the day the grace period ends. During the
grace period nothing is erased and the phone stays held (nobody else can sign
up with it), so an operator can restore the membership as it was.

Erasure (the `erase-closed` job, or `erase_due_members`) then removes every
personal datum the table holds about the member, and keeps what accounting
needs, by member id only:
- the member item becomes a tombstone: phone, name, email, birthday, gender,
  address, preferences, tags and every index key go; the balance is forfeited
  with an `adjust` ledger entry so the ledger still sums to it (0);
- the PHONE# partition (guard, code, attempts, send marker) is deleted: the
  phone is free for a new signup;
- pending change codes, feedback texts and messages still waiting for the
  end of quiet hours are deleted; the referral code stops working;
- coupons not yet used are revoked;
- ledger entries, points lots, orders, redemptions, wallet entries, referral
  records and audit entries are kept: they hold member ids, never personal data.
Every step is idempotent and the member is marked `erased` last, in the
transaction that releases the phone, so a failed run is simply done again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.expressions.update import Action

from ..domain.clock import iso, utcnow
from ..domain.errors import AlreadyClosed, InvalidState, NotFound
from ..domain.membership import due_for_erasure, erase_after, erasure_day, restorable
from ..domain.rules import ProgramRules
from ..notify.sender import Message, send_best_effort
from ..observability import count, logger
from ..store import keys
from ..store.ledger import ledger_entry
from ..store.members import as_dict, get_member, member_shard
from ..store.models import BaseItem, CodeAttempts, Coupon, DeferredMessage, Member, PhoneGuard, ReferralCode, SendThrottle, VerificationCode
from ..store.models_wallet import Wallet
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, Retryable, Transaction, error_code, with_retries
from .messaging import DEFERRED_KEPT_FOR
from .scheduled import Change, JobContext

ERASED_PHONE = ""  # the tombstone keeps the attribute (the model requires it), with nothing in it
FORFEIT_REF = "closure:forfeit"
# Member-partition items whose content is the member's own words or contact data: deleted on erasure.
_ERASED_TYPES = ("VerificationCode", "CodeAttempts", "SendThrottle", "Feedback", "FeedbackKey")
# Deferred messages wait at most a day for quiet hours to end, are kept DEFERRED_KEPT_FOR after
# that, and TTL deletion may lag two days more: the hours in which one can still exist.
_DEFERRED_HOURS_BACK = int((DEFERRED_KEPT_FOR + timedelta(days=2)) / timedelta(hours=1))
_DEFERRED_HOURS_AHEAD = 24


def close_membership(member_id: str, *, reason: str, actor: str) -> Member:
    """Close now; erase personal data after `closure_grace_days` (409 already_closed if closed).

    Refused (409 invalid_state) while the member's wallet holds stored value:
    that money is owed to them and must be refunded first.
    """
    rules = load_rules()

    def attempt() -> Member:
        now = utcnow()
        member = get_member(member_id)
        if member is None or member.erased:
            raise NotFound("No member with that member_id")
        tx = Transaction()
        tx.condition_check("wallet", Wallet, keys.member_pk(member_id), keys.WALLET_SK, Wallet.pk.does_not_exist() | (Wallet.balance == 0))
        tx.update("member", member, closing_actions(member, now, rules, reason=reason, actor=actor))
        try:
            tx.commit()
        except Cancelled as exc:
            if "wallet" in exc.failed:
                raise InvalidState("The wallet still holds stored value; it must be refunded before the membership can close") from exc
            raise Retryable("member changed meanwhile") from exc
        return member

    with_retries(attempt)
    count("MembershipsClosed")
    logger.info("membership closed", extra={"member_id": member_id, "by": _actor_kind(actor)})
    closed = get_member(member_id)
    assert closed is not None
    after_closing(closed, rules)
    return closed


def after_closing(member: Member, rules: ProgramRules) -> None:
    """Once a membership is closed, by the member or an operator: nothing held back reaches
    them any more, and they are told when their data goes."""
    delete_deferred_messages(member, utcnow())
    assert member.erase_after is not None
    last_day = erasure_day(member.erase_after, rules.zone).isoformat()
    send_best_effort(
        Message(
            channel="sms",
            to=member.phone,
            kind="membership_closed",
            body=(
                f"[{rules.program_name}] Your membership is closed. Your personal data will be erased on {last_day}; "
                "contact us before then if you want it back."
            ),
        )
    )


def restore_membership(member_id: str, *, reason: str, actor: str) -> Member:
    """Reopen a closed membership within its grace period, as it was (409 invalid_state once
    erased, after the grace period, or if it is not closed). `reason` is for the caller's audit."""

    def attempt() -> Member:
        now = utcnow()
        member = get_member(member_id)
        if member is None:
            raise NotFound("No member with that member_id")
        tx = Transaction()
        # Never race the erasure: its final write must not have happened.
        tx.update("member", member, restoring_actions(member, now), Member.erased.does_not_exist() | (Member.erased == False))  # noqa: E712
        try:
            tx.commit()
        except Cancelled as exc:
            raise Retryable("member changed meanwhile") from exc
        return member

    with_retries(attempt)
    count("MembershipsRestored")
    logger.info("membership restored", extra={"member_id": member_id, "by": _actor_kind(actor)})
    restored = get_member(member_id)
    assert restored is not None
    return restored


def closing_actions(member: Member, now: datetime, rules: ProgramRules, *, reason: str, actor: str) -> list[Action]:
    """The member writes that close it, for a caller with its own transaction (an operator's,
    with its audit entry). 409 already_closed if closed. Write them conditioned on the member's
    version, and check the wallet as `close_membership` does."""
    if member.status == "closed":
        raise AlreadyClosed("The membership is already closed")
    erase_at = erase_after(now, rules.closure_grace_days)
    day = erasure_day(erase_at, rules.zone).isoformat()
    return [
        Member.status.set("closed"),
        Member.status_before_close.set(member.status),
        Member.closed_at.set(now),
        Member.erase_after.set(erase_at),
        Member.erase_bucket.set(keys.erasure_bucket(day, member_shard(member.member_id))),
        Member.closure_reason.set(reason),
        Member.closed_by.set(actor),
        # Every token issued so far ends with the membership, and stays ended if it is restored.
        Member.token_epoch.set(int(member.token_epoch or 0) + 1),
    ]


def restoring_actions(member: Member, now: datetime) -> list[Action]:
    """The member writes that reopen it as it was before closing (409 invalid_state once erased,
    after the grace period, or if it is not closed)."""
    if member.erased:
        raise InvalidState("The membership was erased; it cannot be restored")
    if member.status != "closed":
        raise InvalidState("The membership is not closed")
    if not restorable(member.status, bool(member.erased), member.erase_after, now):
        raise InvalidState("The grace period is over; the membership is being erased")
    return [
        Member.status.set(member.status_before_close or "active"),
        Member.status_before_close.remove(),
        Member.closed_at.remove(),
        Member.erase_after.remove(),
        Member.erase_bucket.remove(),
        Member.closure_reason.remove(),
        Member.closed_by.remove(),
    ]


def erase_due_members(as_of: date, *, dry_run: bool = False) -> dict[str, Any]:
    """Erase every closed member whose grace period has ended by `as_of` (the `erase-closed`
    job's work, done in this invocation): the job's run summary."""
    from ..jobs.runner import JobRequest, start_job  # the jobs package builds on the use cases

    return start_job(JobRequest("erase-closed", as_of, dry_run), inline=True)


# --- the erasure ------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    outcome: str  # erased | not_due | not_closed | already_erased | member_gone
    points_forfeited: int = 0
    coupons_revoked: int = 0


def erase_member(member_id: str, due_by: datetime, *, dry_run: bool = False) -> Erasure:
    """Erase one closed member whose grace period ended by `due_by` (the job's time on its date;
    what is written is dated by the real clock). See the module docstring."""

    def attempt() -> Erasure:
        now = utcnow()
        member = get_member(member_id)
        if member is None:
            return Erasure("member_gone")
        if member.erased:
            return Erasure("already_erased")
        if member.status != "closed":
            return Erasure("not_closed")
        if not due_for_erasure(member.status, bool(member.erased), member.erase_after, due_by):
            return Erasure("not_due")
        balance = int(member.balance)
        if dry_run:
            return Erasure("erased", abs(balance))
        revoked = _erase_around(member)
        tx = Transaction()
        # Releases the phone: a new signup with it makes a new member.
        tx.delete("guard", PhoneGuard(keys.phone_pk(member.phone), keys.GUARD), PhoneGuard.pk.does_not_exist() | (PhoneGuard.member_id == member_id))
        tx.delete(
            "refcode",
            ReferralCode(keys.refcode_pk(member.referral_code), keys.REFCODE_SK),
            ReferralCode.pk.does_not_exist() | (ReferralCode.member_id == member_id),
        )
        actions = _tombstone(member, now)
        if balance:
            tx.put("ledger", ledger_entry(member_id, "adjust", -balance, 0, FORFEIT_REF, now))
        tx.update("member", member, actions)
        try:
            tx.commit()
        except Cancelled as exc:
            raise Retryable("member changed meanwhile") from exc
        return Erasure("erased", abs(balance), revoked)

    result = with_retries(attempt)
    if result.outcome == "erased" and not dry_run:
        count("MembershipsErased")
        logger.info("membership erased", extra={"member_id": member_id, "coupons_revoked": result.coupons_revoked})
    return result


def _tombstone(member: Member, now: datetime) -> list[Action]:
    """The member item after erasure: ids, dates, tier and points history only."""
    personal = (
        Member.phone_key,
        Member.name,
        Member.email,
        Member.birthday,
        Member.gender,
        Member.address,
        Member.preferences,
        Member.tags,
        Member.pending_email,
        Member.closure_reason,
        Member.birthday_bucket,
        Member.anniversary_bucket,
        Member.activity_bucket,
        Member.erase_bucket,
    )
    return [
        Member.phone.set(ERASED_PHONE),
        *(attribute.remove() for attribute in personal),
        Member.consents.set({"sms_marketing": False, "email_marketing": False, "push": False}),
        Member.code_channel.set("sms"),
        Member.notices.set({}),
        Member.marketing_sent.set([]),
        Member.balance.set(0),
        Member.lots.set({}),
        Member.erased.set(True),
        Member.erased_at.set(now),
    ]


def _erase_around(member: Member) -> int:
    """Everything outside the member item: idempotent, done again if the final write fails."""
    revoked = 0
    for item in BaseItem.query(keys.member_pk(member.member_id), consistent_read=True):
        kind = type(item).__name__
        if isinstance(item, Coupon) and item.status == "issued":
            try:
                item.update(actions=[Coupon.status.set("revoked")], condition=Coupon.status == "issued")
                revoked += 1
            except UpdateError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise  # used at the till meanwhile: it stays used
        elif kind in _ERASED_TYPES:
            if isinstance(item, VerificationCode) and item.target and item.target.startswith("+"):
                # a pending phone change: the send marker under the phone it named
                SendThrottle(keys.phone_pk(item.target), keys.SENT).delete()
            if kind == "Feedback":
                _delete_feedback_queue_entries(getattr(item, "feedback_id", ""))
            item.delete()
    if member.phone:
        for item in BaseItem.query(keys.phone_pk(member.phone), consistent_read=True):
            if isinstance(item, (VerificationCode, CodeAttempts, SendThrottle)):
                item.delete()
    delete_deferred_messages(member, utcnow())  # where they are is set by the real clock
    return revoked


def _delete_feedback_queue_entries(feedback_id: str) -> None:
    if not feedback_id:
        return
    for status in ("open", "answered"):
        BaseItem(keys.feedback_queue_pk(status), feedback_id).delete()


def _deferred_buckets(member_id: str, now: datetime) -> Iterator[str]:
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    shard = member_shard(member_id)
    for offset in range(-_DEFERRED_HOURS_BACK, _DEFERRED_HOURS_AHEAD + 1):
        yield keys.send_bucket((hour + timedelta(hours=offset)).strftime("%Y-%m-%dT%H"), shard)


def delete_deferred_messages(member: Member, now: datetime) -> None:
    """Messages held back by quiet hours must not reach a closed member (and hold their phone).
    The member notes where they wait; a member from before that note is searched hour by hour."""
    if member.deferred is not None:
        waiting = [DeferredMessage(str(bucket), sk) for sk, bucket in as_dict(member.deferred).items()]
    else:
        prefix = keys.deferred_prefix(member.member_id)
        waiting = [
            m for bucket in _deferred_buckets(member.member_id, now) for m in DeferredMessage.query(bucket, DeferredMessage.sk.startswith(prefix))
        ]
    for item in waiting:
        try:
            item.delete(condition=DeferredMessage.pk.exists())
        except DeleteError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise  # else: sent (and deleted) by the dispatcher meanwhile


def _actor_kind(actor: str) -> str:
    return "member" if actor == "member" else "operator"


# --- the erase-closed job ---------------------------------------------------------------


def erase_closed_member(member: Member, ctx: JobContext, _: dict[str, Any]) -> Change:
    """The job's action for one member found in an erasure bucket: erase it if its grace
    period ended by the job's time (members closed later that day are erased the next day)."""
    change = Change()
    result = erase_member(member.member_id, ctx.now_local, dry_run=ctx.dry_run)
    if result.outcome != "erased":
        return change.skipping(result.outcome)
    change.result.affected = True
    change.result.points = result.points_forfeited
    return change


def close_my_membership(member_id: str, reason: str) -> dict[str, Any]:
    """DELETE /v1/me: the member closes their own membership; the answer says when the data goes."""
    return closure_summary(close_membership(member_id, reason=reason, actor="member"), load_rules())


def closure_summary(member: Member, rules: ProgramRules) -> dict[str, Any]:
    """DELETE /v1/me's answer: when the data goes, until when it can be restored."""
    assert member.closed_at is not None and member.erase_after is not None
    return {
        "member_id": member.member_id,
        "status": member.status,
        "closed_at": iso(member.closed_at),
        "erase_after": iso(member.erase_after),
        "erasure_date": erasure_day(member.erase_after, rules.zone).isoformat(),
    }
