"""Stored value as the store keeps it: the member's `WALLET` item and its immutable entries in the
member's partition, and one record per top-up (`TOPUP#<topup_id>`), per payment
(`PAYMENT#<payment_id>`) and per refund of a payment (`PAYMENT#<payment_id>`, `REFUND#<refund_id>`).

Every change of a wallet's balance is `wallet_write` + `add_wallet_entry` in one unit of work: the
entry is immutable, its `balance_after` is exact because the write is conditioned on the wallet's
version, and so the entries of a wallet always add up to its balance. The top-up, payment and
refund records are the idempotency records of those writes (store/idempotency.py), put in the
same unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import keys
from .models import BaseItem, Member, PhoneGuard, Recording
from .models_wallet import Wallet, WalletEntry, WalletPayment, WalletRefund, WalletTopup
from .paging import Page, decode_cursor, encode_cursor, head_and_entries, query_page
from .reads import item_of, member_key, read_together, wallet_key
from .unit_of_work import UnitOfWork

_MAX_VERSION = 10**12 - 1


# --- keys ------------------------------------------------------------------------------------


def topup_key(topup_id: str) -> tuple[str, str]:
    return keys.topup_pk(topup_id), keys.TOPUP_SK


def payment_key(payment_id: str) -> tuple[str, str]:
    return keys.payment_pk(payment_id), keys.PAYMENT_SK


def refund_key(payment_id: str, refund_id: str) -> tuple[str, str]:
    return keys.payment_pk(payment_id), keys.refund_sk(refund_id)


def _phone_guard_key(phone: str) -> tuple[str, str]:
    return keys.phone_pk(phone), keys.GUARD


# --- reads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoneyRead[R]:
    """What a top-up or payment reads before it decides: its record if the id was used before
    (then nothing else is read), else the member and their wallet (None when there is none)."""

    record: R | None
    member: Member | None
    wallet: Wallet | None


def _read_for_money[R](record_type: type[R], record_key: tuple[str, str], phone: str | None, member_id: str | None) -> MoneyRead[R]:
    if member_id is not None:
        found = read_together([record_key, member_key(member_id), wallet_key(member_id)])
        return MoneyRead(
            item_of(record_type, found.get(record_key)),
            item_of(Member, found.get(member_key(member_id))),
            item_of(Wallet, found.get(wallet_key(member_id))),
        )
    assert phone is not None
    found = read_together([record_key, _phone_guard_key(phone)])
    record = item_of(record_type, found.get(record_key))
    guard = item_of(PhoneGuard, found.get(_phone_guard_key(phone)))
    if record is not None or guard is None:
        return MoneyRead(record, None, None)
    member, wallet = member_and_wallet(guard.member_id)
    return MoneyRead(None, member, wallet)


def read_for_topup(topup_id: str, phone: str | None, member_id: str | None) -> MoneyRead[WalletTopup]:
    """The earlier top-up (if any), the member and their wallet: one strongly consistent batch read
    by member_id; by phone, a second one after the phone guard."""
    return _read_for_money(WalletTopup, topup_key(topup_id), phone, member_id)


def read_for_payment(payment_id: str, phone: str | None, member_id: str | None) -> MoneyRead[WalletPayment]:
    """The earlier payment (if any), the member and their wallet, as `read_for_topup`."""
    return _read_for_money(WalletPayment, payment_key(payment_id), phone, member_id)


def member_and_wallet(member_id: str) -> tuple[Member | None, Wallet | None]:
    """The member and their wallet, one strongly consistent batch read."""
    found = read_together([member_key(member_id), wallet_key(member_id)])
    return item_of(Member, found.get(member_key(member_id))), item_of(Wallet, found.get(wallet_key(member_id)))


def payment_and_refund(payment_id: str, refund_id: str) -> tuple[WalletPayment | None, WalletRefund | None]:
    """A payment and the record of one of its refunds (if made before), one batch read."""
    payment, refund = payment_key(payment_id), refund_key(payment_id, refund_id)
    found = read_together([payment, refund])
    return item_of(WalletPayment, found.get(payment)), item_of(WalletRefund, found.get(refund))


def record_store(record: WalletTopup | WalletPayment) -> str:
    """The store a top-up or payment belongs to (older records: the reporting key's)."""
    return record.store_id or record.merchant_store


# --- records ---------------------------------------------------------------------------------


def new_topup(topup_id: str, *, member_id: str, recording: Recording, **fields: Any) -> WalletTopup:
    """The top-up record: amount, bonus, currency, store_id, merchant_store."""
    return WalletTopup.new(topup_key(topup_id), topup_id=topup_id, member_id=member_id, **recording, **fields)


def new_payment(payment_id: str, *, member_id: str, recording: Recording, **fields: Any) -> WalletPayment:
    """The payment record: amount, currency, store_id, merchant_store."""
    return WalletPayment.new(payment_key(payment_id), payment_id=payment_id, member_id=member_id, **recording, **fields)


def new_payment_refund(payment_id: str, refund_id: str, *, recording: Recording, **fields: Any) -> WalletRefund:
    """The record of one refund of a payment: amount, merchant_store."""
    return WalletRefund.new(refund_key(payment_id, refund_id), refund_id=refund_id, payment_id=payment_id, **recording, **fields)


def set_refunded_amount(uow: UnitOfWork, payment: WalletPayment, refunded: int) -> None:
    """The payment's running total of refunds, conditioned on the payment's version (part "payment")."""
    uow.update("payment", payment, [WalletPayment.refunded_amount.set(refunded)])


# --- balance changes -------------------------------------------------------------------------


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
    uow: UnitOfWork, part: str, member_id: str, entry_id: str, kind: str, amount: int, balance_after: int, ref: str | None, now: datetime
) -> None:
    """Put one immutable entry in `uow` (never over an existing one)."""
    entry = WalletEntry.new((keys.member_pk(member_id), keys.wallet_entry_sk(entry_id)), entry_id, kind, balance_after, ref, now, amount=amount)
    uow.put(part, entry, WalletEntry.sk.does_not_exist())


