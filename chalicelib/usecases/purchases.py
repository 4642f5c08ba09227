"""Purchases reported by a store's till or shop backend, and their refunds.

Idempotent by construction: the Order item is put (if absent) in the same
transaction that awards the points; a replay finds it and returns the stored
response, a different body under the same order id is a conflict.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist

from ..api.schemas.merchants import PurchaseRequest, RefundRequest
from ..domain.calendar import birthday_multiplier_applies
from ..domain.clock import iso, today_in, utcnow
from ..domain.earning import promotion_multiplier
from ..domain.errors import Forbidden, IdempotencyConflict, MemberClosed, MemberFrozen, NotFound, RefundExceedsPurchase, ValidationFailed
from ..domain.points import claw_back, earn, lot_expires_on, month_key, proportional_reversal, prune_earned_months, purchase_points
from ..domain.tiers import upgraded_tier
from ..notify.sender import Message, send_best_effort
from ..observability import count, logger
from ..store import keys
from ..store.ledger import add_lot_points, ledger_entry
from ..store.members import apply_points, as_dict, find_member_by_phone, get_member, points_state, points_update
from ..store.models import Member, Order, Refund
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, Retryable, Transaction, with_retries
from .common import activity_actions, fingerprint, mark_new_member_activity, phone_or_error, plain
from .enrolment import add_enrolment, new_member
from .merchants import Merchant
from .referrals import settle_referral_on_purchase
from .verification import reserve_message


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]


def order_store(order: Order) -> str:
    """The store an order belongs to (orders recorded before `store_id` was always set: the reporting key's)."""
    return order.store_id or order.merchant_store


def _replay(raw_order: dict[str, Any] | None, order_id: str, digest: str, merchant: Merchant, write_token: str = "") -> tuple[Outcome, bool]:
    """The stored answer to an order already recorded: 200 for a replay, or 201 when
    the record is this very request's own write (its first answer never arrived).
    Also whether that own write enrolled the member. Another store's order answers a
    conflict that tells nothing about it."""
    order = Order.from_raw_data(raw_order) if raw_order else Order.get(keys.order_pk(order_id), keys.ORDER_SK, consistent_read=True)
    if not merchant.acts_for(order_store(order)):
        raise IdempotencyConflict(f"Order id {order_id} is already in use; report this purchase under another order id")
    if order.fingerprint != digest:
        raise IdempotencyConflict(f"Order {order_id} was already reported with a different body")
    own_write = bool(write_token) and order.write_token == write_token
    return Outcome(201 if own_write else 200, plain(as_dict(order.response))), own_write and bool(order.enrolled)


def record_purchase(request: PurchaseRequest, merchant: Merchant) -> Outcome:
    """Award the purchase's points once; enrol a pending member for an unknown phone."""
    rules = load_rules()
    if request.currency not in rules.currencies:
        raise ValidationFailed.single("currency", f"must be one of {', '.join(rules.currencies)}")
    phone = phone_or_error(request.phone, rules) if request.phone else None
    store_id = merchant.store_for(request.store_id)
    digest = fingerprint(
        {
            "order_id": request.order_id,
            "phone": phone,
            "member_id": request.member_id,
            "amount": request.amount,
            "currency": request.currency,
            "store_id": request.store_id,
            "occurred_at": request.occurred_at.isoformat() if request.occurred_at else None,
        }
    )
    strongly = False
    enrolled = False
    # Tells this request's own write from someone else's when a commit's answer was lost.
    write_token = secrets.token_hex(8)

    def attempt() -> Outcome:
        nonlocal strongly, enrolled
        now = utcnow()
        today = today_in(rules.zone, now)
        month = month_key(today)
        if request.member_id:
            member = get_member(request.member_id)
            if member is None:
                # A replay of an order whose member was since erased still answers from the order.
                try:
                    return _replay(None, request.order_id, digest, merchant)[0]
                except DoesNotExist:
                    raise NotFound("No member with that member_id") from None
        else:
            assert phone is not None
            member = find_member_by_phone(phone, strongly=strongly)
        is_new = member is None
        if member is None:
            assert phone is not None
            member = new_member(phone, rules, now)
        if member.status == "frozen":
            raise MemberFrozen("The membership is frozen; no points can be awarded")
        if member.status == "closed":
            raise MemberClosed("The membership is closed")
        current_tier = rules.effective_tier(member.tier, member.tier_override)  # an operator's override is a floor
        multiplier = rules.tier(current_tier).multiplier
        if birthday_multiplier_applies(member.birthday, today):
            multiplier *= rules.birthday_multiplier
        multiplier *= promotion_multiplier(rules, today)  # the day's best promotion; promotions.py says how they combine
        points = purchase_points(request.amount, rules.earn_rate, multiplier)
        state = prune_earned_months(earn(points_state(member), points, month, qualifying=True), today, rules.tier_window_months)
        tier = upgraded_tier(rules, current_tier, state, today)
        body = {
            "order_id": request.order_id,
            "member_id": member.member_id,
            "points_earned": points,
            "balance": state.balance,
            "tier": tier,
        }
        order = Order(
            keys.order_pk(request.order_id),
            keys.ORDER_SK,
            order_id=request.order_id,
            fingerprint=digest,
            write_token=write_token,
            enrolled=is_new,
            member_id=member.member_id,
            store_id=store_id,
            merchant_store=merchant.store_id,
            amount=request.amount,
            currency=request.currency,
            points_earned=points,
            earn_month=month,
            response=body,
            created_at=now,
        )
        tx = Transaction()
        tx.put("order", order, Order.pk.does_not_exist(), return_old=True)
        referral = None
        if is_new:
            member.tier = tier
            mark_new_member_activity(member, rules, today, purchased=True)
            apply_points(member, state)
            add_enrolment(tx, member)
        else:
            actions = points_update(state) + activity_actions(member, rules, today, purchased=True)
            if tier != member.tier:
                actions.append(Member.tier.set(tier))
            # The first purchase since joining through a referral settles it once (referrals.py).
            referral = settle_referral_on_purchase(tx, member, rules, now, today)
            actions += referral.member_actions if referral else []
            tx.update("member", member, actions)
        if points:
            tx.put("ledger", ledger_entry(member.member_id, "earn", points, state.balance, request.order_id, now))
            add_lot_points(tx, member.member_id, month, points, lot_expires_on(month, rules.points_validity_months))
        try:
            tx.commit()
        except Cancelled as exc:
            if "order" in exc.failed:
                outcome, enrolled = _replay(exc.failed["order"], request.order_id, digest, merchant, write_token)
                return outcome
            if "guard" in exc.failed:
                strongly = True  # the index lagged behind a member just created
            raise Retryable("member changed meanwhile") from exc
        if referral and referral.message:
            send_best_effort(referral.message)
        enrolled = is_new
        if tier != member.tier and not is_new:
            logger.info("tier upgraded", extra={"member_id": member.member_id, "tier": tier})
        return Outcome(201, body)

    outcome = with_retries(attempt)
    if outcome.status == 201:
        count("Purchases")
        count("PointsEarned", outcome.body["points_earned"])
        logger.info(
            "purchase recorded",
            extra={"member_id": outcome.body["member_id"], "points": outcome.body["points_earned"], "store_id": merchant.store_id},
        )
        if enrolled:
            count("Enrolments")
            assert phone is not None
            # An SMS to a number nobody has proven: within the recipient's and the program's limits.
            if reserve_message(phone, rules, utcnow()):
                send_best_effort(
                    Message(
                        channel="sms",
                        to=phone,
                        kind="invite",
                        body=(
                            f"[{rules.program_name}] You earned {outcome.body['points_earned']} points. "
                            "Sign up with this number to become a member and use them."
                        ),
                    )
                )
    return outcome


def refund_purchase(order_id: str, request: RefundRequest, merchant: Merchant) -> Outcome:
    """Reverse points in proportion to the amount refunded, once per refund id. Only a key of
    the order's store (or a brand-wide key) may."""
    digest = fingerprint({"order_id": order_id, "refund_id": request.refund_id, "amount": request.amount})

    def attempt() -> Outcome:
        now = utcnow()
        try:
            order = Order.get(keys.order_pk(order_id), keys.ORDER_SK, consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"No purchase with order id {order_id}") from None
        if not merchant.acts_for(order_store(order)):
            raise Forbidden("Only the store that recorded this purchase may refund it")
        try:
            done = Refund.get(keys.order_pk(order_id), keys.refund_sk(request.refund_id), consistent_read=True)
        except DoesNotExist:
            done = None
        if done is not None:
            return _refund_replay(done, digest)
        refunded = int(order.refunded_amount) + request.amount
        if refunded > int(order.amount):
            raise RefundExceedsPurchase(f"Refunds would total {refunded}, more than the purchase amount {int(order.amount)}")
        target = proportional_reversal(int(order.points_earned), int(order.amount), refunded)
        reverse = target - int(order.points_reversed)
        member = get_member(order.member_id)
        tx = Transaction()
        balance = None
        if member is not None and reverse > 0:
            state = claw_back(points_state(member), reverse, order.earn_month)
            tx.update("member", member, points_update(state))
            tx.put("ledger", ledger_entry(member.member_id, "refund", -reverse, state.balance, order_id, now))
            balance = state.balance
        elif member is not None:
            balance = int(member.balance)
        body = {"refund_id": request.refund_id, "order_id": order_id, "points_reversed": reverse, "balance": balance}
        tx.put(
            "refund",
            Refund(
                keys.order_pk(order_id),
                keys.refund_sk(request.refund_id),
                refund_id=request.refund_id,
                fingerprint=digest,
                response=body,
                created_at=now,
            ),
            Refund.pk.does_not_exist(),
        )
        tx.update("order", order, [Order.refunded_amount.set(refunded), Order.points_reversed.set(target)])
        try:
            tx.commit()
        except Cancelled as exc:
            raise Retryable("order or member changed meanwhile") from exc
        count("PointsReversed", reverse)
        logger.info("refund recorded", extra={"member_id": order.member_id, "points": reverse, "store_id": merchant.store_id, "at": iso(now)})
        return Outcome(201, body)

    return with_retries(attempt)


def _refund_replay(done: Refund, digest: str) -> Outcome:
    if done.fingerprint != digest:
        raise IdempotencyConflict("That refund id was already used with a different amount")
    return Outcome(201, plain(as_dict(done.response)))
