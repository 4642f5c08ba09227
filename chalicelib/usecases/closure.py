"""Closing a membership, restoring it within the grace period, and erasing it after.

Closing is one version-checked write on the member: status `closed`,
`closed_at`, `erase_after` (now + `closure_grace_days`) and the sparse
`members_by_erasure` index key of the day the grace period ends. During the
grace period nothing is erased and the phone stays held (nobody else can sign
up with it), so an operator can restore the membership as it was.

A paid plan the member holds ends in the same transaction (usecases/plans.plan_ending_on_closure,
docs/plans.md): `plan_ended` on the ledger, the tier back to what it is without the plan, and,
within the latest purchase's refund window, a till-paid fee noted as owed by the store
(`refund_due`); a wallet-paid one still refundable must be refunded to the wallet first (409
invalid_state), as the wallet must be empty. A restored membership does not get the plan back.

Erasure (`erase_member`, which the `erase-closed` job calls for each member
whose grace period has ended) then removes every personal datum the table
holds about the member (store/closure.py), and keeps what accounting needs, by
member id only:
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

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..domain.clock import iso, utcnow
from ..domain.errors import InvalidState, NotFound
from ..domain.membership import closing, due_for_erasure, erase_after, erasure_day, is_closed, restored
from ..domain.rules import ProgramRules
from ..notify.sender import Message, send_best_effort
from ..observability import count, logger
from ..store.closure import (
    closing_writes,
    erase_personal_items,
    not_erased,
    release_phone_and_referral_code,
    restoring_writes,
    tombstone,
)
from ..store.deferred_messages import delete_waiting_for
from ..store.ledger import ledger_entry
from ..store.members import get_member
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from ..store.wallet import wallet_empty_check
from .devices import delete_endpoints, forget_all_actions, forget_all_devices
from .pending_points import forfeit_on_erasure
from .plans import PlanEnding, plan_ending_on_closure
from .sessions import MemberSession
from .wechat_bindings import release_bindings

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

    from ..store.models import Member

FORFEIT_REF = "closure:forfeit"


def close_membership(member_id: str, *, reason: str, actor: str, session: MemberSession | None = None) -> Member:
    """Close now; erase personal data after `closure_grace_days` (409 already_closed if closed).

    Refused (409 invalid_state) while the member's wallet holds stored value:
    that money is owed to them and must be refunded first. The member closing their own
    membership (`session`) is admitted on the member read first (401 for a signed-out token or a
    membership closed already).
    """
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> list[str]:
        member = get_member(member_id) if session is None else session.admit(get_member(member_id))
        if member is None or member.erased:
            raise NotFound("No member with that member_id")
        now = utcnow()
        actions, ending = closing_actions(member, now, rules, reason=reason, actor=actor)
        actions += release_bindings(uow, member)  # its WeChat accounts may sign another membership up
        wallet_empty_check(uow, member_id)
        uow.update("member", member, actions)
        endpoints = forget_all_devices(uow, member)
        if ending is not None:
            ending.write(uow, member, now)
        uow.commit(explain=wallet_not_empty)
        return endpoints

    delete_endpoints(run(attempt))  # a closed membership's phones get no more pushes
    count("MembershipsClosed")
    logger.info("membership closed", extra={"member_id": member_id, "by": _actor_kind(actor)})
    closed = get_member(member_id)
    assert closed is not None
    after_closing(closed, rules)
    return closed


def wallet_not_empty(cancelled: Cancelled) -> None:
    """A closure refused by the wallet's check (store/wallet.wallet_empty_check): 409 saying why."""
    if "wallet" in cancelled.failed:
        raise InvalidState(
            "The wallet still holds stored value, or a refund of it has not settled yet; it must be refunded before the membership can close"
        ) from cancelled


def after_closing(member: Member, rules: ProgramRules) -> None:
    """Once a membership is closed, by the member or an operator: nothing held back reaches
    them any more, and they are told when their data goes."""
    delete_waiting_for(member, utcnow())
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

    def attempt(uow: UnitOfWork) -> None:
        member = get_member(member_id)
        if member is None:
            raise NotFound("No member with that member_id")
        # Never race the erasure: its final write must not have happened.
        uow.update("member", member, restoring_actions(member, utcnow()), not_erased())
        uow.commit()

    run(attempt)
    count("MembershipsRestored")
    logger.info("membership restored", extra={"member_id": member_id, "by": _actor_kind(actor)})
    restored = get_member(member_id)
    assert restored is not None
    return restored


