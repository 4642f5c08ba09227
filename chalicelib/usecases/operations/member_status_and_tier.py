"""An operator's changes to one member: freeze, unfreeze, close, restore (domain/membership.py
holds the transitions), and the tier floor (an override the yearly review never goes below).

Each change is one unit of work: the member's write, conditioned on the version read (another
write in between means reading again), with its audit entry. So the audit's before -> after is
exactly what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...domain.clock import iso, utcnow
from ...domain.errors import InvalidState, MemberClosed, ValidationFailed
from ...domain.membership import erase_after, frozen, is_closed, unfrozen
from ...domain.rules import ProgramRules
from ...observability import count, logger
from ...store.members import never_erased, status_update, tier_override_update
from ...store.models import Member
from ...store.parameters import load_rules
from ...store.unit_of_work import UnitOfWork, Writes, run
from ...store.wallet import wallet_empty_check
from ..audit import Change, add_audit
from ..closure import after_closing, closing_actions, restoring_actions, wallet_not_empty
from ..devices import delete_endpoints, forget_all_devices
from ..wechat_bindings import releasing
from .member_lookup import member_or_404, operator_view


@dataclass(frozen=True)
class MemberWrite:
    """What an operator action decided for one member: its writes, the audit's before and after,
    and for closure the empty-wallet check and what follows the commit."""

    actions: Writes
    before: dict[str, Any]
    after: dict[str, Any]
    must_not_be_erased: bool = False  # besides the member's version: never race the erasure
    wallet_must_be_empty: bool = False
    then: Callable[[Member, ProgramRules], None] | None = None  # after the commit, with the member as written
    beside: Callable[[UnitOfWork], None] | None = None  # writes beside the member's, in the same unit


Decide = Callable[[Member, datetime, ProgramRules], MemberWrite]


def change_member(member_id: str, action: str, actor: str, reason: str, decide: Decide) -> dict[str, Any]:
    """Read, decide, write the member (version-checked) with its audit entry; the member as written."""
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> MemberWrite:
        now = utcnow()
        member = member_or_404(member_id)
        write = decide(member, now, rules)
        if write.wallet_must_be_empty:
            wallet_empty_check(uow, member_id)
        uow.update("member", member, write.actions, never_erased() if write.must_not_be_erased else None)
        if write.beside is not None:
            write.beside(uow)
        add_audit(uow, Change(actor, action, "member", member_id, write.before, write.after, reason=reason, member_id=member_id), rules, now)
        uow.commit(explain=wallet_not_empty)
        return write

    write = run(attempt)
    count("OperatorActions")
    logger.info("operator action", extra={"action": action, "member_id": member_id})
    member = member_or_404(member_id)
    if write.then:
        write.then(member, rules)
    return operator_view(member, rules)


def _freeze(member: Member, _: datetime, __: ProgramRules) -> MemberWrite:
    status = str(frozen(member.status))
    return MemberWrite(status_update(status), {"status": member.status}, {"status": status})


def _unfreeze(member: Member, _: datetime, __: ProgramRules) -> MemberWrite:
    status = str(unfrozen(member.status, activated=member.activated_at is not None))
    return MemberWrite(status_update(status), {"status": member.status}, {"status": status})


def _closing(reason: str, actor: str) -> Decide:
    """Closure as the member's own (usecases/closure.py): erased after the grace period, refused
    while the wallet holds stored value; here in the operator's audited unit of work."""

    def decide(member: Member, now: datetime, rules: ProgramRules) -> MemberWrite:
        actions, ending = closing_actions(member, now, rules, reason=reason, actor=actor)
        wechat_writes, release_wechat = releasing(member)  # its WeChat accounts may sign another membership up
        after: dict[str, Any] = {"status": "closed", "closed_at": iso(now), "erase_after": iso(erase_after(now, rules.closure_grace_days))}
        if ending is not None:
            after["plan"] = ending.summary()
        endpoints: list[str] = []

        def beside(uow: UnitOfWork) -> None:
            endpoints[:] = forget_all_devices(uow, member)  # the devices go with the membership
            release_wechat(uow)
            if ending is not None:
                ending.write(uow, member, now)

        def then(closed: Member, rules: ProgramRules) -> None:
            delete_endpoints(endpoints)
            after_closing(closed, rules)

        return MemberWrite(
            actions + wechat_writes,
            {"status": member.status, "closed_at": None, "erase_after": None},
            after,
            wallet_must_be_empty=True,
            then=then,
            beside=beside,
        )

    return decide


def _restore(member: Member, now: datetime, _: ProgramRules) -> MemberWrite:
    """Back to the state before closing, within the grace period (409 invalid_state otherwise)."""
    actions = restoring_actions(member, now)
    return MemberWrite(
        actions,
        {
            "status": "closed",
            "closed_at": iso(member.closed_at) if member.closed_at else None,
            "erase_after": iso(member.erase_after) if member.erase_after else None,
        },
        {"status": member.status_before_close or "active", "closed_at": None, "erase_after": None},
        must_not_be_erased=True,  # its final write must not have happened
    )


def change_member_state(member_id: str, change: str, actor: str, reason: str) -> dict[str, Any]:
    """freeze | unfreeze | close | restore, with a reason, audited."""
    decide = {"freeze": _freeze, "unfreeze": _unfreeze, "close": _closing(reason, actor), "restore": _restore}[change]
    return change_member(member_id, f"member.{change}", actor, reason, decide)


def _known_tier(rules: ProgramRules, tier: str) -> None:
    if tier not in {t.id for t in rules.tiers}:
        raise ValidationFailed.single("tier", f"must be one of {', '.join(t.id for t in rules.tiers)}")


def set_tier_override(member_id: str, tier: str, actor: str, reason: str) -> dict[str, Any]:
    """A floor: the member is at least `tier` from now on (raised at once if below), while
    purchases can still lift them higher and the yearly review never drops them under it."""
    _known_tier(load_rules(), tier)

    def decide(member: Member, _: datetime, rules: ProgramRules) -> MemberWrite:
        if is_closed(member.status):
            raise MemberClosed("The membership is closed")
        effective = rules.effective_tier(member.tier, tier)
        return MemberWrite(
            tier_override_update(member, tier, effective),
            {"tier": member.tier, "tier_override": member.tier_override},
            {"tier": effective, "tier_override": tier},
        )

    return change_member(member_id, "member.tier_override.set", actor, reason, decide)


def clear_tier_override(member_id: str, actor: str, reason: str) -> dict[str, Any]:
    """Remove the floor. The tier held stays until the yearly review, like any tier."""

    def decide(member: Member, _: datetime, __: ProgramRules) -> MemberWrite:
        if is_closed(member.status):
            raise MemberClosed("The membership is closed")
        if member.tier_override is None:
            raise InvalidState("The member has no tier override")
        return MemberWrite(
            tier_override_update(member, None, member.tier),
            {"tier": member.tier, "tier_override": member.tier_override},
            {"tier": member.tier, "tier_override": None},
        )

    return change_member(member_id, "member.tier_override.clear", actor, reason, decide)
