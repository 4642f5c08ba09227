"""Coupons: the member's list, gifts, and using one at the till.

Welcome, birthday and redemption coupons share one model, issued with their code guard
(store/coupons.py). A coupon is single use: the till's redemption marks it `redeemed`
(conditioned on it still being issued) in the unit of work that puts its use record, so a
till's retry answers the same and nothing is redeemed twice (store/idempotency.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..api.schemas.engagement import CouponRedemptionRequest
from ..api.schemas.views import coupon_redemption_view, coupon_view
from ..domain.clock import utcnow
from ..domain.coupons import coupon_status, gift_expires_at
from ..domain.errors import CouponUnavailable, MemberFrozen, NotFound
from ..domain.membership import Status
from ..domain.rules import ProgramRules
from ..observability import count, logger
from ..store import coupons
from ..store.idempotency import existing_record, new_write_token, put_record, replay
from ..store.members import get_member
from ..store.models import Coupon
from ..store.models_engagement import CouponUse
from ..store.rewards import get_reward
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from .common import Answer, created, fingerprint, replayed
from .merchants import Merchant
from .sessions import MemberSession, open_member

CONFLICT = "That redemption_id was already used for another coupon or store"


def member_coupons(session: MemberSession, limit: int, cursor: str | None, status: str | None) -> dict[str, Any]:
    """GET /v1/me/coupons: the member's coupons in code order, optionally only one status (pages
    are never short while more coupons have it)."""
    member_id = open_member(session).member_id
    now = utcnow()

    def keep(coupon: Coupon) -> bool:
        return status is None or coupon_status(coupon.status, coupon.expires_at, now) == status

    return coupons.coupon_page(member_id, limit, cursor, keep).view(lambda coupon: coupon_view(coupon, now))


def gift_coupon(member_id: str, kind: str, reward_id: str | None, rules: ProgramRules, now: datetime) -> Coupon | None:
    """A gift coupon (welcome, birthday) for `reward_id`, to add to the unit of work that grants
    it (`store.coupons.add_coupon`); None when no gift is due (domain/coupons.py)."""
    reward = get_reward(reward_id) if reward_id else None
    expires_at = gift_expires_at(
        now, rules, in_catalogue=reward is not None and bool(reward.active), reward_valid_days=reward.coupon_valid_days if reward else None
    )
    return coupons.new_coupon(member_id, kind, reward_id, expires_at, now) if expires_at is not None else None


def redeem_coupon(code: str, request: CouponRedemptionRequest, merchant: Merchant) -> Answer:
    """Redeem a coupon at the till, once; the same `redemption_id` again answers the same.

    Two reads (the code guard with any earlier use of the redemption id; the coupon) and one
    unit of work: the use record (absent), the coupon (still issued), and a check that the
    member is active.
    """
    store_id = merchant.store_for(request.store_id)
    redemption_id = request.redemption_id
    digest = fingerprint({"code": code, "redemption_id": redemption_id, "store_id": store_id})
    write_token = new_write_token()

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        guard, use = coupons.guard_and_use(code, redemption_id)
        if use is not None:
            return replayed(replay(use, digest, CONFLICT, write_token))
        coupon = coupons.get_coupon(guard.member_id, code) if guard is not None else None
        if guard is None or coupon is None:
            raise NotFound("No coupon with that code")
        if coupon.status == "redeemed" and coupon.redemption_id == redemption_id:
            # This very redemption committed between the two reads (a retry racing its original).
            committed = coupons.get_use(redemption_id)
            if committed is not None:
                return replayed(replay(committed, digest, CONFLICT, write_token))
        status = coupon_status(coupon.status, coupon.expires_at, now)
        if status != "available":
            raise CouponUnavailable(f"The coupon is {status}")
        body = coupon_redemption_view(guard, redemption_id, store_id, now)
        record = coupons.new_use(redemption_id, code, fingerprint=digest, write_token=write_token, response=body, now=now)
        put_record(uow, "record", record)
        coupons.mark_redeemed(uow, coupon, redemption_id, store_id, now)
        coupons.check_member_status(uow, guard.member_id, Status.ACTIVE)
        member_id = guard.member_id

        def explain(cancelled: Cancelled) -> Answer | None:
            earlier = existing_record(cancelled, "record", CouponUse, coupons.use_key(redemption_id))
            if earlier is not None:
                return replayed(replay(earlier, digest, CONFLICT, write_token))
            if "member" in cancelled.failed:
                member = get_member(member_id)
                if member is not None and member.status == Status.FROZEN:
                    raise MemberFrozen("The membership is frozen; its coupons cannot be used")
                if member is None or member.status != Status.ACTIVE:
                    raise CouponUnavailable("The membership is closed")
            return None  # the coupon or the member changed meanwhile: read again

        answer = uow.commit(explain)
        if answer is not None:
            return answer
        count("CouponsRedeemed")
        logger.info("coupon redeemed", extra={"member_id": member_id, "kind": guard.kind, "store_id": store_id})
        return created(body)

    return run(attempt)
