"""Reading wallets and turning wallet changes into writes.

Every change of a wallet's balance is `wallet_write` + `add_wallet_entry` in one
`Transaction`: the entry is immutable, its `balance_after` is exact because
the write is conditioned on the wallet's version, and so the entries of a
wallet always add up to its balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pynamodb.models import Model

from . import keys
from .models import BaseItem, Member, PhoneGuard
from .models_wallet import Wallet, WalletEntry
from .unit_of_work import Transaction, UnitOfWork

_MAX_VERSION = 10**12 - 1


def new_wallet_entry_ids(wallet: Wallet | None, count: int) -> list[str]:
    """Ids for the `count` entries of the transaction that writes `wallet`'s next
    version, in the order they apply.

    Unlike the points ledger's time-based ids, these run backwards by the
    wallet's version: the statement's order is exactly the order the balance
    changed in, even for changes within one millisecond, and an id is unique
    because only one transaction can write each version. The digit after the
    dash orders the entries of one transaction (a top-up's bonus above it).
    """
    version = int(wallet.version or 0) + 1 if wallet is not None else 1
    return [f"{_MAX_VERSION - version:012d}-{count - 1 - i}" for i in range(count)]


def add_wallet_entry(
    tx: Transaction, part: str, member_id: str, entry_id: str, kind: str, amount: int, balance_after: int, ref: str | None, now: datetime
) -> None:
    """Put one immutable entry in `tx` (never over an existing one)."""
    tx.put(part, _wallet_entry(member_id, entry_id, kind, amount, balance_after, ref, now), WalletEntry.sk.does_not_exist())


def _wallet_entry(member_id: str, entry_id: str, kind: str, amount: int, balance_after: int, ref: str | None, now: datetime) -> WalletEntry:
    return WalletEntry(
        keys.member_pk(member_id),
        keys.wallet_entry_sk(entry_id),
        entry_id=entry_id,
        kind=kind,
        amount=amount,
        balance_after=balance_after,
        ref=ref,
        created_at=now,
    )


def wallet_write(
    tx: Transaction, member_id: str, wallet: Wallet | None, balance: int, currency: str, now: datetime, *, debit: int | None = None
) -> None:
    """Set the wallet's balance in `tx`: a put of a new wallet (only if none exists
    yet), or an update of `wallet` conditioned on the version read. A `debit` also
    conditions the update on the stored balance covering it: never below zero,
    whatever the caller read."""
    if wallet is None:
        tx.put(
            "wallet",
            Wallet(
                keys.member_pk(member_id),
                keys.WALLET_SK,
                member_id=member_id,
                balance=balance,
                currency=currency,
                created_at=now,
                updated_at=now,
            ),
        )  # VersionAttribute: the put is conditioned on no wallet existing
    else:
        condition = Wallet.balance >= debit if debit is not None else None
        tx.update("wallet", wallet, [Wallet.balance.set(balance), Wallet.updated_at.set(now)], condition)


def member_status_check(tx: Transaction, member_id: str, allowed: Sequence[str]) -> None:
    """Fail `tx` (part "member") unless the member still exists with one of the `allowed` statuses."""
    tx.condition_check("member", Member, keys.member_pk(member_id), keys.PROFILE, Member.status.is_in(*allowed))


def wallet_empty_check(uow: UnitOfWork, member_id: str, part: str = "wallet") -> None:
    """Fail `uow` (part `part`) while the member's wallet holds stored value: closing a membership
    must not swallow money owed to the member."""
    uow.condition_check(part, Wallet, keys.member_pk(member_id), keys.WALLET_SK, Wallet.pk.does_not_exist() | (Wallet.balance == 0))


def read_items(wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Several items in one strongly consistent BatchGetItem, by (pk, sk)."""
    unique = list(dict.fromkeys(wanted))
    return {(i.pk, i.sk): i for i in BaseItem.batch_get(unique, consistent_read=True)}


def phone_guard_key(phone: str) -> tuple[str, str]:
    return keys.phone_pk(phone), keys.GUARD


def member_key(member_id: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.PROFILE


def wallet_key(member_id: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.WALLET_SK


def guard_member_id(item: Model | None) -> str | None:
    return item.member_id if isinstance(item, PhoneGuard) else None


def statement_query(member_id: str, limit: int, after_sk: str | None) -> Any:
    """The first page: the WALLET item followed by the newest entries (one query).
    A later page: the entries after `after_sk`."""
    pk = keys.member_pk(member_id)
    if after_sk is None:
        return BaseItem.query(pk, BaseItem.sk.startswith(keys.WALLET_SK), limit=limit + 1, consistent_read=True)
    start = {"pk": {"S": pk}, "sk": {"S": after_sk}}
    return BaseItem.query(pk, BaseItem.sk.startswith(keys.WALLET_ENTRY_PREFIX), limit=limit, last_evaluated_key=start, consistent_read=True)
