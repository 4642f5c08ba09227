"""Members' books read straight from the table, for the `reconcile` job.

A member's books are four kinds of item in its partition (keys.py): the Member
(PROFILE) with its LedgerEntry items (PROFILE#LEDGER#...), and the Wallet
(WALLET) with its WalletEntry items (WALLET#ENTRY#...). The reads here name
only the attributes the check needs (keys, type, balances, amounts): never a
phone, name, email or birthday.

Two ways to read them:
- `scan_books`: one page of a parallel Scan segment. A partition key lives in
  exactly one segment, so one segment holds whole members; the Scan is
  eventually consistent and its pages are not a snapshot.
- `read_books`: one member, strongly consistent, by a Query of each of the two
  ranges between two reads of the Member's and the Wallet's versions. Every
  balance change bumps the version of the item whose balance it changes, in
  the transaction that writes the entry; so versions that held still mean the
  books were read as of one moment, whatever was written meanwhile.

Both give `BooksItem`s: what the check needs of each item, by member id. What the items add up
to, and whether that is drift, is the domain's (domain/reconciliation.py, usecases/reconcile.py).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..settings import get_settings
from . import keys, table
from .models import LedgerEntry, Member
from .models_wallet import Wallet, WalletEntry
from .unit_of_work import connection

# The models' discriminators (the `type` attribute) of the items that make up the books.
MEMBER, LEDGER_ENTRY, WALLET, WALLET_ENTRY = "Member", "LedgerEntry", "Wallet", "WalletEntry"

_ATTRIBUTES = sorted(
    {
        table.HASH_KEY,
        table.RANGE_KEY,
        table.ENTITY_ATTRIBUTE,
        Member.balance.attr_name,
        Member.pending_points.attr_name,
        LedgerEntry.pending.attr_name,
        Wallet.balance.attr_name,
        LedgerEntry.points.attr_name,
        LedgerEntry.kind.attr_name,
        LedgerEntry.balance_after.attr_name,
        WalletEntry.amount.attr_name,
    }
)
_NAMES = {f"#a{n}": name for n, name in enumerate(_ATTRIBUTES)}
_PLACEHOLDER = {name: placeholder for placeholder, name in _NAMES.items()}
_PROJECTION = ", ".join(_NAMES)


def app_table() -> tuple[Any, str]:
    """The client and the table the app itself reads (the job's; tests pass another stack's)."""
    return connection().client, get_settings().table_name


@dataclass(frozen=True)
class BooksItem:
    """One item of a member's books, as the check needs it: never a phone, name, email or birthday."""

    member_id: str
    kind: str  # MEMBER | LEDGER_ENTRY | WALLET | WALLET_ENTRY
    key: dict[str, Any]  # the item's primary key: where a Scan goes on after it
    balance: int = 0  # a Member's points, a Wallet's stored value
    points: int = 0  # a LedgerEntry's
    pending: int = 0  # a Member's pending points; a LedgerEntry's change to them (domain/pending.py)
    entry_kind: str = ""  # a LedgerEntry's kind (earn, redeem, refund, ...)
    balance_after: int = 0  # a LedgerEntry's
    amount: int = 0  # a WalletEntry's


@dataclass(frozen=True)
class ScanPage:
    items: list[BooksItem]
    scanned: int  # items DynamoDB read (and charged for), before the type filter
    next_key: dict[str, Any] | None  # ExclusiveStartKey of the next page; None at the segment's end


def scan_books(client: Any, table_name: str, segment: int, segments: int, start_key: dict[str, Any] | None, limit: int | None = None) -> ScanPage:
    """One page of Scan segment `segment` of `segments`: the books items only (filtered), in
    partition order. A page is 1 MB read, or `limit` items read (before the filter)."""
    kinds = (MEMBER, LEDGER_ENTRY, WALLET, WALLET_ENTRY)
    request: dict[str, Any] = {
        "TableName": table_name,
        "Segment": segment,
        "TotalSegments": segments,
        "FilterExpression": f"{_PLACEHOLDER[table.ENTITY_ATTRIBUTE]} IN ({', '.join(f':t{n}' for n in range(len(kinds)))})",
        "ProjectionExpression": _PROJECTION,
        "ExpressionAttributeNames": _NAMES,
        "ExpressionAttributeValues": {f":t{n}": {"S": kind} for n, kind in enumerate(kinds)},
    }
    if start_key:
        request["ExclusiveStartKey"] = start_key
    if limit:
        request["Limit"] = limit
    page = client.scan(**request)
    return ScanPage([_books_item(i) for i in page.get("Items", [])], int(page.get("ScannedCount", 0)), page.get("LastEvaluatedKey"))


