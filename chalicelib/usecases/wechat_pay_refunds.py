"""An operator refunds a paid WeChat Pay top-up to the payer (docs/wechat-pay.md, "Refunds").

Hold first, then ask: one unit of work puts the refund record (the request's idempotency record,
keyed by the order and the Idempotency-Key), moves the order `paid` -> `refunding` (one refund
of an order at a time, whatever races) and takes the top-up and its bonus out of the wallet as
`topup_refund` and `bonus_clawback` entries, refused whole when the wallet no longer holds them.
Only then is WeChat Pay asked (`POST /v3/refund/domestic/refunds`, out_refund_no derived from
the order and the key, so a retry asks for the same refund and WeChat Pay does it once). The
money can therefore never be spent while WeChat Pay pays it back. WeChat Pay's refund
notification (signed, encrypted, on its own route) settles the refund once: REFUND.SUCCESS makes
the order `refunded`; REFUND.ABNORMAL / REFUND.CLOSED, or WeChat Pay refusing the request outright,
give the held money back in a `refund_returned` entry and make the order `paid` again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..api.schemas.operators import ReasonRequest
from ..domain import wechat_pay as wxpay
from ..domain.clock import iso, utcnow
from ..domain.errors import (
    AlreadyRefunded,
    IdempotencyConflict,
    InsufficientFunds,
    MemberClosed,
    NotFound,
    OrderNotPaid,
    PaymentProviderFailed,
    ValidationFailed,
)
from ..domain.membership import MAY_BE_REFUNDED
from ..domain.wallet import NotEnoughFunds, credit, topup_refund_hold
from ..notify.wechat_pay import WeChatPayError
from ..observability import count, logger
from ..settings import get_settings
from ..store import wechat_pay_refunds as store
from ..store.idempotency import existing_record, new_write_token, put_record
from ..store.models import Recording
from ..store.models_wallet import Wallet
from ..store.models_wechat_pay import WeChatPayRefund
from ..store.parameters import load_rules, wechat_pay_credentials
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from ..store.wallet import add_wallet_entry, held_of, new_wallet_entry_ids, release_hold, wallet_write
from .audit import Change, add_audit
from .common import Answer, created, fingerprint
from .wechat_pay import client, verified_resource


def refund_view(refund: WeChatPayRefund) -> dict[str, Any]:
    return {
        "out_trade_no": refund.out_trade_no,
        "out_refund_no": refund.out_refund_no,
        "member_id": refund.member_id,
        "amount": int(refund.amount),
        "bonus": int(refund.bonus),
        "currency": refund.currency,
        "status": refund.status,
        "refund_id": refund.refund_id,
        "failure": refund.failure,
        "created_at": iso(refund.created_at),
        "settled_at": iso(refund.settled_at) if refund.settled_at else None,
    }


def out_refund_no(out_trade_no: str, idempotency_key: str) -> str:
    """WeChat Pay's out_refund_no (1 to 64 of [A-Za-z0-9_-|*@]), the same for a retried request."""
    return "RF" + hashlib.sha256(f"{out_trade_no}\n{idempotency_key}".encode()).hexdigest()[:30].upper()


def _refund_notify_url() -> str:
    """The refund notifications' route, beside the payment notifications' (one setting)."""
    return get_settings().wechat_pay_notify_url.rsplit("/", 1)[0] + "/refund-notifications"


# --- the operator's refund -------------------------------------------------------------------------