def wallet_write(
    uow: UnitOfWork,
    member_id: str,
    wallet: Wallet | None,
    balance: int,
    currency: str,
    now: datetime,
    *,
    debit: int | None = None,
    held: int | None = None,
) -> None:
    """Set the wallet's balance in `uow` (part "wallet"): a put of a new wallet (only if none
    exists yet), or an update of `wallet` conditioned on the version read. A `debit` also
    conditions the update on the stored balance covering it: never below zero, whatever the
    caller read. `held`: what unsettled refunds now hold out of it (an existing wallet's)."""
    if wallet is None:
        uow.put(
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
        actions = [Wallet.balance.set(balance), Wallet.updated_at.set(now)]
        if held is not None:
            actions.append(Wallet.held.set(held))
        uow.update("wallet", wallet, actions, condition)


def held_of(wallet: Wallet | None) -> int:
    """What refunds not settled yet hold out of the wallet's balance."""
    return int(wallet.held or 0) if wallet is not None else 0


def release_hold(uow: UnitOfWork, wallet: Wallet | None, amount: int, now: datetime) -> None:
    """Part `wallet`: a refund that held `amount` settled (paid back by WeChat Pay): no longer held."""
    if wallet is not None and amount:
        uow.update("wallet", wallet, [Wallet.held.set(held_of(wallet) - amount), Wallet.updated_at.set(now)])


def member_status_check(uow: UnitOfWork, member_id: str, allowed: Iterable[str]) -> None:
    """Fail `uow` (part "member") unless the member still exists with one of the `allowed` statuses."""
    statuses = sorted(str(status) for status in allowed)
    uow.condition_check("member", Member, keys.member_pk(member_id), keys.PROFILE, Member.status.is_in(*statuses))


def wallet_empty_check(uow: UnitOfWork, member_id: str, part: str = "wallet") -> None:
    """Fail `uow` (part `part`) while the member's wallet holds stored value, or a refund of some of
    it has not settled yet (the money may come back to it): closing a membership must not swallow
    money owed to the member."""
    settled = Wallet.held.does_not_exist() | (Wallet.held == 0)
    uow.condition_check(part, Wallet, keys.member_pk(member_id), keys.WALLET_SK, Wallet.pk.does_not_exist() | ((Wallet.balance == 0) & settled))


# --- the statement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementOwner:
    """The first read of a statement page: the member (for their status) and, on a later page,
    their wallet (the first page's query brings the wallet itself)."""

    member: Member | None
    wallet: Wallet | None


def statement_owner(member_id: str, cursor: str | None) -> StatementOwner:
    """400 validation_error for a cursor this API did not give out, else one batch read: the
    member, and on a later page (`cursor`) their wallet too."""
    if not cursor:
        member, wallet = item_of(Member, read_together([member_key(member_id)]).get(member_key(member_id))), None
    else:
        decode_cursor(cursor, keys.WALLET_ENTRY_PREFIX)
        member, wallet = member_and_wallet(member_id)
    return StatementOwner(member, wallet)


@dataclass(frozen=True)
class WalletStatement:
    wallet: Wallet | None
    entries: Page[WalletEntry]


def statement_page(member_id: str, limit: int, cursor: str | None, owner: StatementOwner) -> WalletStatement:
    """One page of the member's wallet entries, newest first, one query.

    The first page's query starts at the WALLET item (sorted just before the entries, whose ids
    run backwards), so the balance and the newest entries come from the same read. A later page
    starts after the cursor's sort key; the partition always comes from the caller.
    """
    if cursor:
        return WalletStatement(owner.wallet, query_page(WalletEntry, keys.member_pk(member_id), keys.WALLET_ENTRY_PREFIX, limit, cursor))
    results = BaseItem.query(keys.member_pk(member_id), BaseItem.sk.startswith(keys.WALLET_SK), limit=limit + 1, consistent_read=True)
    read, entries = head_and_entries(results, Wallet, WalletEntry)
    wallet = read if read is not None else owner.wallet
    entries = entries[:limit]
    more = results.last_evaluated_key is not None and len(entries) == limit
    return WalletStatement(wallet, Page(entries, encode_cursor(keys.wallet_entry_sk(entries[-1].entry_id)) if more else None))
