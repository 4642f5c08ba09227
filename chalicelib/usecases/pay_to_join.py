"""Pay-to-join (支付即会员): a store's WeChat Pay payment earns the payer points, and an openid
nobody is bound to gets a pending holding that joins the member who proves a phone
(docs/wechat-pay.md "Pay-to-join").

1. `store_payment_notification`: the notification is verified and decrypted by the top-up's code
   (usecases/wechat_pay.py), which hands a sub-merchant's payment here. The store comes from the
   operator's `wechat_pay_stores` mapping. The payment is then a purchase report
   (usecases/purchases.record_purchase: the same earn rules, tiers, stamps, pending holds, budgets)
   under the order id = WeChat's transaction id, put only if absent in the transaction that
   credits the points: a replayed or concurrent duplicate earns nothing more, and so does a till
   that reported the same transaction id as its order id (either way round).
2. The payer: the member the openid is bound to (store/wechat.py); otherwise the openid's holding,
   a pending member with no phone, made once (store/pay_to_join.py). A holding cannot sign in,
   spend or be messaged: an openid alone is never a member.
3. `join_holding`: once the payer has proven a phone and the openid is bound to that phone's
   member (usecases/wechat.py, after the binding commits; again at each WeChat sign-in until it
   has happened), the holding's points move to that member in one transaction, once: the holding
   closed with a `transfer_out` entry, the member's lots per month with `transfer_in` entries,
   the holding's record deleted only if it still names the holding. The holding names the member
   it joined, so a later refund of one of its purchases cancels what is still pending on the
   holding and takes the rest back from that member (usecases/purchases.refund_purchase), where
   the points now are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.schemas.merchants import PurchaseRequest
from ..domain.clock import today_in, utcnow
from ..domain.errors import IdempotencyConflict, MemberClosed, MemberFrozen, NotFound, ValidationFailed, WechatNotConfigured
from ..domain.membership import Status
from ..domain.pay_to_join import MalformedPayment, StorePayment, join_points, store_for, store_payment
from ..domain.points import lot_expires_on
from ..domain.tiers import upgraded_tier
from ..domain.wechat import APPS, App
from ..notify import wechat as wechat_api
from ..observability import count, logger
from ..store import pay_to_join as store
from ..store.ledger import ledger_entry, open_lot
from ..store.members import field_updates, get_member, points_state, points_update, tier_update
from ..store.parameters import load_rules
from ..store.unit_of_work import UnitOfWork, member_turn, run
from ..store.wechat import bound_member_id
from .merchants import Merchant
from .purchases import record_purchase

PAYMENT_METHOD = "wechat_pay"


def _app_of(appid: str) -> App | None:
    """Which of the brand's apps the payer's openid belongs to (None: not one of ours)."""
    for app in APPS:
        try:
            if wechat_api.appid(app) == appid:
                return app
        except WechatNotConfigured:
            continue
    return None


def _holding_for(payment: StorePayment, app: App) -> str:
    """The openid's holding (made now if it has none: one per openid, whatever races)."""
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> str:
        existing = store.holding_member_id(payment.appid, payment.openid)
        if existing is not None:
            return existing
        now = utcnow()
        member = store.new_holding_member(tier=rules.base_tier.id, joined=today_in(rules.zone, now), now=now)
        store.add_holding(uow, payment.appid, payment.openid, app, member, now)
        uow.commit()  # another payment made the holding meanwhile: the retry reads it
        count("PayToJoinHoldings")
        logger.info("pay-to-join holding opened", extra={"member_id": member.member_id, "app": app})
        return member.member_id

    return run(attempt, one_at_a_time="payjoin:" + store.holder_key(payment.appid, payment.openid)[0])


def _ignored(reason: str, payment: StorePayment | None = None) -> str:
    count(f"PayToJoin_{reason}")
    logger.info("store payment earned nothing", extra={"reason": reason, "sub_mchid": payment.sub_mchid if payment else None})
    return reason


def _anomaly(payment: StorePayment, reason: str) -> str:
    store.record_anomaly(payment.transaction_id, payment.sub_mchid, reason, payment.amount, utcnow())
    extra = {"reason": reason, "sub_mchid": payment.sub_mchid, "transaction_id": payment.transaction_id}
    logger.warning("store payment kept as an anomaly", extra=extra)
    count(f"PayToJoin_{reason}")
    return reason