def refund_topup(out_trade_no: str, idempotency_key: str, request: ReasonRequest, actor: str) -> Answer:
    """201 and the refund (status processing, or failed when WeChat Pay refused it: the money is
    back in the wallet); the same key again: the refund as it stands (200). 404 unknown order,
    409 order_not_paid, already_refunded, insufficient_funds, idempotency_conflict."""
    if not wxpay.is_id(out_trade_no, 32):
        raise NotFound("No such WeChat Pay top-up")
    refund_no = out_refund_no(out_trade_no, idempotency_key)
    digest = fingerprint({"out_trade_no": out_trade_no, "reason": request.reason})
    write_token = new_write_token()
    rules = load_rules()

    def explain(cancelled: Cancelled) -> WeChatPayRefund | None:
        # A twin request under the same key held it first: its record answers. Anything else
        # (the order or the wallet changed) is read again.
        return existing_record(cancelled, "refund", WeChatPayRefund, store.refund_key(out_trade_no, refund_no))

    def attempt(uow: UnitOfWork) -> tuple[WeChatPayRefund, bool]:
        now = utcnow()
        found = store.read_for_refund(out_trade_no, refund_no)
        if found.refund is not None:
            return found.refund, False
        order = found.order
        if order is None:
            raise NotFound("No such WeChat Pay top-up")
        if order.status in ("created", "failed"):
            raise OrderNotPaid(f"Order {out_trade_no} was not paid: there is nothing to refund")
        if order.status != "paid":
            raise AlreadyRefunded(f"Order {out_trade_no} is {order.status}")
        member, wallet = found.member, found.wallet
        if member is None or member.status not in MAY_BE_REFUNDED:
            raise MemberClosed("The membership is closed")
        amount, bonus = int(order.amount), int(order.bonus or 0)
        before = int(wallet.balance) if wallet else 0
        try:
            balance = topup_refund_hold(before, amount, bonus)
        except NotEnoughFunds:
            raise InsufficientFunds(
                f"The wallet holds {before}; refunding this top-up takes {amount + bonus} (the top-up and its bonus) out of it"
            ) from None
        refund = store.new_refund(
            order,
            refund_no,
            recording=Recording(fingerprint=digest, write_token=write_token, response={"out_refund_no": refund_no}, now=now),
            amount=amount,
            bonus=bonus,
            currency=order.currency,
            actor=actor,
            held_in_wallet=True,
        )
        put_record(uow, "refund", refund)
        store.hold_order(uow, order, refund_no)
        wallet_write(uow, order.member_id, wallet, balance, order.currency, now, debit=amount + bonus, held=held_of(wallet) + amount + bonus)
        entry_ids = new_wallet_entry_ids(wallet, 2 if bonus else 1)
        after_refund = before - amount
        add_wallet_entry(uow, "refund_entry", order.member_id, entry_ids[0], "topup_refund", -amount, after_refund, out_trade_no, now)
        if bonus:
            add_wallet_entry(uow, "clawback_entry", order.member_id, entry_ids[1], "bonus_clawback", -bonus, balance, out_trade_no, now)
        change = Change(
            actor,
            "wechat_pay.refund",
            "member",
            order.member_id,
            {"order": "paid", "wallet": before},
            {"order": "refunding", "wallet": balance, "amount": amount, "bonus": bonus},
            reason=request.reason,
            member_id=order.member_id,
            ref=out_trade_no,
        )
        add_audit(uow, change, rules, now)
        earlier = uow.commit(explain)
        return (earlier, False) if earlier is not None else (refund, True)

    refund, held = run(attempt, one_at_a_time=f"wxrefund:{out_trade_no}")
    if refund.fingerprint != digest:
        raise IdempotencyConflict(f"Idempotency-Key was used for a refund of {refund.out_trade_no} with another reason")
    if held:
        count("WeChatPayRefundsHeld")
        logger.info("wechat pay refund held", extra={"member_id": refund.member_id, "out_trade_no": out_trade_no, "amount": int(refund.amount)})
    if refund.status == "requested":
        refund = ask_wechat_pay(refund)
    view = refund_view(refund)
    return created(view) if held else Answer(200, view, replayed=True)


def ask_wechat_pay(refund: WeChatPayRefund) -> WeChatPayRefund:
    """Ask WeChat Pay for the refund held. Accepted: processing. Refused outright: the refund fails
    and the money comes back. Not answered: it stays requested, and the same request again asks
    again (the same out_refund_no: WeChat Pay refunds once)."""
    try:
        answer = client().refund(
            out_trade_no=refund.out_trade_no,
            out_refund_no=refund.out_refund_no,
            refund=int(refund.amount),
            total=int(refund.amount),
            notify_url=_refund_notify_url(),
        )
    except WeChatPayError as exc:
        # Only WeChat Pay's own signed 4xx is a refusal (the money comes back). No answer, a 5xx,
        # 429 (too frequent), or an answer it did not sign leaves the money held: WeChat Pay may
        # have made the refund, and returning the money then would pay it twice.
        refused = exc.signed and exc.status is not None and 400 <= exc.status < 500 and exc.status != 429
        if not refused:
            count("WeChatPayRefundsUnanswered")
            raise PaymentProviderFailed(
                "WeChat Pay did not answer the refund (or not in its name): the money stays held; send the same request again (same Idempotency-Key)"
            ) from None
        settle(refund.out_trade_no, refund.out_refund_no, succeeded=False, refund_id=None, failure=exc.code or f"HTTP_{exc.status}")
        settled = store.get_refund(refund.out_trade_no, refund.out_refund_no)
        assert settled is not None
        return settled
    refund_id = answer.get("refund_id") if isinstance(answer.get("refund_id"), str) else None
    store.mark_processing(refund, refund_id)
    count("WeChatPayRefundsRequested")
    current = store.get_refund(refund.out_trade_no, refund.out_refund_no)
    assert current is not None
    return current


