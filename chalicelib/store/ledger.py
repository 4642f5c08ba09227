"""The points books: immutable ledger entries and the lots points are earned in.

Ledger entries sort right after their member's PROFILE item with ids that run backwards in time
(keys.py), so one query returns the member and its newest entries. A lot records that a member
earned in a month, under the day it expires (the sparse `lots_by_expiry` index the expiry job reads);
what is left of it is on the member (`lots`), what went into it is in the ledger entries that name it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ..settings import get_settings
from . import keys
from .members import as_dict
from .models import BaseItem, LedgerEntry, Lot, Member
from .paging import Page, decode_cursor, encode_cursor, head_and_entries, query_page
from .unit_of_work import UnitOfWork

_MAX_MILLIS = 10**13 - 1


def newest_first(moment: datetime) -> str:
    """`moment` as 13 digits that sort newest first (inverted milliseconds): the head of an entry
    id, and of any id listed newest first (a campaign's)."""
    return f"{_MAX_MILLIS - int(moment.timestamp() * 1000):013d}"


def new_entry_id(now: datetime) -> str:
    """Sorts newest first, unique by its random tail."""
    return f"{newest_first(now)}-{secrets.token_hex(4)}"


# The entries a purchase that earns writes: its points, or (a return window) the points held.
PURCHASE_KINDS = ("earn", "earn_pending")


def earnings_between(member_id: str, start: datetime, end: datetime) -> int:
    """How many purchases that earned (`earn` or `earn_pending` entries) the member's ledger has
    from `start` to `end`: one Query over the key range of those times (entry ids run backwards
    in time)."""
    window = LedgerEntry.sk.between(keys.ledger_sk(newest_first(end)), keys.ledger_sk(f"{newest_first(start)}~"))
    bought = LedgerEntry.kind.is_in(*PURCHASE_KINDS)
    return sum(1 for _ in LedgerEntry.query(keys.member_pk(member_id), window, filter_condition=bought))


def ledger_entry(
    member_id: str,
    kind: str,
    points: int,
    balance_after: int,
    ref: str | None,
    now: datetime,
    *,
    lot: str | None = None,
    pending: int | None = None,
    breakdown: list[dict[str, Any]] | None = None,
) -> LedgerEntry:
    """One immutable entry, to put in the unit of work that changes the balance to `balance_after`
    (and the pending points by `pending`, when it changes them: domain/pending.py); `lot` names the
    month whose lot points earned go into (with `open_lot` in the same unit); a purchase's carries
    its `breakdown`, rule by rule."""
    entry_id = new_entry_id(now)
    change: dict[str, Any] = {"points": points}
    if pending is not None:
        change["pending"] = pending
    if breakdown is not None:
        change["breakdown"] = breakdown
    return LedgerEntry.new((keys.member_pk(member_id), keys.ledger_sk(entry_id)), entry_id, kind, balance_after, ref, now, lot=lot, **change)


def open_lot(tx: UnitOfWork, member_id: str, month: str, expires: date, *, held: Any, part: str = "lot") -> None:
    """Put the lot of `month` on the expiry index (under the day it `expires`), unless `held`, the
    member's `lots` as read for this unit of work, already shows it.

    Invariant: a month in a member's `lots` has its Lot item. Points only enter `lots` through a
    unit of work that calls this and also writes the member conditioned on the version it was read
    at, so a month `held` shows was opened by an earlier, committed unit, and cannot have left
    `lots` meanwhile. Only a month's first points (or the first after its lot was used up or
    clawed back) write the lot: every later earning in the month spares a transactional write
    (2 WRU). The lot holds no running total: what was earned into it is the sum of the ledger
    entries naming it (`lot`), plus `earned` on lots written before entries named theirs. `part`:
    the unit of work's name for the write (one per month, when a unit opens several)."""
    if int(as_dict(held).get(month, 0)) > 0:
        return
    expires_on = expires.isoformat()
    shard = keys.shard_of(member_id, get_settings().index_shards)
    lot = Lot(keys.member_pk(member_id), keys.lot_sk(month))
    tx.update(
        part,
        lot,
        [
            Lot.entity.set(Lot),
            Lot.member_id.set(member_id),
            Lot.month.set(month),
            Lot.expires_on.set(expires_on),
            Lot.expiry_bucket.set(keys.expiry_bucket(expires_on, shard)),
            Lot.expiry_member.set(keys.expiry_member(member_id, month)),
        ],
    )


def lot_earnings(lots: list[Lot], entries: list[LedgerEntry]) -> dict[str, int]:
    """Points earned into each lot (by month): what a lot recorded itself (`earned`, lots written
    before ledger entries named their lot) plus the entries that name it."""
    earned = {str(lot.month): int(lot.earned or 0) for lot in lots}
    for entry in entries:
        if entry.lot and entry.lot in earned:
            earned[entry.lot] += int(entry.points)
    return earned


@dataclass(frozen=True)
class LedgerPage:
    member: Member | None  # on the first page only: the PROFILE item the query starts with
    entries: list[LedgerEntry]
    next_cursor: str | None


def ledger_page(member_id: str, limit: int, cursor: str | None) -> LedgerPage:
    """One query, newest first. The first page starts at the member's PROFILE item (sorted just
    before the entries), so the member's status rides on the same query. A cursor carries only a
    sort key: the partition always comes from the caller."""
    pk = keys.member_pk(member_id)
    if cursor:
        start = {"pk": {"S": pk}, "sk": {"S": decode_cursor(cursor, keys.LEDGER_PREFIX)}}
        results = BaseItem.query(pk, BaseItem.sk.startswith(keys.LEDGER_PREFIX), limit=limit, last_evaluated_key=start, consistent_read=True)
    else:
        results = BaseItem.query(pk, BaseItem.sk.startswith(keys.PROFILE), limit=limit + 1, consistent_read=True)
    member, entries = head_and_entries(results, Member, LedgerEntry)
    last = results.last_evaluated_key
    return LedgerPage(member, entries, encode_cursor(last["sk"]["S"]) if last and len(entries) == limit else None)


def entries_page(member_id: str, limit: int, cursor: str | None) -> Page[LedgerEntry]:
    """One page of the member's entries alone, newest first (whatever the member's status: the
    operators' view; the member's own reads `ledger_page`)."""
    return query_page(LedgerEntry, keys.member_pk(member_id), keys.LEDGER_PREFIX, limit, cursor)
