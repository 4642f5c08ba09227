"""Reconciliation: every member's books checked against the ledger invariant
(reconciliation.py), writing nothing. The `reconcile` job runs it, and tests
call `reconcile_table` to check a whole table after they have worked it hard.

Finding every member: no index lists them all (the job indexes are sparse),
so the table is read by a parallel Scan, one segment per unit of work. A
partition key lives in exactly one segment, so a segment sees each of its
members whole: the Member, its ledger entries, the Wallet and its entries,
which are added up as the pages come (`store/books.py` reads them, `_add` counts
them into the domain's `Holdings`, `reconciliation.drift` judges). Everything else in
the table is read once and filtered out; nothing is read twice.

No false drift: the Scan is eventually consistent and its pages are not a
snapshot, so a member written to while the segment was read can look wrong.
Such a member is read again, strongly consistent, as of one moment
(`read_books`); only drift that is still there is reported. A member that
kept changing through every attempt is reported as unsettled, not as drift:
the next run checks it again.

A long segment: with a `deadline`, the unit stops after the first page past
it, at a member boundary (the member it was in the middle of is left whole
to the next unit), and says where the next unit starts (`resume_from`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..domain.reconciliation import Drift, Holdings, drift
from ..observability import logger
from ..store.books import LEDGER_ENTRY, MEMBER, WALLET, WALLET_ENTRY, BooksItem, app_table, member_of_key, read_books, scan_books

# Items read per Scan page; None: DynamoDB's own pages (1 MB). Tests set a few items
# to see a segment cut into many pages and units.
SCAN_PAGE_ITEMS: int | None = None


@dataclass
class Report:
    """What a segment (or a whole table) held. Member ids only, never personal data."""

    members_checked: int = 0
    outstanding_points: int = 0  # the sum of the balances checked
    outstanding_stored_value: int = 0  # the sum of the wallet balances, in minor units
    drifting: dict[str, list[Drift]] = field(default_factory=dict)
    unsettled: list[str] = field(default_factory=list)
    rechecked: int = 0
    items_read: int = 0
    round_trips: int = 0
    resume_from: dict[str, Any] | None = None

    def add(self, other: Report) -> None:
        self.members_checked += other.members_checked
        self.outstanding_points += other.outstanding_points
        self.outstanding_stored_value += other.outstanding_stored_value
        self.drifting.update(other.drifting)
        self.unsettled += other.unsettled
        self.rechecked += other.rechecked
        self.items_read += other.items_read
        self.round_trips += other.round_trips


def reconcile_segment(
    client: Any,
    table_name: str,
    segment: int,
    segments: int,
    *,
    start_key: dict[str, Any] | None = None,
    deadline: float | None = None,
) -> Report:
    """Check every member of Scan segment `segment` of `segments` (from `start_key`);
    stop at a member boundary once `time.monotonic()` passes `deadline`."""
    report = Report()
    books: dict[str, Holdings] = {}  # by member id, in scan order
    last_keys: dict[str, dict[str, Any]] = {}
    start = start_key
    while True:
        page = scan_books(client, table_name, segment, segments, start, SCAN_PAGE_ITEMS)
        report.round_trips += 1
        report.items_read += page.scanned
        for item in page.items:
            _add(books.setdefault(item.member_id, Holdings(item.member_id)), item)
            last_keys[item.member_id] = item.key
        start = page.next_key
        if start is None:
            break
        if deadline is not None and time.monotonic() >= deadline:
            report.resume_from = _cut(books, last_keys, start)
            if report.resume_from is not None:
                break
    for holdings in books.values():
        _check(client, table_name, holdings, report)
    return report


def reconcile_app_segment(segment: int, segments: int, *, start_key: dict[str, Any] | None = None, deadline: float | None = None) -> Report:
    """`reconcile_segment` of the app's own table (the `reconcile` job's unit)."""
    client, table_name = app_table()
    return reconcile_segment(client, table_name, segment, segments, start_key=start_key, deadline=deadline)


def _add(holdings: Holdings, item: BooksItem) -> None:
    """Count one item of the member's books into what its partition says."""
    if item.kind == MEMBER:
        holdings.has_member = True
        holdings.balance = item.balance
        holdings.pending_points = item.pending
    elif item.kind == LEDGER_ENTRY:
        holdings.add_ledger_entry(item.entry_kind, item.points, item.balance_after, item.pending)
    elif item.kind == WALLET:
        holdings.has_wallet = True
        holdings.wallet_balance = item.balance
    elif item.kind == WALLET_ENTRY:
        holdings.add_wallet_entry(item.amount)


def _holdings(member_id: str, items: list[BooksItem]) -> Holdings:
    holdings = Holdings(member_id)
    for item in items:
        _add(holdings, item)
    return holdings


def _cut(books: dict[str, Holdings], last_keys: dict[str, dict[str, Any]], next_key: dict[str, Any]) -> dict[str, Any] | None:
    """Where the next unit starts so that no member is split between two units;
    None if this unit has not finished a member yet (it goes on)."""
    open_member = member_of_key(next_key)
    if open_member not in books:
        # The page ended on items the filter dropped: every member seen is whole. Go on after
        # the last one's last item, never from the dropped item's key (a phone guard's holds
        # the phone, and the key travels in a queue message).
        return last_keys[next(reversed(books))] if books else None
    finished = [m for m in books if m != open_member]
    if not finished:
        return None
    del books[open_member]  # the next unit reads it from its first item
    return last_keys[finished[-1]]


def _check(client: Any, table_name: str, holdings: Holdings, report: Report) -> None:
    found = drift(holdings)
    if found:
        report.rechecked += 1
        again = read_books(client, table_name, holdings.member_id)
        report.round_trips += again.round_trips
        report.items_read += again.items_read
        if again.items is None:
            report.unsettled.append(holdings.member_id)
            logger.warning("ledger not settled: still changing, checked again next run", extra={"member_id": holdings.member_id})
            found = []
        else:
            holdings = _holdings(holdings.member_id, again.items)
            found = drift(holdings)
    report.members_checked += 1
    report.outstanding_points += holdings.balance
    report.outstanding_stored_value += holdings.wallet_balance
    if found:
        report.drifting[holdings.member_id] = found
        for finding in found:
            logger.warning(
                "ledger drift",
                extra={"member_id": holdings.member_id, "check": finding.check, "expected": finding.expected, "actual": finding.actual},
            )


def reconcile_table(client: Any, table_name: str, *, segments: int = 4) -> Report:
    """Every member of the table, segment after segment, in this process (tests, small tables)."""
    report = Report()
    for segment in range(segments):
        report.add(reconcile_segment(client, table_name, segment, segments))
    return report