# --- settling: WeChat Pay's notification, or its refusal ---------------------------------------------


def settle(out_trade_no: str, refund_no: str, *, succeeded: bool, refund_id: str | None, failure: str | None) -> str:
    """Settle an open refund once: succeeded (the order refunded) or failed (the held money back in
    the wallet, the order paid again). Returns what happened: settled | already_settled | unknown."""

    def attempt(uow: UnitOfWork) -> str:
        now = utcnow()
        found = store.read_for_refund(out_trade_no, refund_no)
        refund, order = found.refund, found.order
        if refund is None or order is None:
            return "unknown"
        if refund.status not in store.OPEN_STATUSES:
            return "already_settled"
        store.settle_refund(uow, refund, "succeeded" if succeeded else "failed", now, refund_id=refund_id, failure=failure)
        store.settle_order(uow, order, refund_no, succeeded)
        if succeeded:
            release_hold(uow, found.wallet, _counted(refund), now)
        else:
            _give_back(uow, refund, found.wallet, now)
        uow.commit()
        return "settled"

    outcome = run(attempt, one_at_a_time=f"wxrefund:{out_trade_no}")
    if outcome == "settled":
        count("WeChatPayRefundsSucceeded" if succeeded else "WeChatPayRefundsFailed")
        logger.info("wechat pay refund settled", extra={"out_trade_no": out_trade_no, "succeeded": succeeded, "failure": failure})
    return outcome


def _counted(refund: WeChatPayRefund) -> int:
    """What the refund added to the wallet's `held` (nothing for one held before `held` was kept)."""
    return int(refund.amount) + int(refund.bonus) if refund.held_in_wallet else 0


def _give_back(uow: UnitOfWork, refund: WeChatPayRefund, wallet: Wallet | None, now: datetime) -> None:
    """The money held for a failed refund back in the wallet, one `refund_returned` entry, no longer
    held. Even a member frozen since gets it back: it is theirs (and the membership cannot close
    while a refund holds money: store/wallet.wallet_empty_check)."""
    held = int(refund.amount) + int(refund.bonus)
    balance = credit(int(wallet.balance) if wallet else 0, held)
    wallet_write(uow, refund.member_id, wallet, balance, refund.currency, now, held=held_of(wallet) - _counted(refund))
    (entry_id,) = new_wallet_entry_ids(wallet, 1)
    add_wallet_entry(uow, "returned_entry", refund.member_id, entry_id, "refund_returned", held, balance, refund.out_trade_no, now)


def refund_notification(headers: Mapping[str, str], body: str) -> None:
    """Verify, decrypt and settle a refund notification once per refund (a replay changes nothing).

    Raises InvalidSignature (nothing read or written). A verified notification of a refund we do
    not know is answered 2xx and kept in the log: WeChat Pay would only send it again."""
    creds = wechat_pay_credentials()
    resource = verified_resource(headers, body, creds)
    event_type = resource.get("_event_type")
    if event_type not in ("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"):
        logger.info("wechat pay refund notification ignored", extra={"event_type": event_type})
        return
    out_trade_no, refund_no, status = resource.get("out_trade_no"), resource.get("out_refund_no"), resource.get("refund_status")
    refund_id = resource.get("refund_id")
    if not wxpay.is_id(out_trade_no, 32):
        raise ValidationFailed.single("resource", "a refund without our out_trade_no")
    if not wxpay.is_id(refund_no, 64):
        raise ValidationFailed.single("resource", "a refund without our out_refund_no")
    succeeded = event_type == "REFUND.SUCCESS" and status == "SUCCESS"
    outcome = settle(
        out_trade_no,
        refund_no,
        succeeded=succeeded,
        refund_id=refund_id if isinstance(refund_id, str) else None,
        failure=None if succeeded else str(status or event_type)[:64],
    )
    count(f"WeChatPayRefundNotification_{outcome}")
    if outcome == "unknown":
        logger.warning("wechat pay refund notification for an unknown refund", extra={"out_trade_no": out_trade_no, "out_refund_no": refund_no})
