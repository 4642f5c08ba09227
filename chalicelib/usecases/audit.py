"""The operator audit trail: who did what, to what, before -> after, when.

An entry is added to the unit of work that makes the change it records, so a change without
its entry (or an entry without its change) cannot exist. Every entry is kept under the member
it concerns (if any) and under the day it happened (program time zone); both listings are
newest first (store/audit.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from ..api.schemas.operator_views import audit_entry_view
from ..domain.clock import today_in
from ..domain.rules import ProgramRules
from ..store import audit as stored_audit
from ..store.unit_of_work import UnitOfWork, run


@dataclass(frozen=True)
class Change:
    """One operator action, as the audit trail keeps it: every field is an argument of the
    store's `add_audit_entry`, by the same name."""

    actor: str
    action: str  # e.g. member.freeze, points.adjust, reward.update, merchant_key.revoke, rules.update
    target_type: str  # member | reward | merchant_key | rules
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None = None
    member_id: str | None = None
    ref: str | None = None


def add_audit(uow: UnitOfWork, change: Change, rules: ProgramRules, now: datetime) -> dict[str, Any]:
    """Add the entry to `uow` (its parts only if absent); returns the entry as the API shows it."""
    entry = stored_audit.add_audit_entry(uow, **asdict(change), day=today_in(rules.zone, now).isoformat(), now=now)
    return audit_entry_view(entry)


def record_audit(change: Change, rules: ProgramRules, now: datetime) -> dict[str, Any]:
    """For a change that is not a DynamoDB write (the rules in SSM): the entry in a unit of its own."""

    def attempt(uow: UnitOfWork) -> dict[str, Any]:
        view = add_audit(uow, change, rules, now)
        uow.commit()
        return view

    return run(attempt)


def audit_page(*, member_id: str | None, day: date | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first, for one member or one day (exactly one of them)."""
    page = stored_audit.audit_page(member_id=member_id, day=day.isoformat() if day else None, limit=limit, cursor=cursor)
    return page.view(audit_entry_view)
