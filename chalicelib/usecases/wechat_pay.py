"""Stored value topped up through WeChat Pay (API v3): the member's order, WeChat Pay's payment
notification, and the order's status (docs/wechat-pay.md).

1. `create_topup_order`: our order is written first (status created), then WeChat Pay is asked
   for a prepay_id, and the app gets the signed parameters of `wx.requestPayment`.
2. `payment_notification`: WeChat Pay calls us when the member has paid. The notification is
   believed only when its signature verifies with WeChat Pay's platform key and it is less than
   5 minutes old; its resource is decrypted with the APIv3 key. Then one transaction credits the
   wallet (and the top-up bonus of the rules, as `wallet.top_up` gives it) under WeChat's
   transaction id, put only if absent: a replayed or concurrent duplicate credits nothing more.
   A notification for an order not written yet is answered 404 so that WeChat Pay retries it; an
   amount other than the order's is kept as an anomaly for operators and not credited.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from ..api.schemas.wechat_pay import WeChatPayNotification, WeChatTopupRequest
from ..domain import wechat_pay as wxpay
from ..domain.clock import iso, utcnow
from ..domain.errors import (
    InvalidSignature,
    NotFound,
    NotificationTooEarly,
    PaymentProviderFailed,
    ValidationFailed,
    WechatNotBound,
)
from ..domain.membership import MAY_BE_REFUNDED, require_may_move_money
from ..domain.pay_to_join import is_store_payment
from ..domain.wallet import credit, topup_bonus
from ..notify.wechat_pay import WeChatPay, WeChatPayError
from ..observability import count, logger
from ..settings import get_settings
from ..store import wechat_pay as store
from ..store.idempotency import new_write_token, put_record
from ..store.models import Recording
from ..store.models_wechat_pay import WeChatPayOrder
from ..store.parameters import load_rules, wechat_pay_credentials
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from ..store.wallet import add_wallet_entry, member_status_check, new_wallet_entry_ids, wallet_write
from ..store.wechat import wechat_openid
from .common import Answer, created
from .pay_to_join import store_payment_notification
from .sessions import MemberSession, open_member

CURRENCY = "CNY"  # WeChat Pay's domestic payments are in fen


def client() -> WeChatPay:
    settings = get_settings()
    # The merchant's appid is the mini-program's, the one WeChat sign-in binds openids in.
    return WeChatPay(settings.wechat_pay_base_url, wechat_pay_credentials(), settings.wechat_mini_program_appid)


def _new_out_trade_no(now: datetime) -> str:
    """WeChat Pay's out_trade_no: 6 to 32 of [A-Za-z0-9_-*], unique per merchant."""
    return f"WX{now:%Y%m%d%H%M%S}{secrets.token_hex(6).upper()}"


def order_view(order: WeChatPayOrder) -> dict[str, Any]:
    return {
        "out_trade_no": order.out_trade_no,
        "amount": int(order.amount),
        "currency": order.currency,
        "status": order.status,
        "bonus": int(order.bonus) if order.bonus is not None else None,
        "transaction_id": order.transaction_id,
        "created_at": iso(order.created_at),
        "paid_at": iso(order.paid_at) if order.paid_at else None,
    }


# --- the member's order --------------------------------------------------------------------------