def member_of_key(key: dict[str, Any]) -> str | None:
    """The member whose partition a key is in; None for a key outside every member's."""
    pk = key[table.HASH_KEY]["S"]
    return keys.member_id_of(pk) if keys.is_member_pk(pk) else None


def _key_of(item: dict[str, Any]) -> dict[str, Any]:
    """The item's primary key, as an ExclusiveStartKey."""
    return {table.HASH_KEY: item[table.HASH_KEY], table.RANGE_KEY: item[table.RANGE_KEY]}


def _number(item: dict[str, Any], name: str) -> int:
    value = item.get(name, {}).get("N")
    return int(Decimal(value)) if value is not None else 0


def _books_item(item: dict[str, Any]) -> BooksItem:
    """One raw item (as a Scan or a Query of the books returns it)."""
    kind = item.get(table.ENTITY_ATTRIBUTE, {}).get("S", "")
    member_id, key = keys.member_id_of(item[table.HASH_KEY]["S"]), _key_of(item)
    if kind == MEMBER:
        balance, pending = _number(item, Member.balance.attr_name), _number(item, Member.pending_points.attr_name)
        return BooksItem(member_id, kind, key, balance=balance, pending=pending)
    if kind == WALLET:
        return BooksItem(member_id, kind, key, balance=_number(item, Wallet.balance.attr_name))
    if kind == LEDGER_ENTRY:
        return BooksItem(
            member_id,
            kind,
            key,
            points=_number(item, LedgerEntry.points.attr_name),
            pending=_number(item, LedgerEntry.pending.attr_name),
            entry_kind=item.get(LedgerEntry.kind.attr_name, {}).get("S", ""),
            balance_after=_number(item, LedgerEntry.balance_after.attr_name),
        )
    if kind == WALLET_ENTRY:
        return BooksItem(member_id, kind, key, amount=_number(item, WalletEntry.amount.attr_name))
    return BooksItem(member_id, kind, key)


@dataclass(frozen=True)
class MemberBooks:
    items: list[BooksItem] | None  # None: the member kept changing through every attempt
    round_trips: int
    items_read: int


def _versions(client: Any, table_name: str, pk: str) -> tuple[str | None, str | None]:
    found: list[str | None] = []
    for sk in (keys.PROFILE, keys.WALLET_SK):
        item = client.get_item(
            TableName=table_name,
            Key={table.HASH_KEY: {"S": pk}, table.RANGE_KEY: {"S": sk}},
            ConsistentRead=True,
            ProjectionExpression="#v",
            ExpressionAttributeNames={"#v": Member.version.attr_name},
        ).get("Item")
        found.append(item[Member.version.attr_name]["N"] if item and Member.version.attr_name in item else None)
    return found[0], found[1]


def read_books(client: Any, table_name: str, member_id: str, *, attempts: int = 5) -> MemberBooks:
    """One member's books as of one moment (see the module docstring), strongly consistent."""
    pk = keys.member_pk(member_id)
    round_trips = items_read = 0
    for attempt in range(attempts):
        before = _versions(client, table_name, pk)
        items: list[BooksItem] = []
        for prefix in (keys.PROFILE, keys.WALLET_SK):
            start: dict[str, Any] | None = None
            while True:
                page = client.query(
                    TableName=table_name,
                    KeyConditionExpression=f"{_PLACEHOLDER[table.HASH_KEY]} = :pk AND begins_with({_PLACEHOLDER[table.RANGE_KEY]}, :prefix)",
                    ConsistentRead=True,
                    ProjectionExpression=_PROJECTION,
                    ExpressionAttributeNames=_NAMES,
                    ExpressionAttributeValues={":pk": {"S": pk}, ":prefix": {"S": prefix}},
                    **({"ExclusiveStartKey": start} if start else {}),
                )
                round_trips += 1
                items_read += int(page.get("ScannedCount", 0))
                items += [_books_item(item) for item in page.get("Items", [])]
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
        after = _versions(client, table_name, pk)
        round_trips += 4
        if before == after:
            return MemberBooks(items, round_trips, items_read)
        time.sleep(random.uniform(0, min(0.5, 0.02 * 2**attempt)))  # noqa: S311 - jitter, not a secret: let the writer finish
    return MemberBooks(None, round_trips, items_read)