def store_payment_notification(event_type: str | None, resource: Mapping[str, Any]) -> str:
    """Earn a verified store payment's points once per WeChat transaction id. Returns what
    happened (every outcome is answered 204: WeChat Pay stops sending it)."""
    try:
        payment = store_payment(event_type, resource)
    except MalformedPayment as exc:
        raise ValidationFailed.single("resource", str(exc)) from None
    if payment is None:
        return _ignored("not_a_payment")  # a refund or an unpaid state: nothing to earn
    if payment.amount <= 0:
        return _ignored("zero_amount", payment)
    rules = load_rules()
    store_id = store_for(rules.wechat_pay_stores, payment.sub_mchid)
    if store_id is None:
        return _anomaly(payment, "unmapped_merchant")
    if payment.currency not in rules.currencies:
        return _anomaly(payment, "currency")
    app = _app_of(payment.appid)
    if app is None:
        return _anomaly(payment, "unknown_appid")
    merchant = Merchant(key_id=f"wechat-pay:{payment.sub_mchid}", store_id=store_id)
    for last in (False, True):
        bound = bound_member_id(payment.appid, payment.openid)
        member_id = bound or _holding_for(payment, app)
        request = PurchaseRequest(
            order_id=payment.transaction_id,
            member_id=member_id,
            amount=payment.amount,
            currency=payment.currency,
            store_id=store_id,
            channel="store",
            payment_method=PAYMENT_METHOD,
        )
        try:
            answer = record_purchase(request, merchant)
            break
        except IdempotencyConflict:
            # The transaction id is an order already reported otherwise: by the store's till under
            # the same id, or by this payment for the holding before it joined a member. Earned once.
            return _ignored("already_reported", payment)
        except MemberClosed:
            if bound is None and not last:
                continue  # the holding joined a member meanwhile: the openid is bound now
            return _anomaly(payment, "member_may_not_earn")
        except (MemberFrozen, NotFound):
            return _anomaly(payment, "member_may_not_earn")
    outcome = "earned" if answer.status == 201 and not answer.replayed else "replayed"
    count(f"PayToJoin_{outcome}")
    logger.info("store payment earned", extra={"member_id": member_id, "outcome": outcome, "store_id": store_id})
    return outcome


def join_holding(app: App, openid: str, member_id: str) -> int:
    """Move the openid's holding's points to `member_id`, the member the openid is now bound to
    after a proven phone. Once: the holding's record is deleted in the same transaction, only if
    it still names the holding. Returns the points moved (0: no holding, or nothing in it)."""
    appid = wechat_api.appid(app)
    if store.holding_member_id(appid, openid) in (None, member_id):
        return 0  # the usual case: one read
    rules = load_rules()
    joined_from: list[str] = []

    def attempt(uow: UnitOfWork) -> int:
        now = utcnow()
        joined_from.clear()
        holder_id = store.holding_member_id(appid, openid)  # again: a concurrent join may have taken it
        if holder_id is None or holder_id == member_id:
            return 0
        joined_from.append(holder_id)
        holding, member = get_member(holder_id), get_member(member_id)
        if holding is None or member is None or member.status == Status.CLOSED or member.erased:
            return 0  # the member closed meanwhile: the points wait in the holding
        if holding.status != Status.PENDING or holding.phone:
            store.release_holding(uow, appid, openid, holder_id)
            uow.commit()  # not a holding any more (never expected): forget the record only
            return 0
        joined = join_points(points_state(holding), points_state(member))
        # Points a return-window hold keeps pending (pending-points.md) are not spendable yet: they
        # stay on the holding, which stays (with its record) until a sign-in after their release.
        still_held = int(holding.pending_points or 0) > 0
        if still_held and not joined.points:
            return 0
        # The holding names the member its points went to from the first move on: a refund of one
        # of its purchases takes back what moved from that member (usecases/purchases.py).
        joining: dict[str, Any] = {"joined_member_id": member_id}
        if not still_held:
            store.release_holding(uow, appid, openid, holder_id)
            joining |= {"status": str(Status.CLOSED), "closed_at": now}
        ref = f"pay-to-join:{holder_id}"
        uow.update("holding", holding, points_update(joined.holding) + field_updates(holding, joining))
        if joined.points:
            uow.put("ledger_out", ledger_entry(holder_id, "transfer_out", -joined.points, joined.holding.balance, ref, now))
            balance = int(member.balance)
            for number, (month, points) in enumerate(joined.months):
                balance += points
                uow.put(f"ledger_in_{number}", ledger_entry(member_id, "transfer_in", points, balance, ref, now, lot=month))
                open_lot(uow, member_id, month, lot_expires_on(month, rules.points_validity_months), held=member.lots, part=f"lot_{number}")
            current = rules.effective_tier(member.tier, member.tier_override)
            tier = upgraded_tier(rules, current, joined.member, today_in(rules.zone, now))
            actions = points_update(joined.member) + (tier_update(tier) if tier != member.tier else [])
            uow.update("member", member, actions)
        uow.commit()  # the holding joined meanwhile (its record gone) or either changed: read again
        return joined.points

    moved = run(attempt, one_at_a_time=member_turn(member_id))
    if moved:
        count("PayToJoinJoined")
        count("PayToJoinPointsJoined", moved)
        logger.info("pay-to-join holding joined", extra={"member_id": member_id, "holding": joined_from[0], "points": moved})
    return moved
