"""The one-time profile-completion bonus, granted in the unit of work of the change that first
completes the profile (a profile edit, or an email's confirmation). The rule: domain/profile.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.clock import today_in
from ..domain.identity import email_is_confirmed
from ..domain.membership import Status
from ..domain.points import earn, lot_expires_on, month_key
from ..domain.profile import earns_completion_bonus
from ..domain.rules import ProgramRules
from ..store.ledger import ledger_entry, open_lot
from ..store.members import as_dict, points_state, points_update
from ..store.models import Member
from ..store.profile import profile_writes
from ..store.unit_of_work import UnitOfWork, Writes

COMPLETION_REF = "profile_completion"


def completion_fields(member: Member) -> dict[str, Any]:
    """What the completion bonus counts. Only a confirmed email counts: a bonus is paid on
    proven data, never on an address nobody confirmed."""
    email = member.email if email_is_confirmed(member) else None
    return {"email": email, "birthday": member.birthday, "gender": member.gender, "address": as_dict(member.address) or None}


@dataclass(frozen=True)
class Completion:
    """The bonus a change grants: the member's writes for it (to add to the change's own)."""

    granted: bool = False
    points: int = 0
    member_writes: Writes = field(default_factory=list)


def add_completion_bonus(
    uow: UnitOfWork, member: Member, before: dict[str, Any], after: dict[str, Any], rules: ProgramRules, now: datetime
) -> Completion:
    """The bonus when this change (`before` -> `after`) completes the profile for the first time:
    its ledger entry and lot go into `uow`, its member writes come back. Frozen members get it on
    a later change, once they are active again."""
    if member.status != Status.ACTIVE or not earns_completion_bonus(before, after, bool(member.profile_completed)):
        return Completion()
    writes = profile_writes({"profile_completed": True})
    points = rules.profile_completion_points
    if points:
        month = month_key(today_in(rules.zone, now))
        state = earn(points_state(member), points, month, qualifying=False)
        writes += points_update(state)
        uow.put("ledger", ledger_entry(member.member_id, "bonus", points, state.balance, COMPLETION_REF, now, lot=month))
        open_lot(uow, member.member_id, month, lot_expires_on(month, rules.points_validity_months), held=member.lots)
    return Completion(True, points, writes)