def create_topup_order(session: MemberSession, request: WeChatTopupRequest) -> Answer:
    """A new WeChat Pay order for `amount` fen and the mini-program's payment parameters."""
    member = open_member(session)
    require_may_move_money(member.status, "be topped up")
    rules = load_rules()
    if CURRENCY not in rules.currencies:
        raise ValidationFailed.single("amount", f"the program does not take {CURRENCY}, WeChat Pay's currency")
    openid = wechat_openid(member)  # WeChat sign-in's binding in the mini-program (store/wechat.py)
    if openid is None:
        raise WechatNotBound("Sign in with WeChat first: the order is paid from the WeChat account bound to the membership")
    now = utcnow()
    out_trade_no = _new_out_trade_no(now)
    # Written before WeChat Pay hears of it: a notification can never find no order, except
    # by overtaking this write (then it is retried).
    order = store.put_order(out_trade_no, member.member_id, request.amount, CURRENCY, now)
    pay = client()
    try:
        prepay_id = pay.create_jsapi_order(
            out_trade_no=out_trade_no,
            description="储值充值 Wallet top-up",
            amount=request.amount,
            openid=openid,
            notify_url=get_settings().wechat_pay_notify_url,
        )
    except WeChatPayError as exc:
        store.set_order_prepay(order, None, "failed")
        count("WeChatPayOrdersFailed")
        raise PaymentProviderFailed(f"WeChat Pay did not create the order ({exc.code or exc})") from None
    store.set_order_prepay(order, prepay_id, "created")
    count("WeChatPayOrders")
    logger.info("wechat pay order created", extra={"member_id": member.member_id, "amount": request.amount, "out_trade_no": out_trade_no})
    return created({**order_view(order), "payment": pay.mini_program_payment(prepay_id)})


def topup_order_status(session: MemberSession, out_trade_no: str) -> dict[str, Any]:
    """The member's own order (404 for anyone else's)."""
    open_member(session)
    if not wxpay.is_id(out_trade_no, 32):
        raise NotFound("No such WeChat Pay top-up")
    order = store.get_order(out_trade_no)
    if order is None or order.member_id != session.member_id:
        raise NotFound("No such WeChat Pay top-up")
    return order_view(order)


# --- WeChat Pay's notification ---------------------------------------------------------------------


def verified_resource(headers: Mapping[str, str], body: str, creds: dict[str, str]) -> dict[str, Any]:
    """The decrypted resource of a notification that WeChat Pay signed in the last 5 minutes."""
    if headers.get("wechatpay-serial") != creds["platform_public_key_id"]:
        raise InvalidSignature("Signed with a key that is not WeChat Pay's platform key")
    try:
        wxpay.verify_signed(
            creds["platform_public_key"],
            headers.get("wechatpay-timestamp"),
            headers.get("wechatpay-nonce"),
            headers.get("wechatpay-signature"),
            body,
            utcnow(),
        )
    except wxpay.BadSignature:
        raise InvalidSignature("The signature does not verify with WeChat Pay's platform key") from None
    except wxpay.StaleTimestamp:
        raise InvalidSignature("The notification is more than 5 minutes old (or from the future)") from None
    try:
        notification = WeChatPayNotification.model_validate_json(body)
    except PydanticValidationError:
        raise ValidationFailed.single("body", "not a WeChat Pay notification") from None
    resource = notification.resource
    try:
        decrypted = json.loads(wxpay.decrypt_resource(creds["apiv3_key"], resource.nonce, resource.associated_data, resource.ciphertext))
    except wxpay.BadResource:
        raise InvalidSignature("The resource does not decrypt with the APIv3 key") from None
    except ValueError:
        raise ValidationFailed.single("resource", "not a WeChat Pay notification resource") from None
    # A store's payment (pay-to-join, service-provider mode) names the brand as sp_mchid.
    if not isinstance(decrypted, dict) or decrypted.get("mchid", decrypted.get("sp_mchid")) != creds["mchid"]:
        raise ValidationFailed.single("resource", "not a payment of this merchant")
    decrypted["_event_type"] = notification.event_type
    return decrypted


def paid_transaction(resource: dict[str, Any]) -> tuple[str, str, int] | None:
    """(out_trade_no, transaction_id, amount) of a successful payment; None for other events."""
    if resource.get("_event_type") != "TRANSACTION.SUCCESS" or resource.get("trade_state") != "SUCCESS":
        return None
    out_trade_no, transaction_id = resource.get("out_trade_no"), resource.get("transaction_id")
    amount = (resource.get("amount") or {}).get("total")
    if not isinstance(out_trade_no, str) or not isinstance(transaction_id, str) or type(amount) is not int:
        raise ValidationFailed.single("resource", "a payment without out_trade_no, transaction_id or amount.total")
    if not wxpay.is_id(transaction_id, 64):
        raise ValidationFailed.single("resource", "transaction_id is not WeChat Pay's")
    return out_trade_no, transaction_id, amount


