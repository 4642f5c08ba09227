"""Spending points on a reward: one coupon per redemption, once per client key."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from ..domain.clock import iso, today_in, utcnow
from ..domain.codes import COUPON_ALPHABET
from ..domain.errors import IdempotencyConflict, InsufficientPoints, MemberFrozen, NotFound, OutOfStock, Unauthorized, ValidationFailed
from ..domain.points import NotEnoughPoints, spend
from ..observability import count, logger
from ..store import keys
from ..store.coupons import add_coupon
from ..store.ledger import ledger_entry
from ..store.members import as_dict, points_state, points_update
from ..store.models import BaseItem, Coupon, Member, Redemption, Reward
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, Retryable, Transaction, with_retries
from .common import Answer as Outcome
from .common import activity_actions, fingerprint, plain

IDEMPOTENCY_KEY_MAX = 128


def redeem_reward(member_id: str, idempotency_key: str | None, reward_id: str) -> Outcome:
    """Spend the reward's cost (oldest points first) and issue its coupon.

    One read round trip (member, earlier redemption, reward) and one
    transaction: member (version-checked), redemption record (absent),
    ledger entry, coupon, and the reward's stock (> 0) when it is limited.
    """
    if not idempotency_key or len(idempotency_key) > IDEMPOTENCY_KEY_MAX or not idempotency_key.isprintable():
        raise ValidationFailed.single("Idempotency-Key", f"header required, 1 to {IDEMPOTENCY_KEY_MAX} printable characters")
    rules = load_rules()
    digest = fingerprint({"reward_id": reward_id})

    def attempt() -> Outcome:
        now = utcnow()
        wanted = [
            (keys.member_pk(member_id), keys.PROFILE),
            (keys.member_pk(member_id), keys.redemption_sk(idempotency_key)),
            (keys.REWARD_PK, keys.reward_sk(reward_id)),
        ]
        found = {(i.pk, i.sk): i for i in BaseItem.batch_get(wanted, consistent_read=True)}
        member = found.get(wanted[0])
        earlier = found.get(wanted[1])
        reward = found.get(wanted[2])
        if not isinstance(member, Member) or member.status == "closed":
            raise Unauthorized("The membership is closed")
        if isinstance(earlier, Redemption):
            if earlier.fingerprint != digest:
                raise IdempotencyConflict("That Idempotency-Key was already used for another reward")
            return Outcome(201, plain(as_dict(earlier.response)))
        if member.status == "frozen":
            raise MemberFrozen("The membership is frozen; points cannot be spent")
        if not isinstance(reward, Reward) or not reward.active:
            raise NotFound(f"No reward {reward_id}")
        if reward.stock is not None and reward.stock <= 0:
            raise OutOfStock(f"{reward.name} is out of stock")
        cost = int(reward.points_cost)
        try:
            state = spend(points_state(member), cost)
        except NotEnoughPoints:
            raise InsufficientPoints(f"The reward costs {cost} points; the balance is {int(member.balance)}") from None
        code = "".join(secrets.choice(COUPON_ALPHABET) for _ in range(10))
        expires_at = now + timedelta(days=int(reward.coupon_valid_days or rules.coupon_valid_days))
        redemption_id = f"rdm_{secrets.token_hex(8)}"
        body: dict[str, Any] = {
            "redemption_id": redemption_id,
            "reward_id": reward_id,
            "points_spent": cost,
            "balance": state.balance,
            "coupon": {"code": code, "expires_at": iso(expires_at)},
        }
        tx = Transaction()
        tx.put(
            "redemption",
            Redemption(keys.member_pk(member_id), keys.redemption_sk(idempotency_key), fingerprint=digest, response=body, created_at=now),
            Redemption.pk.does_not_exist(),
        )
        tx.update("member", member, points_update(state) + activity_actions(member, rules, today_in(rules.zone, now)))
        tx.put("ledger", ledger_entry(member_id, "redeem", -cost, state.balance, redemption_id, now))
        # With its COUPON#<code> guard: codes are unique and a till finds the coupon by code.
        add_coupon(
            tx,
            Coupon(
                keys.member_pk(member_id),
                keys.coupon_sk(code),
                code=code,
                member_id=member_id,
                kind="redemption",
                reward_id=reward_id,
                expires_at=expires_at,
                created_at=now,
            ),
        )
        if reward.stock is not None:
            tx.update("reward", reward, [Reward.stock.add(-1)], Reward.stock > 0)
        try:
            tx.commit()
        except Cancelled as exc:
            if "reward" in exc.failed and "member" not in exc.failed and "redemption" not in exc.failed:
                raise OutOfStock(f"{reward.name} is out of stock") from exc
            raise Retryable("member changed meanwhile") from exc
        count("Redemptions")
        count("PointsRedeemed", cost)
        logger.info("reward redeemed", extra={"member_id": member_id, "reward_id": reward_id, "points": cost})
        return Outcome(201, body)

    try:
        return with_retries(attempt)
    except (InsufficientPoints, OutOfStock, MemberFrozen) as exc:
        # A member who could not have the reward: the operators' signal of a catalogue or balance problem.
        count("RedemptionsRejected")
        logger.info("redemption refused", extra={"member_id": member_id, "reward_id": reward_id, "code": exc.code})
        raise
