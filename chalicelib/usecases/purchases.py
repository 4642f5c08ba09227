"""Purchases reported by a store's till or shop backend, and their refunds.

Idempotent by construction (store/idempotency.py): the order is put (if absent) in the unit of
work that awards the points; a replay finds it and answers with the stored answer, a different
body under the same order id is a conflict. The same for each refund id.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..api.schemas.merchants import PurchaseRequest, RefundRequest
from ..domain.clock import iso, today_in, utcnow
from ..domain.earn_rules import Basket, Earner, Evaluation, basket_lines, evaluate, order_lines, refund_lines, refund_target
from ..domain.errors import Forbidden, IdempotencyConflict, NotFound, RefundExceedsItems, RefundExceedsPurchase
from ..domain.membership import require_may_earn
from ..domain.points import claw_back, earn, lot_expires_on, month_key, prune_earned_months
from ..domain.rules import ProgramRules
from ..domain.tiers import upgraded_tier
from ..notify.sender import Message, send_best_effort
from ..observability import count, logger
from ..store import earn_budgets, members, orders
from ..store.codes import invitation_reservation
from ..store.idempotency import Replay, existing_record, new_write_token, put_record, replay
from ..store.ledger import ledger_entry, open_lot
from ..store.models import Member, Order, Refund
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, UnitOfWork, member_turn, run
from .common import Answer, accepted_currency, activity_actions, created, fingerprint, mark_new_member_activity, phone_or_error, replayed
from .enrolment import new_member
from .merchants import Merchant
from .pending_points import add_held_entry, answer_fields, apply_to_new_member, cancel_for_refund, hold_for, member_writes, order_fields
from .referrals import claw_back_referral_on_refund, settle_referral_on_purchase
from .stamp_cards import stamp_purchase, unstamp_refund

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action


def _order_replay(order: Order, request_digest: str, merchant: Merchant, write_token: str = "") -> Replay:
    """The stored answer to an order already recorded. Another store's order answers a conflict
    that tells nothing about it."""
    if not merchant.acts_for(orders.order_store(order)):
        raise IdempotencyConflict(f"Order id {order.order_id} is already in use; report this purchase under another order id")
    return replay(order, request_digest, f"Order {order.order_id} was already reported with a different body", write_token)


@dataclass(frozen=True)
class _Recorded:
    answer: Answer
    enrolled: bool  # this request's own write made a new (pending) member
    invited: bool = False  # ... and reserved its invitation within the sending limits


@dataclass
class _Invitation:
    """Whether this purchase's attempts still reserve the invitation of a member they enrol: until
    a sending limit refuses it (then the purchase is written without it, and no message goes)."""

    wanted: bool = True


def _detail(request: PurchaseRequest) -> dict[str, Any]:
    """What the detailed form adds to a purchase's meaning (absent fields leave the fingerprint of
    a purchase reported as one amount as it always was)."""
    detail: dict[str, Any] = {}
    if request.items:
        detail["items"] = [item.model_dump() for item in request.items]
    for name in ("discount", "channel", "payment_method"):
        if getattr(request, name):
            detail[name] = getattr(request, name)
    return detail


def _itemised(basket: Basket, evaluation: Evaluation) -> dict[str, Any]:
    """What the order keeps to take back an item's points on its refund: sku -> [quantity,
    amount, points, refunded], and the points no line earned."""
    if not basket.itemised:
        return {}
    return {"lines": order_lines(basket.lines, evaluation.line_points), "order_points": evaluation.order_points}


# Budgets this process saw run out: {(rule_id, budget)}. A raised budget is another key.
_EXHAUSTED: set[tuple[str, int]] = set()


@dataclass
class _BudgetHints:
    """What one purchase learned of the budget shards across its attempts: the shard to draw
    from and what it holds, for rules whose drawn shard could not give what was wanted."""

    shards: dict[str, tuple[int, int]] = field(default_factory=dict)

    def left(self, rules: ProgramRules) -> dict[str, int]:
        left = {rule_id: held for rule_id, (_, held) in self.shards.items()}
        for rule in rules.earn_rules:
            if rule.budget is not None and (rule.id, rule.budget) in _EXHAUSTED:
                left[rule.id] = 0
        return left

    def draw(self, uow: UnitOfWork, rules: ProgramRules, evaluation: Evaluation) -> None:
        budget_of = {r.id: r.budget for r in rules.earn_rules if r.budget is not None}
        for rule_id, points in evaluation.budget_draws:
            known = self.shards.get(rule_id)
            shard = known[0] if known else secrets.randbelow(earn_budgets.BUDGET_SHARDS)
            earn_budgets.draw(uow, rule_id, budget_of[rule_id], shard, points)

    def learn(self, cancelled: Cancelled, rules: ProgramRules) -> None:
        for rule in rules.earn_rules:
            if rule.budget is None or earn_budgets.part_name(rule.id) not in cancelled.failed:
                continue
            remaining = earn_budgets.remaining(rule.id, rule.budget)
            fullest = max(remaining, key=lambda shard: (remaining[shard], -shard))
            self.shards[rule.id] = (fullest, remaining[fullest])
            if not remaining[fullest]:
                _EXHAUSTED.add((rule.id, rule.budget))
                count("EarnBudgetExhausted")


def record_purchase(request: PurchaseRequest, merchant: Merchant) -> Answer:
    """Award the purchase's points once; enrol a pending member for an unknown phone."""
    rules = load_rules()
    accepted_currency(rules, request.currency)
    phone = phone_or_error(request.phone, rules) if request.phone else None
    store_id = merchant.store_for(request.store_id)
    # Items that do not add up are refused before anything is read (422, nothing written).
    lines = basket_lines(request.items, request.discount, request.amount) if request.items else None
    digest = fingerprint(
        {
            "order_id": request.order_id,
            "phone": phone,
            "member_id": request.member_id,
            "amount": request.amount,
            "currency": request.currency,
            "store_id": request.store_id,
            "occurred_at": request.occurred_at.isoformat() if request.occurred_at else None,
            **_detail(request),
        }
    )
    budgets = _BudgetHints()
    write_token = new_write_token()
    lookup = members.MemberLookup(phone=phone, member_id=request.member_id)
    invitation = _Invitation()

    def attempt(uow: UnitOfWork) -> _Recorded:
        now = utcnow()
        today = today_in(rules.zone, now)
        month = month_key(today)
        member = lookup.read()
        if member is None and request.member_id:
            # A replay of an order whose member was since erased still answers from the order.
            order = orders.get_order(request.order_id)
            if order is None:
                raise NotFound("No member with that member_id")
            return _Recorded(replayed(_order_replay(order, digest, merchant)), enrolled=False)
        is_new = member is None
        if member is None:
            assert phone is not None
            member = new_member(phone, rules, now)
        require_may_earn(member.status)
        current_tier = rules.effective_tier(member.tier, member.tier_override)  # an operator's override is a floor
        at = now.astimezone(rules.zone)  # rules are judged at the time the purchase is reported, as promotions always were
        channel, paid_by = request.channel, request.payment_method
        if lines:
            basket = Basket(request.amount, lines, at, store_id=store_id, channel=channel, payment_method=paid_by)
        else:
            basket = Basket.whole(request.amount, at, store_id=store_id, channel=channel, payment_method=paid_by)
        earner = Earner(current_tier, member.birthday, tuple(sorted(member.operator_tags or ())), members.earn_counters(member))
        evaluation = evaluate(rules, basket, earner, budget_left=budgets.left(rules))
        points = evaluation.points
        # Held for a return window (usecases/pending_points.py): pending, not in the balance until released.
        held = hold_for(member, rules, request.channel, today, points)
        earned = 0 if held else points
        state = prune_earned_months(earn(members.points_state(member), earned, month, qualifying=True), today, rules.tier_window_months)
        tier = upgraded_tier(rules, current_tier, state, today)
        body = {"order_id": request.order_id, "member_id": member.member_id, "points_earned": points, "balance": state.balance, "tier": tier}
        if request.detailed or rules.earn_rules:
            body["breakdown"] = evaluation.breakdown_dicts()
        body |= answer_fields(held)
        # Stamp cards (stamp_cards.py): counted on the member, coupons issued, in this unit of work.
        stamped = stamp_purchase(rules, basket, member, now, held.release_on if held else None)
        if stamped is not None:
            body |= stamped.answer()
        # The first purchase since joining through a referral settles it once (referrals.py).
        referral = None if is_new else settle_referral_on_purchase(uow, member, rules, now, today)
        put_record(
            uow,
            "order",
            orders.new_order(
                request.order_id,
                member_id=member.member_id,
                response=body,
                now=now,
                fingerprint=digest,
                write_token=write_token,
                enrolled=is_new,
                store_id=store_id,
                merchant_store=merchant.store_id,
                amount=request.amount,
                currency=request.currency,
                points_earned=points,
                rewarded_referrer=referral.referrer_id if referral else None,
                **order_fields(held, month),
                **_itemised(basket, evaluation),
                **(stamped.order_fields() if stamped else {}),
            ),
        )
        budgets.draw(uow, rules, evaluation)
        reservation = None
        if is_new:
            member.tier = tier
            mark_new_member_activity(member, rules, today, purchased=True)
            members.apply_points(member, state)
            apply_to_new_member(member, held)
            member.earn_counters = evaluation.counters or None
            if stamped is not None:
                stamped.apply_to_new_member(member)
            members.add_enrolment(uow, member)
            # The invitation's send reservation rides on the enrolment: no third round trip.
            reservation = invitation_reservation(member.phone, rules, now) if invitation.wanted else None
            if reservation is not None:
                reservation.add_to(uow, None)
        else:
            actions = members.points_update(state) + activity_actions(member, rules, today, purchased=True) + member_writes(member, held)
            actions += members.earn_counters_update(member, evaluation.counters)
            actions += stamped.member_actions(member) if stamped else []
            if tier != member.tier:
                actions += members.tier_update(tier)
            actions += referral.member_actions if referral else []
            members.update_member(uow, member, actions)
        if stamped is not None:
            stamped.add_coupons(uow)
        if held:
            add_held_entry(uow, member.member_id, held, state.balance, request.order_id, now)
        elif points:
            entry = ledger_entry(
                member.member_id, "earn", points, state.balance, request.order_id, now, lot=month, breakdown=evaluation.breakdown_dicts()
            )
            uow.put("ledger", entry)
            open_lot(uow, member.member_id, month, lot_expires_on(month, rules.points_validity_months), held={} if is_new else member.lots)

        def explain(cancelled: Cancelled) -> _Recorded | None:
            order = existing_record(cancelled, "order", Order, orders.order_key(request.order_id))
            if order is None:
                budgets.learn(cancelled, rules)  # a budget shard could not give it: read the shards, retry
                if reservation is not None and reservation.refusal(cancelled, rules, now) is not None:
                    count("MessagesHeldByLimits")
                    invitation.wanted = False  # a limit is reached: write the purchase without the invitation
                lookup.learn(cancelled)  # the member changed meanwhile, or the index lagged: start over
                return None
            first = _order_replay(order, digest, merchant, write_token)
            enrolled = first.own_write and bool(order.enrolled)
            # Our own earlier attempt committed (its answer was lost): it reserved the invitation if we still want one.
            return _Recorded(replayed(first), enrolled=enrolled, invited=enrolled and invitation.wanted)

        done = uow.commit(explain)
        if done is not None:
            return done
        if referral and referral.message:
            send_best_effort(referral.message)
        if tier != member.tier and not is_new:
            logger.info("tier upgraded", extra={"member_id": member.member_id, "tier": tier})
        return _Recorded(created(body), enrolled=is_new, invited=reservation is not None)

    # Purchases for one member (one phone) in this process take turns (store/unit_of_work.run).
    recorded = run(attempt, one_at_a_time=member_turn(request.member_id or phone))
    if recorded.answer.status == 201:
        _recorded(recorded, merchant, phone, rules)
    return recorded.answer


