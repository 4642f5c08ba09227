"""The operator audit trail as the table keeps it: immutable entries, each written twice.

| pk                 | sk               | listing                                      |
|--------------------|------------------|----------------------------------------------|
| MEMBER#<member_id> | AUDIT#<audit_id> | the actions on one member, newest first      |
| AUDIT#<yyyy-mm-dd> | AUDIT#<audit_id> | every action of a day (program time zone)    |

Both copies are put (each only if absent) in the unit of work that makes the change they
record, so a change without its entry, or an entry without its change, cannot exist. Audit ids
run backwards in time (the ledger's entry ids), so both listings are one ascending query.
`before` and `after` are kept as JSON texts of the fields the action changed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from . import keys
from .ledger import new_entry_id
from .models_admin import AuditEntry
from .paging import Page, query_page
from .unit_of_work import UnitOfWork


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def add_audit_entry(
    uow: UnitOfWork,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None,
    member_id: str | None,
    ref: str | None,
    day: str,
    now: datetime,
) -> AuditEntry:
    """Put the entry's copies in `uow` (parts `audit0`, `audit1`): under the day, and under the
    member when the action concerns one. Returns the entry (the day's copy)."""
    audit_id = new_entry_id(now)
    fields: dict[str, Any] = {
        "audit_id": audit_id,
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "member_id": member_id,
        "reason": reason,
        "ref": ref,
        "before": _json(before),
        "after": _json(after),
        "day": day,
        "created_at": now,
    }
    copies = [AuditEntry(keys.audit_day_pk(day), keys.audit_sk(audit_id), **fields)]
    if member_id:
        copies.append(AuditEntry(keys.member_pk(member_id), keys.audit_sk(audit_id), **fields))
    for n, entry in enumerate(copies):
        uow.put(f"audit{n}", entry, AuditEntry.pk.does_not_exist())
    return copies[0]


def audit_page(*, member_id: str | None, day: str | None, limit: int, cursor: str | None) -> Page[AuditEntry]:
    """One page, newest first, of one member's entries or one day's (exactly one of them)."""
    assert (member_id is None) != (day is None)
    pk = keys.member_pk(member_id) if member_id else keys.audit_day_pk(day or "")
    return query_page(AuditEntry, pk, keys.AUDIT_PREFIX, limit, cursor)