def closing_actions(member: Member, now: datetime, rules: ProgramRules, *, reason: str, actor: str) -> tuple[list[Action], PlanEnding | None]:
    """The member writes that close it, a running paid plan's end and the devices' removal among
    them, and that ending (its writes beside the member's: `ending.write`), for the member's own
    closure and an operator's (with its audit entry). 409 already_closed if closed; 409
    invalid_state while a wallet-paid plan can still be refunded. Write them conditioned on the
    member's version, with the wallet checked and the devices' token guards released
    (`devices.forget_all_devices`, whose endpoints are deleted after the commit)."""
    status = closing(member.status)
    erase_at = erase_after(now, rules.closure_grace_days)
    # Every token issued so far ends with the membership, and stays ended if it is restored.
    actions = closing_writes(
        member, status=str(status), closed_at=now, erase_at=erase_at, erasure_day=erasure_day(erase_at, rules.zone), reason=reason, actor=actor
    )
    ending = plan_ending_on_closure(member, rules, now)  # a running paid plan ends with it
    return actions + forget_all_actions(member) + (ending.actions if ending else []), ending


def restoring_actions(member: Member, now: datetime) -> list[Action]:
    """The member writes that reopen it as it was before closing (409 invalid_state once erased,
    after the grace period, or if it is not closed)."""
    status = restored(member.status, erased=bool(member.erased), erase_at=member.erase_after, before_close=member.status_before_close, now=now)
    return restoring_writes(str(status))


# --- the erasure ------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    outcome: str  # erased | not_due | not_closed | already_erased | member_gone
    points_forfeited: int = 0
    coupons_revoked: int = 0


def erase_member(member_id: str, due_by: datetime, *, dry_run: bool = False) -> Erasure:
    """Erase one closed member whose grace period ended by `due_by` (the job's time on its date;
    what is written is dated by the real clock). See the module docstring."""
    endpoints: list[str] = []

    def attempt(uow: UnitOfWork) -> Erasure:
        endpoints.clear()
        now = utcnow()
        member = get_member(member_id)
        if member is None:
            return Erasure("member_gone")
        if member.erased:
            return Erasure("already_erased")
        if not is_closed(member.status):
            return Erasure("not_closed")
        if not due_for_erasure(member.status, bool(member.erased), member.erase_after, due_by):
            return Erasure("not_due")
        balance = int(member.balance)
        if dry_run:
            return Erasure("erased", abs(balance))
        # Everything outside the member item first, idempotent: done again if the final write fails.
        revoked = erase_personal_items(member)
        delete_waiting_for(member, utcnow())  # where they are is set by the real clock
        # The member is marked erased last, with the phone released: a new signup with it makes a new member.
        release_phone_and_referral_code(uow, member)
        wechat_writes = release_bindings(uow, member)  # none left by the closure, unless restored and bound since
        if balance:
            uow.put("ledger", ledger_entry(member_id, "adjust", -balance, 0, FORFEIT_REF, now))
        # Devices left by a closure before they went with it: their guards and endpoints go too.
        endpoints.extend(forget_all_devices(uow, member))
        uow.update(
            "member", member, tombstone(now) + wechat_writes + forfeit_on_erasure(uow, member, now) + forget_all_actions(member)
        )  # pending points too
        uow.commit()
        return Erasure("erased", abs(balance), revoked)

    result = run(attempt)
    delete_endpoints(endpoints)
    if result.outcome == "erased" and not dry_run:
        count("MembershipsErased")
        logger.info("membership erased", extra={"member_id": member_id, "coupons_revoked": result.coupons_revoked})
    return result


def _actor_kind(actor: str) -> str:
    return "member" if actor == "member" else "operator"


def close_my_membership(session: MemberSession, reason: str) -> dict[str, Any]:
    """DELETE /v1/me: the member closes their own membership; the answer says when the data goes."""
    return closure_summary(close_membership(session.member_id, reason=reason, actor="member", session=session), load_rules())


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