def _recorded(recorded: _Recorded, merchant: Merchant, phone: str | None, rules: ProgramRules) -> None:
    """After a purchase's own write: its metrics, its log line, the invitation of a new member."""
    body = recorded.answer.body
    count("Purchases")
    count("PointsEarned", body["points_earned"])
    logger.info("purchase recorded", extra={"member_id": body["member_id"], "points": body["points_earned"], "store_id": merchant.store_id})
    if not recorded.enrolled:
        return
    count("Enrolments")
    assert phone is not None
    # An SMS to a number nobody has proven: only when its write reserved it within the limits.
    if recorded.invited:
        send_best_effort(
            Message(
                channel="sms",
                to=phone,
                kind="invite",
                body=(f"[{rules.program_name}] You earned {body['points_earned']} points. Sign up with this number to become a member and use them."),
                params={"points": str(body["points_earned"])},
            )
        )


def _reverse_points(uow: UnitOfWork, order: Order, earner: Member, reverse: int, stamp_actions: list[Action], now: datetime) -> int:
    """Take `reverse` of the order's points back, with the earner's `stamp_actions` (parts
    `pending_ledger`, `earner`, `ledger`, `holder`): what is still pending is cancelled on the
    earner (pending_points.py); the rest comes off the balance of whoever holds the points now:
    the earner, or the member a pay-to-join holding joined (store/members.points_holder). Returns
    that balance, as the answer shows it."""
    pending = cancel_for_refund(earner, order, reverse)
    rest = reverse - pending.points
    holder = members.points_holder(earner) if rest > 0 else earner
    if holder is None:  # the joined member is gone (never expected): the earner answers for it
        holder = earner
    earner_actions = pending.member_actions + stamp_actions
    balance = int(holder.balance)
    if rest > 0:
        state = claw_back(members.points_state(holder), rest, order.earn_month)
        uow.put("ledger", ledger_entry(holder.member_id, "refund", -rest, state.balance, order.order_id, now))
        balance = state.balance
        if holder is earner:
            earner_actions = members.points_update(state) + earner_actions
        else:
            uow.update("holder", holder, members.points_update(state))
    pending.add_entry(uow, earner.member_id, balance if holder is earner else int(earner.balance), order.order_id, now)
    if earner_actions:
        uow.update("earner", earner, earner_actions)
    return balance


