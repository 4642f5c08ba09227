"""Stored value (储值): merchant top-ups, payments and payment refunds, and the member's statement.

Each write is one transaction: the business record (top-up, payment or
refund, put only if absent, keyed by the merchant's id), the wallet's new
balance (conditioned on the version read; a payment also on the balance
covering it), the immutable wallet entries, and a check that the member's
status still allows it. The record is the write's idempotency record
(store/idempotency.py): the same id with the same body again answers the
stored response (200, `Idempotent-Replayed: true`; a retry whose own first
answer was lost gets it as 201); with a different body it is
`409 idempotency_conflict`. Contention is retried; nothing is half done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..api.schemas.views import book_entry_view
from ..api.schemas.wallet import TopupRequest, WalletPaymentRequest, WalletRefundRequest
from ..domain.clock import utcnow
from ..domain.errors import (
    Forbidden,
    IdempotencyConflict,
    InsufficientFunds,
    MemberClosed,
    NotFound,
    RefundExceedsPurchase,
    ValidationFailed,
)
from ..domain.membership import MAY_BE_REFUNDED, MAY_MOVE_MONEY, require_may_move_money
from ..domain.rules import ProgramRules
from ..domain.wallet import NotEnoughFunds, RefundTooLarge, credit, debit, refunded_after, topup_bonus
from ..observability import count, logger
from ..store.idempotency import existing_record, new_write_token, put_record, replay
from ..store.models import Member, Recording
from ..store.models_wallet import Wallet, WalletEntry, WalletPayment, WalletRefund, WalletTopup
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, UnitOfWork, member_turn, run
from ..store.wallet import (
    MoneyRead,
    add_wallet_entry,
    member_and_wallet,
    member_status_check,
    new_payment,
    new_payment_refund,
    new_topup,
    new_wallet_entry_ids,
    payment_and_refund,
    payment_key,
    read_for_payment,
    read_for_topup,
    record_store,
    refund_key,
    set_refunded_amount,
    statement_owner,
    statement_page,
    topup_key,
    wallet_write,
)
from .common import Answer, accepted_currency, created, fingerprint, phone_or_error, replayed
from .merchants import Merchant
from .sessions import MemberSession


def _wallet_currency(wallet: Wallet | None, currency: str) -> None:
    if wallet is not None and wallet.currency != currency:
        raise ValidationFailed.single("currency", f"must be {wallet.currency}, the currency of the member's wallet")


def _member_who_may_move_money(member: Member | None, by: str, action: str) -> Member:
    if member is None:
        raise NotFound(f"No member with that {by}")
    require_may_move_money(member.status, action)
    return member


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


@dataclass(frozen=True)
class _MoneyRequest:
    """A top-up or a payment, checked and fingerprinted once, before its first attempt."""

    what: str  # "Top-up" | "Payment": how messages name it
    record_id: str  # the merchant's topup_id or payment_id
    request: TopupRequest | WalletPaymentRequest
    merchant: Merchant
    rules: ProgramRules
    phone: str | None  # normalised
    store_id: str  # the store the record belongs to
    digest: str
    write_token: str

    def replay(self, record: WalletTopup | WalletPayment) -> Answer:
        """The stored answer, for the store it belongs to; another store learns nothing of it."""
        if not self.merchant.acts_for(record_store(record)):
            raise IdempotencyConflict(f"{self.what} id {self.record_id} is already in use; use another id")
        conflict = f"{self.what} {self.record_id} was already recorded with a different body"
        return replayed(replay(record, self.digest, conflict, self.write_token))

    def replay_cancelled(self, cancelled: Cancelled, model: type[WalletTopup] | type[WalletPayment], key: tuple[str, str]) -> Answer | None:
        """A twin's record (or this request's own, its answer lost) answers; anything else that
        changed meanwhile (the wallet, the member) is read again (and refused then, if it must)."""
        earlier = existing_record(cancelled, "record", model, key)
        return self.replay(earlier) if earlier is not None else None

    def payer(self, found: MoneyRead[Any], action: str) -> tuple[Member, Wallet | None]:
        """The member found, who may `action`, and their wallet (in the request's currency, if any)."""
        member = _member_who_may_move_money(found.member, "phone" if self.phone else "member_id", action)
        _wallet_currency(found.wallet, self.request.currency)
        return member, found.wallet

    def recording(self, body: dict[str, Any], now: datetime) -> Recording:
        return Recording(fingerprint=self.digest, write_token=self.write_token, response=body, now=now)

    def contended(self) -> str:
        """What concurrent attempts fight over: the payer's wallet, named as the purchases name it."""
        return member_turn(self.request.member_id or self.phone)


def _money_request(what: str, id_name: str, record_id: str, request: TopupRequest | WalletPaymentRequest, merchant: Merchant) -> _MoneyRequest:
    """Check a top-up or payment once, before its attempts: its currency, its phone, the store it
    may write for; and fingerprint it."""
    rules = load_rules()
    accepted_currency(rules, request.currency)
    phone = phone_or_error(request.phone, rules) if request.phone else None
    store_id = merchant.store_for(request.store_id)
    digest = _money_request_digest(id_name, record_id, request, phone)
    return _MoneyRequest(what, record_id, request, merchant, rules, phone, store_id, digest, new_write_token())


# --- top-ups -------------------------------------------------------------------


def top_up(request: TopupRequest, merchant: Merchant) -> Answer:
    """Credit the amount and its bonus (`rules.topup_bonuses`) once per topup id."""
    topup = _money_request("Top-up", "topup_id", request.topup_id, request, merchant)

    def explain(cancelled: Cancelled) -> Answer | None:
        return topup.replay_cancelled(cancelled, WalletTopup, topup_key(request.topup_id))

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        found = read_for_topup(request.topup_id, topup.phone, request.member_id)
        if found.record is not None:
            return topup.replay(found.record)
        member, wallet = topup.payer(found, "be topped up")
        bonus = topup_bonus(topup.rules.topup_bonuses, request.amount)
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
        record = new_topup(
            request.topup_id,
            member_id=member.member_id,
            recording=topup.recording(body, now),
            amount=request.amount,
            bonus=bonus,
            currency=request.currency,
            store_id=topup.store_id,
            merchant_store=merchant.store_id,
        )
        put_record(uow, "record", record)
        wallet_write(uow, member.member_id, wallet, balance, request.currency, now)
        entry_ids = new_wallet_entry_ids(wallet, 2 if bonus else 1)
        add_wallet_entry(uow, "topup_entry", member.member_id, entry_ids[0], "topup", request.amount, after_topup, request.topup_id, now)
        if bonus:
            add_wallet_entry(uow, "bonus_entry", member.member_id, entry_ids[1], "bonus", bonus, balance, request.topup_id, now)
        member_status_check(uow, member.member_id, MAY_MOVE_MONEY)
        return uow.commit(explain) or created(body)

    answer = run(attempt, one_at_a_time=topup.contended())
    if not answer.replayed:
        count("WalletTopups")
        count("WalletToppedUp", answer.body["amount"])
        count("WalletBonus", answer.body["bonus"])
        logged = {k: answer.body[k] for k in ("member_id", "amount", "bonus")}
        logger.info("wallet topped up", extra={**logged, "store_id": merchant.store_id})
    return answer


# --- payments ------------------------------------------------------------------


def pay(request: WalletPaymentRequest, merchant: Merchant) -> Answer:
    """Debit the amount once per payment id; never below zero."""
    payment = _money_request("Payment", "payment_id", request.payment_id, request, merchant)

    def explain(cancelled: Cancelled) -> Answer | None:
        """As a top-up's; a wallet that no longer covers the payment is read again, and refused then."""
        return payment.replay_cancelled(cancelled, WalletPayment, payment_key(request.payment_id))

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        found = read_for_payment(request.payment_id, payment.phone, request.member_id)
        if found.record is not None:
            return payment.replay(found.record)
        member, wallet = payment.payer(found, "pay")
        before = int(wallet.balance) if wallet else 0
        try:
            balance = debit(before, request.amount)
        except NotEnoughFunds:
            raise InsufficientFunds(f"The payment is {request.amount}; the wallet balance is {before}") from None
        assert wallet is not None  # a payment debits money that was topped up
        body = {"payment_id": request.payment_id, "member_id": member.member_id, "amount": request.amount, "balance": balance}
        record = new_payment(
            request.payment_id,
            member_id=member.member_id,
            recording=payment.recording(body, now),
            amount=request.amount,
            currency=request.currency,
            store_id=payment.store_id,
            merchant_store=merchant.store_id,
        )
        put_record(uow, "record", record)
        wallet_write(uow, member.member_id, wallet, balance, request.currency, now, debit=request.amount)
        (entry_id,) = new_wallet_entry_ids(wallet, 1)
        add_wallet_entry(uow, "entry", member.member_id, entry_id, "payment", -request.amount, balance, request.payment_id, now)
        member_status_check(uow, member.member_id, MAY_MOVE_MONEY)
        return uow.commit(explain) or created(body)

    answer = run(attempt, one_at_a_time=payment.contended())
    if not answer.replayed:
        count("WalletPayments")
        count("WalletPaid", answer.body["amount"])
        logger.info("wallet payment", extra={"member_id": answer.body["member_id"], "amount": answer.body["amount"], "store_id": merchant.store_id})
    return answer


# --- refunds of payments ---------------------------------------------------------


def refund_payment(payment_id: str, request: WalletRefundRequest, merchant: Merchant) -> Answer:
    """Credit back (part of) a payment once per refund id; refunds never add up to more than the
    payment. Only a key of the payment's store (or a brand-wide key) may."""
    digest = fingerprint({"payment_id": payment_id, "refund_id": request.refund_id, "amount": request.amount})
    write_token = new_write_token()
    conflict = f"Refund {request.refund_id} of payment {payment_id} was already recorded with a different amount"

    def explain(cancelled: Cancelled) -> Answer | None:
        """A twin's refund record (or this request's own) answers; a payment, wallet or member
        that changed meanwhile is read again."""
        earlier = existing_record(cancelled, "refund", WalletRefund, refund_key(payment_id, request.refund_id))
        return replayed(replay(earlier, digest, conflict, write_token)) if earlier is not None else None

    def attempt(uow: UnitOfWork) -> tuple[Answer, str]:
        """The answer, and the member refunded (for the log)."""
        now = utcnow()
        payment, done = payment_and_refund(payment_id, request.refund_id)
        if payment is None:
            raise NotFound(f"No wallet payment with payment id {payment_id}")
        if not merchant.acts_for(record_store(payment)):
            raise Forbidden("Only the store that recorded this payment may refund it")
        member_id = payment.member_id
        if done is not None:
            return replayed(replay(done, digest, conflict, write_token)), member_id
        member, wallet = member_and_wallet(member_id)
        if member is None or member.status not in MAY_BE_REFUNDED:
            raise MemberClosed("The membership is closed: refund this payment by other means")
        try:
            refunded = refunded_after(int(payment.amount), int(payment.refunded_amount), request.amount)
        except RefundTooLarge:
            total = int(payment.refunded_amount) + request.amount
            raise RefundExceedsPurchase(f"Refunds would total {total}, more than the payment amount {int(payment.amount)}") from None
        balance = credit(int(wallet.balance) if wallet else 0, request.amount)
        body = {"refund_id": request.refund_id, "payment_id": payment_id, "amount": request.amount, "balance": balance}
        record = new_payment_refund(
            payment_id,
            request.refund_id,
            recording=Recording(fingerprint=digest, write_token=write_token, response=body, now=now),
            amount=request.amount,
            merchant_store=merchant.store_id,
        )
        put_record(uow, "refund", record)
        set_refunded_amount(uow, payment, refunded)
        wallet_write(uow, member_id, wallet, balance, str(payment.currency), now)
        (entry_id,) = new_wallet_entry_ids(wallet, 1)
        add_wallet_entry(uow, "entry", member_id, entry_id, "refund", request.amount, balance, payment_id, now)
        member_status_check(uow, member_id, MAY_BE_REFUNDED)
        return uow.commit(explain) or created(body), member_id

    answer, member_id = run(attempt, one_at_a_time=f"wallet-payment:{payment_id}")
    if not answer.replayed:
        count("WalletRefunds")
        count("WalletRefunded", answer.body["amount"])
        logger.info(
            "wallet payment refunded",
            extra={"member_id": member_id, "payment_id": payment_id, "amount": answer.body["amount"], "store_id": merchant.store_id},
        )
    return answer


# --- the member's statement ----------------------------------------------------------


def wallet_statement(session: MemberSession, limit: int, cursor: str | None) -> dict[str, Any]:
    """Balance, currency and one page of entries, newest first.

    Two round trips a page. The first page: the member's status (a closed
    member is refused, as on the points ledger) and one query that returns
    the WALLET item followed by the newest entries, so the balance and the
    entries come from the same read. A later page: member and wallet in one
    batch read, then the entries after the cursor. A cursor carries only a
    sort key: the partition always comes from the caller's token. The token is admitted on the
    member read (sessions.MemberSession.admit).
    """
    member_id = session.member_id
    owner = statement_owner(member_id, cursor)
    session.admit(owner.member)
    statement = statement_page(member_id, limit, cursor, owner)
    wallet = statement.wallet
    return {
        "balance": int(wallet.balance) if wallet else 0,
        "currency": wallet.currency if wallet else load_rules().currencies[0],
        **statement.entries.view(_entry_view),
    }


def _entry_view(entry: WalletEntry) -> dict[str, Any]:
    return book_entry_view(entry, "amount", entry.amount)
