"""The operator audit trail: who did what, to what, before -> after, when.

An entry is added to the transaction that makes the change it records, so a
change without its entry (or an entry without its change) cannot exist. Every
entry is written twice, under the member it concerns (if any) and under the
day it happened (program time zone); both listings are newest first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypedDict

from ..domain.clock import iso, today_in
from ..domain.rules import ProgramRules
from ..store import keys
from ..store.ledger import new_entry_id
from ..store.models_admin import AuditEntry
from ..store.paging import decode_cursor, encode_cursor
from ..store.unit_of_work import Transaction, UnitOfWork


@dataclass(frozen=True)
class Change:
    """One operator action, as the audit trail keeps it."""

    actor: str
    action: str  # e.g. member.freeze, points.adjust, reward.update, merchant_key.revoke, rules.update
    target_type: str  # member | reward | merchant_key | rules
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None = None
    member_id: str | None = None
    ref: str | None = None


class _EntryFields(TypedDict):
    """An entry's attributes, the same on both copies."""

    audit_id: str
    actor: str
    action: str
    target_type: str
    target_id: str
    member_id: str | None
    reason: str | None
    ref: str | None
    before: str | None
    after: str | None
    day: str
    created_at: datetime


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def audit_entries(change: Change, rules: ProgramRules, now: datetime) -> list[AuditEntry]:
    """The entry's copies: under the member (when there is one) and under the day."""
    audit_id = new_entry_id(now)
    day = today_in(rules.zone, now).isoformat()
    fields: _EntryFields = {
        "audit_id": audit_id,
        "actor": change.actor,
        "action": change.action,
        "target_type": change.target_type,
        "target_id": change.target_id,
        "member_id": change.member_id,
        "reason": change.reason,
        "ref": change.ref,
        "before": _json(change.before),
        "after": _json(change.after),
        "day": day,
        "created_at": now,
    }
    copies = [AuditEntry(keys.audit_day_pk(day), keys.audit_sk(audit_id), **fields)]
    if change.member_id:
        copies.append(AuditEntry(keys.member_pk(change.member_id), keys.audit_sk(audit_id), **fields))
    return copies


def add_audit(tx: UnitOfWork, change: Change, rules: ProgramRules, now: datetime) -> dict[str, Any]:
    """Put the entry's copies in `tx` (each only if absent); returns the entry as the API shows it."""
    entries = audit_entries(change, rules, now)
    for n, entry in enumerate(entries):
        tx.put(f"audit{n}", entry, AuditEntry.pk.does_not_exist())
    return audit_view(entries[0])


def record_audit(change: Change, rules: ProgramRules, now: datetime) -> dict[str, Any]:
    """For a change that is not a DynamoDB write (the rules in SSM): its own transaction."""
    tx = Transaction()
    view = add_audit(tx, change, rules, now)
    tx.commit()
    return view


def audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "audit_id": entry.audit_id,
        "actor": entry.actor,
        "action": entry.action,
        "target": {"type": entry.target_type, "id": entry.target_id},
        "member_id": entry.member_id,
        "reason": entry.reason,
        "ref": entry.ref,
        "before": json.loads(entry.before) if entry.before else None,
        "after": json.loads(entry.after) if entry.after else None,
        "created_at": iso(entry.created_at),
    }


def audit_page(*, member_id: str | None, day: date | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first, for one member or one day (exactly one of them)."""
    assert (member_id is None) != (day is None)
    pk = keys.member_pk(member_id) if member_id else keys.audit_day_pk(day.isoformat() if day else "")
    start = {"pk": {"S": pk}, "sk": {"S": decode_cursor(cursor, keys.AUDIT_PREFIX)}} if cursor else None
    results = AuditEntry.query(pk, AuditEntry.sk.startswith(keys.AUDIT_PREFIX), limit=limit, last_evaluated_key=start, consistent_read=True)
    items = [audit_view(entry) for entry in results]
    last = results.last_evaluated_key
    return {"items": items, "next_cursor": encode_cursor(last["sk"]["S"]) if last and len(items) == limit else None}