def refund_purchase(order_id: str, request: RefundRequest, merchant: Merchant) -> Answer:
    """Reverse points once per refund id: the points of the items it names (a purchase reported
    with items), or in proportion to the amount refunded. Only a key of the order's store (or a
    brand-wide key) may. Refunding more of an item than was bought is refused (422), nothing changes."""
    meaning: dict[str, Any] = {"order_id": order_id, "refund_id": request.refund_id, "amount": request.amount}
    if request.items:
        meaning["items"] = [[item.sku, item.quantity] for item in request.items]
    digest = fingerprint(meaning)
    conflict = "That refund id was already used with a different amount" + (" or items" if request.items else "")
    write_token = new_write_token()
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        order = orders.get_order(order_id)
        if order is None:
            raise NotFound(f"No purchase with order id {order_id}")
        if not merchant.acts_for(orders.order_store(order)):
            raise Forbidden("Only the store that recorded this purchase may refund it")
        done = orders.get_refund(order_id, request.refund_id)
        if done is not None:
            return replayed(replay(done, digest, conflict, write_token))
        lines = members.as_dict(order.lines) or None
        amount = request.amount
        if request.items:
            if not lines:
                raise RefundExceedsItems(f"Purchase {order_id} was reported without items: refund it by amount")
            lines, items_amount = refund_lines(lines, [(item.sku, item.quantity) for item in request.items])
            if amount is not None and amount != items_amount:
                raise RefundExceedsItems(f"The items refunded come to {items_amount}, but amount is {amount}: give the items' amount or leave it out")
            amount = items_amount
        assert amount is not None
        refunded = int(order.refunded_amount) + amount
        if refunded > int(order.amount):
            raise RefundExceedsPurchase(f"Refunds would total {refunded}, more than the purchase amount {int(order.amount)}")
        target = refund_target(int(order.points_earned), int(order.amount), refunded, lines)
        reverse = max(0, target - int(order.points_reversed))
        earner = members.get_member(order.member_id)
        # The stamps the refunded part added come off the earner's cards (stamp_cards.py).
        unstamped = unstamp_refund(order, earner, refunded, lines)
        stamp_actions = unstamped.member_actions(earner) if unstamped and earner is not None else []
        balance = _reverse_points(uow, order, earner, reverse, stamp_actions, now) if earner is not None else None
        body: dict[str, Any] = {"refund_id": request.refund_id, "order_id": order_id, "points_reversed": reverse, "balance": balance}
        if request.items:
            body["amount"] = amount
        if unstamped is not None:
            body |= unstamped.answer()
        # A full refund of a referred member's first purchase may take the referrer's bonus back (referrals.py).
        body |= claw_back_referral_on_refund(uow, order, refunded, rules, now)
        put_record(uow, "refund", orders.new_refund(order_id, request.refund_id, digest, write_token, body, now))
        kept_stamps = unstamped.kept if unstamped else None
        totals = orders.refund_totals(refunded, int(order.points_reversed) + reverse, lines if request.items else None, kept_stamps)
        uow.update("order", order, totals)

        def explain(cancelled: Cancelled) -> Answer | None:
            first = existing_record(cancelled, "refund", Refund, orders.refund_key(order_id, request.refund_id))
            return replayed(replay(first, digest, conflict, write_token)) if first is not None else None

        answer = uow.commit(explain)
        if answer is not None:
            return answer
        count("PointsReversed", reverse)
        logger.info("refund recorded", extra={"member_id": order.member_id, "points": reverse, "store_id": merchant.store_id, "at": iso(now)})
        return created(body)

    return run(attempt, one_at_a_time=f"order:{order_id}")