def payment_notification(headers: Mapping[str, str], body: str) -> None:
    """Verify, decrypt and credit a payment notification once per WeChat transaction id.

    Raises InvalidSignature (nothing read or written), NotificationTooEarly (no such order yet:
    WeChat Pay retries). Returns quietly once the notification is handled, credited or not."""
    creds = wechat_pay_credentials()
    resource = verified_resource(headers, body, creds)
    if is_store_payment(resource):  # a store's payment: pay-to-join (usecases/pay_to_join.py)
        store_payment_notification(resource["_event_type"], resource)
        return
    paid = paid_transaction(resource)
    if paid is None:
        logger.info("wechat pay notification ignored", extra={"event_type": resource.get("_event_type")})
        return
    count(f"WeChatPayNotification_{credit_transaction(*paid)}")


def credit_transaction(out_trade_no: str, transaction_id: str, amount: int) -> str:
    """Credit a paid transaction to its order's wallet once per WeChat transaction id, whoever
    tells of it (the notification, or the sweep's query: usecases/wechat_pay_sweep.py). Returns
    credited | replayed, or why not (an anomaly recorded for operators). Raises
    NotificationTooEarly when the order is not written yet."""
    rules = load_rules()
    write_token = new_write_token()

    def explain(cancelled: Cancelled) -> str | None:
        # The transaction was credited meanwhile (a concurrent duplicate): done. An order or a
        # wallet that changed is read again.
        return "replayed" if "record" in cancelled.failed else None

    def attempt(uow: UnitOfWork) -> str:
        now = utcnow()
        found = store.read_for_notification(out_trade_no, transaction_id)
        if found.credited is not None:
            return "replayed"
        order = found.order
        if order is None:
            raise NotificationTooEarly(f"No order {out_trade_no} yet")
        if amount != int(order.amount):
            store.record_anomaly(order, transaction_id, "amount_mismatch", amount, now)
            return "amount_mismatch"
        if order.status == "paid":
            store.record_anomaly(order, transaction_id, "already_paid", amount, now)
            return "already_paid"
        member, wallet = found.member, found.wallet
        if member is None or member.status not in MAY_BE_REFUNDED:
            store.record_anomaly(order, transaction_id, "member_closed", amount, now)
            return "member_closed"
        bonus = topup_bonus(rules.topup_bonuses, amount)
        before = int(wallet.balance) if wallet else 0
        after_topup = credit(before, amount)
        balance = credit(after_topup, bonus) if bonus else after_topup
        response = {"transaction_id": transaction_id, "out_trade_no": out_trade_no, "member_id": member.member_id, "amount": amount, "bonus": bonus}
        record = store.new_transaction_topup(
            transaction_id,
            member_id=member.member_id,
            recording=Recording(fingerprint=out_trade_no, write_token=write_token, response=response, now=now),
            amount=amount,
            bonus=bonus,
            currency=order.currency,
            store_id=None,
            merchant_store="wechat-pay",
        )
        put_record(uow, "record", record)
        store.mark_order_paid(uow, order, transaction_id, bonus, now)
        wallet_write(uow, member.member_id, wallet, balance, order.currency, now)
        entry_ids = new_wallet_entry_ids(wallet, 2 if bonus else 1)
        add_wallet_entry(uow, "topup_entry", member.member_id, entry_ids[0], "topup", amount, after_topup, out_trade_no, now)
        if bonus:
            add_wallet_entry(uow, "bonus_entry", member.member_id, entry_ids[1], "bonus", bonus, balance, out_trade_no, now)
        member_status_check(uow, member.member_id, MAY_BE_REFUNDED)
        committed = uow.commit(explain)
        if committed is not None:
            return committed
        logger.info("wallet topped up by wechat pay", extra={"member_id": member.member_id, "amount": amount, "bonus": bonus})
        count("WeChatPayCredited", amount)
        return "credited"

    outcome = run(attempt, one_at_a_time=f"wxpay:{transaction_id}")
    if outcome not in ("credited", "replayed"):
        logger.warning("wechat pay payment not credited", extra={"reason": outcome, "out_trade_no": out_trade_no})
    return outcome
