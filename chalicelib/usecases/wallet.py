"""Stored value (储值): merchant top-ups, payments and payment refunds, and the member's statement.

Each write is one transaction: the business record (top-up, payment or
refund, put only if absent, keyed by the merchant's id), the wallet's new
balance (conditioned on the version read; a payment also on the balance
covering it), the immutable wallet entries, and a check that the member's
status still allows it. A replay of the same id with the same body answers
the stored response with the same status (201); with a different body it is
`409 idempotency_conflict`. Contention is retried; nothing is half done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..api.schemas.wallet import TopupRequest, WalletPaymentRequest, WalletRefundRequest
from ..domain.clock import iso, utcnow
from ..domain.errors import (
    Forbidden,
    IdempotencyConflict,
    InsufficientFunds,
    MemberClosed,
    MemberFrozen,
    NotFound,
    RefundExceedsPurchase,
    Unauthorized,
    ValidationFailed,
)
from ..domain.rules import ProgramRules
from ..domain.wallet import NotEnoughFunds, RefundTooLarge, credit, debit, refunded_after, topup_bonus
from ..observability import count, logger
from ..store import keys
from ..store.members import as_dict
from ..store.models import BaseItem, Member
from ..store.models_wallet import Wallet, WalletEntry, WalletPayment, WalletRefund, WalletTopup
from ..store.paging import decode_cursor, encode_cursor
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, Retryable, Transaction, with_retries
from ..store.wallet import (
    add_wallet_entry,
    guard_member_id,
    member_key,
    member_status_check,
    new_wallet_entry_ids,
    phone_guard_key,
    read_items,
    statement_query,
    wallet_key,
    wallet_write,
)
from .common import fingerprint, phone_or_error, plain
from .merchants import Merchant

# Who may move money: a pending member (enrolled by a purchase, not yet signed
# up) holds a wallet like anyone else; a frozen one only gets refunds back.
CAN_TOP_UP_OR_PAY = ("pending", "active")
CAN_BE_REFUNDED = ("pending", "active", "frozen")


@dataclass(frozen=True)
class WalletOutcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class _Found:
    record: BaseItem | None
    member: Member | None
    wallet: Wallet | None


def _accepted_currency(rules: ProgramRules, currency: str) -> None:
    if currency not in rules.currencies:
        raise ValidationFailed.single("currency", f"must be one of {', '.join(rules.currencies)}")


def _wallet_currency(wallet: Wallet | None, currency: str) -> None:
    if wallet is not None and wallet.currency != currency:
        raise ValidationFailed.single("currency", f"must be {wallet.currency}, the currency of the member's wallet")


def _read(record_key: tuple[str, str], phone: str | None, member_id: str | None) -> _Found:
    """The earlier record (if any), the member and their wallet: one strongly
    consistent batch read by member_id; by phone, a second one after the phone guard."""
    if member_id is not None:
        found = read_items([record_key, member_key(member_id), wallet_key(member_id)])
        return _Found(found.get(record_key), _member(found.get(member_key(member_id))), _wallet(found.get(wallet_key(member_id))))
    assert phone is not None
    found = read_items([record_key, phone_guard_key(phone)])
    record = found.get(record_key)
    owner = guard_member_id(found.get(phone_guard_key(phone)))
    if record is not None or owner is None:
        return _Found(record, None, None)
    more = read_items([member_key(owner), wallet_key(owner)])
    return _Found(None, _member(more.get(member_key(owner))), _wallet(more.get(wallet_key(owner))))


def _member(item: Any) -> Member | None:
    return item if isinstance(item, Member) else None


def _wallet(item: Any) -> Wallet | None:
    return item if isinstance(item, Wallet) else None


def _member_who_may(member: Member | None, allowed: tuple[str, ...], by: str, action: str) -> Member:
    if member is None:
        raise NotFound(f"No member with that {by}")
    if member.status == "frozen" and "frozen" not in allowed:
        raise MemberFrozen(f"The membership is frozen; the wallet cannot {action}")
    if member.status not in allowed:
        raise MemberClosed("The membership is closed")
    return member


def _replay(stored_fingerprint: str, response: Any, digest: str, conflict: str) -> WalletOutcome:
    if stored_fingerprint != digest:
        raise IdempotencyConflict(conflict)
    return WalletOutcome(201, plain(as_dict(response)), replayed=True)


def _record_store(record: WalletTopup | WalletPayment) -> str:
    """The store a top-up or payment belongs to (older records: the reporting key's)."""
    return record.store_id or record.merchant_store


def _replay_record(record: WalletTopup | WalletPayment, digest: str, conflict: str, merchant: Merchant, what: str, record_id: str) -> WalletOutcome:
    """The stored answer, for the store it belongs to; another store learns nothing of it."""
    if not merchant.acts_for(_record_store(record)):
        raise IdempotencyConflict(f"{what} id {record_id} is already in use; use another id")
    return _replay(record.fingerprint, record.response, digest, conflict)


def _commit(tx: Transaction, record_part: str, replay_raw: Callable[[dict[str, Any] | None], WalletOutcome]) -> WalletOutcome | None:
    """Commit, or answer from the record when it already exists (a concurrent twin,
    or this request's own write whose answer was lost); on any other failed
    condition (wallet, member, payment changed meanwhile) retry from the reads."""
    try:
        tx.commit()
    except Cancelled as exc:
        if record_part in exc.failed:
            return replay_raw(exc.failed[record_part])
        raise Retryable(f"{', '.join(exc.failed)} changed meanwhile") from exc
    return None


def _money_request_digest(id_name: str, id_value: str, request: TopupRequest | WalletPaymentRequest, phone: str | None) -> str:
    """What a top-up or payment means, to tell a replay from a conflict (phone normalised)."""
    return fingerprint(
        {
            id_name: id_value,
            "phone": phone,
            "member_id": request.member_id,
            "amount": request.amount,
            "currency": request.currency,
            "store_id": request.store_id,
        }
    )


# --- top-ups -------------------------------------------------------------------


def top_up(request: TopupRequest, merchant: Merchant) -> WalletOutcome:
    """Credit the amount and its bonus (`rules.topup_bonuses`) once per topup id."""
    rules = load_rules()
    _accepted_currency(rules, request.currency)
    phone = phone_or_error(request.phone, rules) if request.phone else None
    store_id = merchant.store_for(request.store_id)
    digest = _money_request_digest("topup_id", request.topup_id, request, phone)
    record_key = (keys.topup_pk(request.topup_id), keys.TOPUP_SK)
    conflict = f"Top-up {request.topup_id} was already recorded with a different body"

    def replay_raw(raw: dict[str, Any] | None) -> WalletOutcome:
        record = WalletTopup.from_raw_data(raw) if raw else WalletTopup.get(*record_key, consistent_read=True)
        return _replay_record(record, digest, conflict, merchant, "Top-up", request.topup_id)

    def attempt() -> WalletOutcome:
        now = utcnow()
        found = _read(record_key, phone, request.member_id)
        if isinstance(found.record, WalletTopup):
            return _replay_record(found.record, digest, conflict, merchant, "Top-up", request.topup_id)
        member = _member_who_may(found.member, CAN_TOP_UP_OR_PAY, "phone" if phone else "member_id", "be topped up")
        wallet = found.wallet
        _wallet_currency(wallet, request.currency)
        bonus = topup_bonus(rules.topup_bonuses, request.amount)
        before = int(wallet.balance) if wallet else 0
        after_topup = credit(before, request.amount)
        balance = credit(after_topup, bonus) if bonus else after_topup
        body = {
            "topup_id": request.topup_id,
            "member_id": member.member_id,
            "amount": request.amount,
            "bonus": bonus,
            "balance": balance,
            "currency": request.currency,
        }
        tx = Transaction()
        tx.put(
            "record",
            WalletTopup(
                *record_key,
                topup_id=request.topup_id,
                fingerprint=digest,
                member_id=member.member_id,
                amount=request.amount,
                bonus=bonus,
                currency=request.currency,
                store_id=store_id,
                merchant_store=merchant.store_id,
                response=body,
                created_at=now,
            ),
            WalletTopup.pk.does_not_exist(),
            return_old=True,
        )
        wallet_write(tx, member.member_id, wallet, balance, request.currency, now)
        entry_ids = new_wallet_entry_ids(wallet, 2 if bonus else 1)
        add_wallet_entry(tx, "topup_entry", member.member_id, entry_ids[0], "topup", request.amount, after_topup, request.topup_id, now)
        if bonus:
            add_wallet_entry(tx, "bonus_entry", member.member_id, entry_ids[1], "bonus", bonus, balance, request.topup_id, now)
        member_status_check(tx, member.member_id, CAN_TOP_UP_OR_PAY)
        return _commit(tx, "record", replay_raw) or WalletOutcome(201, body)

    outcome = with_retries(attempt)
    if not outcome.replayed:
        count("WalletTopups")
        count("WalletToppedUp", outcome.body["amount"])
        count("WalletBonus", outcome.body["bonus"])
        logged = {k: outcome.body[k] for k in ("member_id", "amount", "bonus")}
        logger.info("wallet topped up", extra={**logged, "store_id": merchant.store_id})
    return outcome


# --- payments ------------------------------------------------------------------


def pay(request: WalletPaymentRequest, merchant: Merchant) -> WalletOutcome:
    """Debit the amount once per payment id; never below zero."""
    rules = load_rules()
    _accepted_currency(rules, request.currency)
    phone = phone_or_error(request.phone, rules) if request.phone else None
    store_id = merchant.store_for(request.store_id)
    digest = _money_request_digest("payment_id", request.payment_id, request, phone)
    record_key = (keys.payment_pk(request.payment_id), keys.PAYMENT_SK)
    conflict = f"Payment {request.payment_id} was already recorded with a different body"

    def replay_raw(raw: dict[str, Any] | None) -> WalletOutcome:
        record = WalletPayment.from_raw_data(raw) if raw else WalletPayment.get(*record_key, consistent_read=True)
        return _replay_record(record, digest, conflict, merchant, "Payment", request.payment_id)

    def attempt() -> WalletOutcome:
        now = utcnow()
        found = _read(record_key, phone, request.member_id)
        if isinstance(found.record, WalletPayment):
            return _replay_record(found.record, digest, conflict, merchant, "Payment", request.payment_id)
        member = _member_who_may(found.member, CAN_TOP_UP_OR_PAY, "phone" if phone else "member_id", "pay")
        wallet = found.wallet
        _wallet_currency(wallet, request.currency)
        before = int(wallet.balance) if wallet else 0
        try:
            balance = debit(before, request.amount)
        except NotEnoughFunds:
            raise InsufficientFunds(f"The payment is {request.amount}; the wallet balance is {before}") from None
        assert wallet is not None  # a payment debits money that was topped up
        body = {"payment_id": request.payment_id, "member_id": member.member_id, "amount": request.amount, "balance": balance}
        tx = Transaction()
        tx.put(
            "record",
            WalletPayment(
                *record_key,
                payment_id=request.payment_id,
                fingerprint=digest,
                member_id=member.member_id,
                amount=request.amount,
                currency=request.currency,
                store_id=store_id,
                merchant_store=merchant.store_id,
                response=body,
                created_at=now,
            ),
            WalletPayment.pk.does_not_exist(),
            return_old=True,
        )
        wallet_write(tx, member.member_id, wallet, balance, request.currency, now, debit=request.amount)
        (entry_id,) = new_wallet_entry_ids(wallet, 1)
        add_wallet_entry(tx, "entry", member.member_id, entry_id, "payment", -request.amount, balance, request.payment_id, now)
        member_status_check(tx, member.member_id, CAN_TOP_UP_OR_PAY)
        return _commit(tx, "record", replay_raw) or WalletOutcome(201, body)

    outcome = with_retries(attempt)
    if not outcome.replayed:
        count("WalletPayments")
        count("WalletPaid", outcome.body["amount"])
        logger.info("wallet payment", extra={"member_id": outcome.body["member_id"], "amount": outcome.body["amount"], "store_id": merchant.store_id})
    return outcome


# --- refunds of payments ---------------------------------------------------------


def refund_payment(payment_id: str, request: WalletRefundRequest, merchant: Merchant) -> WalletOutcome:
    """Credit back (part of) a payment once per refund id; refunds never add up to more than the
    payment. Only a key of the payment's store (or a brand-wide key) may."""
    digest = fingerprint({"payment_id": payment_id, "refund_id": request.refund_id, "amount": request.amount})
    payment_key = (keys.payment_pk(payment_id), keys.PAYMENT_SK)
    refund_key = (keys.payment_pk(payment_id), keys.refund_sk(request.refund_id))
    conflict = f"Refund {request.refund_id} of payment {payment_id} was already recorded with a different amount"
    refunded_to: list[str] = []

    def replay_raw(raw: dict[str, Any] | None) -> WalletOutcome:
        record = WalletRefund.from_raw_data(raw) if raw else WalletRefund.get(*refund_key, consistent_read=True)
        return _replay(record.fingerprint, record.response, digest, conflict)

    def attempt() -> WalletOutcome:
        now = utcnow()
        found = read_items([payment_key, refund_key])
        payment = found.get(payment_key)
        if not isinstance(payment, WalletPayment):
            raise NotFound(f"No wallet payment with payment id {payment_id}")
        if not merchant.acts_for(_record_store(payment)):
            raise Forbidden("Only the store that recorded this payment may refund it")
        done = found.get(refund_key)
        if isinstance(done, WalletRefund):
            return _replay(done.fingerprint, done.response, digest, conflict)
        member_id = payment.member_id
        refunded_to[:] = [member_id]
        more = read_items([member_key(member_id), wallet_key(member_id)])
        member = _member(more.get(member_key(member_id)))
        if member is None or member.status not in CAN_BE_REFUNDED:
            raise MemberClosed("The membership is closed: refund this payment by other means")
        wallet = _wallet(more.get(wallet_key(member_id)))
        try:
            refunded = refunded_after(int(payment.amount), int(payment.refunded_amount), request.amount)
        except RefundTooLarge:
            total = int(payment.refunded_amount) + request.amount
            raise RefundExceedsPurchase(f"Refunds would total {total}, more than the payment amount {int(payment.amount)}") from None
        balance = credit(int(wallet.balance) if wallet else 0, request.amount)
        body = {"refund_id": request.refund_id, "payment_id": payment_id, "amount": request.amount, "balance": balance}
        tx = Transaction()
        tx.put(
            "refund",
            WalletRefund(
                *refund_key,
                refund_id=request.refund_id,
                payment_id=payment_id,
                fingerprint=digest,
                amount=request.amount,
                merchant_store=merchant.store_id,
                response=body,
                created_at=now,
            ),
            WalletRefund.pk.does_not_exist(),
            return_old=True,
        )
        tx.update("payment", payment, [WalletPayment.refunded_amount.set(refunded)])
        wallet_write(tx, member_id, wallet, balance, str(payment.currency), now)
        (entry_id,) = new_wallet_entry_ids(wallet, 1)
        add_wallet_entry(tx, "entry", member_id, entry_id, "refund", request.amount, balance, payment_id, now)
        member_status_check(tx, member_id, CAN_BE_REFUNDED)
        return _commit(tx, "refund", replay_raw) or WalletOutcome(201, body)

    outcome = with_retries(attempt)
    if not outcome.replayed:
        count("WalletRefunds")
        count("WalletRefunded", outcome.body["amount"])
        logger.info(
            "wallet payment refunded",
            extra={"member_id": refunded_to[0], "payment_id": payment_id, "amount": outcome.body["amount"], "store_id": merchant.store_id},
        )
    return outcome


# --- the member's statement ----------------------------------------------------------


def wallet_statement(member_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """Balance, currency and one page of entries, newest first.

    Two round trips a page. The first page: the member's status (a closed
    member is refused, as on the points ledger) and one query that returns
    the WALLET item followed by the newest entries, so the balance and the
    entries come from the same read. A later page: member and wallet in one
    batch read, then the entries after the cursor. A cursor carries only a
    sort key: the partition always comes from the caller's token.
    """
    after = decode_cursor(cursor, keys.WALLET_ENTRY_PREFIX) if cursor else None
    # The first page's query returns the wallet itself; a later page reads it with the member.
    found = read_items([member_key(member_id)] if after is None else [member_key(member_id), wallet_key(member_id)])
    member = _member(found.get(member_key(member_id)))
    if member is None or member.status == "closed":
        raise Unauthorized("The membership is closed")
    wallet = _wallet(found.get(wallet_key(member_id)))
    results = statement_query(member_id, limit, after)
    entries: list[WalletEntry] = []
    for item in results:
        if isinstance(item, Wallet):
            wallet = item
        elif isinstance(item, WalletEntry):
            entries.append(item)
    entries = entries[:limit]
    more = results.last_evaluated_key is not None and len(entries) == limit
    next_cursor = encode_cursor(keys.wallet_entry_sk(entries[-1].entry_id)) if more else None
    return {
        "balance": int(wallet.balance) if wallet else 0,
        "currency": wallet.currency if wallet else load_rules().currencies[0],
        "items": [_entry_view(e) for e in entries],
        "next_cursor": next_cursor,
    }


def _entry_view(entry: WalletEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "kind": entry.kind,
        "amount": int(entry.amount),
        "balance_after": int(entry.balance_after),
        "created_at": iso(entry.created_at),
        "ref": entry.ref,
    }
