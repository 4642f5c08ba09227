"""Bulk imports of members as the table keeps them (keys.py: IMPORT#), and the one write that
imports a row.

A row is one transaction (one TransactWriteItems call): the member's phone guard (only if
absent), its referral code, the member (pending), and its opening books: an `imported` points
ledger entry with its lot, an `imported` wallet entry with the wallet. The guard of an imported
member names its import and row, so a row that finds its phone taken knows why without a read
(the cancellation returns the guard): taken by this very row (a redelivered part: already
imported), by an earlier row of the same file (a duplicate), or by somebody else (already a
member: skipped). A member's id is derived from the import and the row, so even a member whose
phone changed since its row was imported is not made twice (its `member` put fails).

The import item counts each part once: `record_part` adds a part's counts in an update
conditioned on `parts_done` being that part's number, and moves it on (parts run in order).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from ..domain.imports import DONE, RUNNING, WAITING_UPLOAD
from . import keys
from .models import Member, PhoneGuard, ReferralCode
from .models_imports import MemberImport
from .unit_of_work import Cancelled, UnitOfWork


def imported_member_id(import_id: str, row: int) -> str:
    """The member a row makes: the same for every delivery of the row, different for any other."""
    return "mbr_" + hashlib.sha256(f"import|{import_id}|{row}".encode()).hexdigest()[:16]


def new_import(import_id: str, **fields: Any) -> MemberImport:
    return MemberImport(keys.import_pk(import_id), keys.IMPORT_SK, import_id=import_id, status=WAITING_UPLOAD, **fields)


def add_import(uow: UnitOfWork, item: MemberImport) -> None:
    """Put a new import (part `import`), only if none exists under its id (an Idempotency-Key's)."""
    uow.put("import", item, MemberImport.pk.does_not_exist())


def get_import(import_id: str) -> MemberImport | None:
    try:
        return MemberImport.get(keys.import_pk(import_id), keys.IMPORT_SK, consistent_read=True)
    except DoesNotExist:
        return None


def _conditional_update(item: MemberImport, actions: list[Any], condition: Any) -> bool:
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def add_start(uow: UnitOfWork, item: MemberImport, *, size: int, columns: str | None, now: datetime) -> None:
    """waiting_upload -> running (part `import`: fails if another start got there first)."""
    actions = [MemberImport.status.set(RUNNING), MemberImport.size.set(size), MemberImport.started_at.set(now)]
    if columns is not None:
        actions.append(MemberImport.columns.set(columns))
    uow.update("import", item, actions, MemberImport.status == WAITING_UPLOAD)


@dataclass(frozen=True)
class PartCounts:
    read: int
    imported: int
    skipped: int
    failed: int


def record_part(import_id: str, part: int, counts: PartCounts) -> bool:
    """Add a part's counts, once: False if a delivery before this one already did."""
    item = MemberImport(keys.import_pk(import_id), keys.IMPORT_SK)
    actions = [
        MemberImport.parts_done.set(part + 1),
        MemberImport.rows_read.add(counts.read),
        MemberImport.imported.add(counts.imported),
        MemberImport.skipped.add(counts.skipped),
        MemberImport.failed.add(counts.failed),
    ]
    return _conditional_update(item, actions, (MemberImport.status == RUNNING) & (MemberImport.parts_done == part))


def mark_done(import_id: str, result: str | None, now: datetime) -> bool:
    """running -> done, once, with the failed rows' file (if any row failed)."""
    item = MemberImport(keys.import_pk(import_id), keys.IMPORT_SK)
    actions = [MemberImport.status.set(DONE), MemberImport.finished_at.set(now)]
    if result is not None:
        actions.append(MemberImport.result_key.set(result))
    return _conditional_update(item, actions, MemberImport.status == RUNNING)


# --- one row ---------------------------------------------------------------------------------


def add_imported_member(uow: UnitOfWork, member: Member, import_id: str, row: int) -> None:
    """The writes that make an imported member (parts `guard`, `refcode`, `member`, each only if
    absent); its books are added by the caller to the same unit."""
    guard = PhoneGuard(keys.phone_pk(member.phone), keys.GUARD, member_id=member.member_id, import_id=import_id, import_row=row)
    uow.put("guard", guard, PhoneGuard.pk.does_not_exist(), return_old=True)
    uow.put(
        "refcode",
        ReferralCode(keys.refcode_pk(member.referral_code), keys.REFCODE_SK, member_id=member.member_id),
        ReferralCode.pk.does_not_exist(),
    )
    uow.put("member", member, Member.pk.does_not_exist())


@dataclass(frozen=True)
class PhoneHeld:
    """Why a row's member was not made: `mine` (an earlier delivery of this row made it),
    `duplicate` (an earlier row of the file holds the phone: `row`), or `member` (somebody else)."""

    why: str
    row: int | None = None


def why_not_imported(cancelled: Cancelled, phone: str, import_id: str, row: int) -> PhoneHeld | None:
    """What a cancelled row's transaction tells (None: only contention, e.g. a referral code drawn twice)."""
    if "guard" in cancelled.failed:
        raw = cancelled.failed["guard"]
        if raw:
            guard = PhoneGuard.from_raw_data(raw)
        else:
            try:
                guard = PhoneGuard.get(keys.phone_pk(phone), keys.GUARD, consistent_read=True)
            except DoesNotExist:
                return None  # released meanwhile: try again
        if guard.import_id == import_id and guard.import_row is not None:
            held_row = int(guard.import_row)
            return PhoneHeld("mine") if held_row == row else PhoneHeld("duplicate", held_row)
        return PhoneHeld("member")
    if "member" in cancelled.failed:
        return PhoneHeld("mine")  # made by an earlier delivery; its phone moved on since
    return None
