"""Spending points on a reward: one coupon per redemption, once per client key."""

from __future__ import annotations

from typing import Any

from ..domain.clock import iso, today_in, utcnow
from ..domain.coupons import coupon_expires_at
from ..domain.errors import InsufficientPoints, MemberFrozen, NotFound, OutOfStock
from ..domain.membership import require_may_spend
from ..domain.points import NotEnoughPoints, spend
from ..observability import count, logger
from ..store import redemptions
from ..store.coupons import add_coupon, new_coupon
from ..store.idempotency import existing_record, new_write_token, put_record, replay
from ..store.ledger import ledger_entry
from ..store.members import points_state, points_update
from ..store.models import Redemption
from ..store.parameters import load_rules
from ..store.rewards import take_one_from_stock
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from .common import Answer, activity_actions, created, fingerprint, replayed
from .sessions import MemberSession

CONFLICT = "That Idempotency-Key was already used for another reward"


def redeem_reward(session: MemberSession, idempotency_key: str, reward_id: str) -> Answer:
    """Spend the reward's cost (oldest points first) and issue its coupon.

    One read round trip (member, earlier redemption, reward) and one unit of work: member
    (version-checked), redemption record (absent), ledger entry, coupon, and the reward's stock
    (> 0) when it is limited. The same key again answers the same (common.replayed). The token
    is admitted on the member read (sessions.MemberSession.admit) before anything else.
    """
    member_id = session.member_id
    rules = load_rules()
    digest = fingerprint({"reward_id": reward_id})
    write_token = new_write_token()

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        found, earlier, reward = redemptions.redemption_reads(member_id, idempotency_key, reward_id)
        member = session.admit(found)
        if earlier is not None:
            return replayed(replay(earlier, digest, CONFLICT, write_token))
        require_may_spend(member.status)
        if reward is None or not reward.active:
            raise NotFound(f"No reward {reward_id}")
        if reward.stock is not None and reward.stock <= 0:
            raise OutOfStock(f"{reward.name} is out of stock")
        cost = int(reward.points_cost)
        try:
            state = spend(points_state(member), cost)
        except NotEnoughPoints:
            raise InsufficientPoints(f"The reward costs {cost} points; the balance is {int(member.balance)}") from None
        coupon = new_coupon(member_id, "redemption", reward_id, coupon_expires_at(now, reward.coupon_valid_days, rules), now)
        redemption_id = redemptions.new_redemption_id()
        body: dict[str, Any] = {
            "redemption_id": redemption_id,
            "reward_id": reward_id,
            "points_spent": cost,
            "balance": state.balance,
            "coupon": {"code": coupon.code, "expires_at": iso(coupon.expires_at)},
        }
        record = redemptions.new_record(member_id, idempotency_key, fingerprint=digest, write_token=write_token, response=body, now=now)
        put_record(uow, "record", record)
        uow.update("member", member, points_update(state) + activity_actions(member, rules, today_in(rules.zone, now)))
        uow.put("ledger", ledger_entry(member_id, "redeem", -cost, state.balance, redemption_id, now))
        add_coupon(uow, coupon)  # with its code guard: codes are unique and a till finds the coupon by code
        if reward.stock is not None:
            take_one_from_stock(uow, reward)
        name = reward.name

        def explain(cancelled: Cancelled) -> Answer | None:
            done = existing_record(cancelled, "record", Redemption, redemptions.record_key(member_id, idempotency_key))
            if done is not None:
                return replayed(replay(done, digest, CONFLICT, write_token))
            if "reward" in cancelled.failed and "member" not in cancelled.failed:
                raise OutOfStock(f"{name} is out of stock")
            return None  # the member changed meanwhile (or the coupon code was taken): read again

        answer = uow.commit(explain)
        if answer is not None:
            return answer
        count("Redemptions")
        count("PointsRedeemed", cost)
        logger.info("reward redeemed", extra={"member_id": member_id, "reward_id": reward_id, "points": cost})
        return created(body)

    try:
        return run(attempt)
    except (InsufficientPoints, OutOfStock, MemberFrozen) as exc:
        # A member who could not have the reward: the operators' signal of a catalogue or balance problem.
        count("RedemptionsRejected")
        logger.info("redemption refused", extra={"member_id": member_id, "reward_id": reward_id, "code": exc.code})
        raise
