"""Coupons: the member's list, and redeeming one at the till.

Welcome, birthday and redemption coupons share one model (`Coupon`, under
the member) and are issued with their `COUPON#<code>` guard
(`store/coupons.py`). A coupon is single use: the till's redemption marks it
`redeemed` in a transaction conditioned on `status == issued`, together with
a `COUPONUSE#<redemption_id>` record (if absent) that makes the till's
retries answer the same and never redeem twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from ..api.schemas.engagement import CouponRedemptionRequest
from ..domain.clock import iso, utcnow
from ..domain.errors import CouponUnavailable, IdempotencyConflict, MemberFrozen, NotFound, Unauthorized
from ..observability import count, logger
from ..store import keys
from ..store.members import as_dict, get_member
from ..store.models import BaseItem, Coupon, Member
from ..store.models_engagement import CouponCode, CouponUse
from ..store.paging import decode_cursor, encode_cursor
from ..store.unit_of_work import Cancelled, Retryable, Transaction, with_retries
from .common import Answer as Outcome
from .common import fingerprint, plain
from .merchants import Merchant


def coupon_status(coupon: Coupon, now: datetime) -> str:
    """What the member sees: available, redeemed, expired or revoked."""
    if coupon.status == "issued":
        return "available" if coupon.expires_at > now else "expired"
    return str(coupon.status)


def coupon_view(coupon: Coupon, now: datetime) -> dict[str, Any]:
    return {
        "code": coupon.code,
        "kind": coupon.kind,
        "reward_id": coupon.reward_id,
        "status": coupon_status(coupon, now),
        "expires_at": iso(coupon.expires_at),
        "created_at": iso(coupon.created_at),
        "redeemed_at": iso(coupon.redeemed_at) if coupon.redeemed_at else None,
    }


def member_coupons(member_id: str, limit: int, cursor: str | None, status: str | None) -> dict[str, Any]:
    """GET /v1/me/coupons: the member's coupons in code order, optionally only one status.

    With a status filter the query reads on until the page is full, so pages
    are never short while more coupons match.
    """
    member = get_member(member_id)
    if member is None or member.status == "closed":
        raise Unauthorized("The membership is closed")
    now = utcnow()
    pk = keys.member_pk(member_id)
    start = {"pk": {"S": pk}, "sk": {"S": decode_cursor(cursor, keys.COUPON_PREFIX)}} if cursor else None
    results = BaseItem.query(pk, BaseItem.sk.startswith(keys.COUPON_PREFIX), last_evaluated_key=start, consistent_read=True, page_size=limit + 1)
    items: list[dict[str, Any]] = []
    last_sk: str | None = None
    more = False
    for coupon in results:
        if not isinstance(coupon, Coupon):
            continue
        view = coupon_view(coupon, now)
        if status and view["status"] != status:
            continue
        if len(items) == limit:
            more = True
            break
        items.append(view)
        last_sk = coupon.sk
    return {"items": items, "next_cursor": encode_cursor(last_sk) if more and last_sk else None}


def _redeemed_body(guard: CouponCode, redemption_id: str, store_id: str | None, now: datetime) -> dict[str, Any]:
    return {
        "code": guard.code,
        "member_id": guard.member_id,
        "reward_id": guard.reward_id,
        "kind": guard.kind,
        "redemption_id": redemption_id,
        "store_id": store_id,
        "redeemed_at": iso(now),
    }


def _replay(use: CouponUse, digest: str) -> Outcome:
    if use.fingerprint != digest:
        raise IdempotencyConflict("That redemption_id was already used for another coupon or store")
    return Outcome(201, plain(as_dict(use.response)))


def redeem_coupon(code: str, request: CouponRedemptionRequest, merchant: Merchant) -> Outcome:
    """Redeem a coupon at the till, once; the same `redemption_id` again answers the same.

    Two reads (the code guard with any earlier use of the redemption id; the
    coupon) and one transaction: the use record (absent), the coupon
    (`status == issued`), and a check that the member is active.
    """
    store_id = merchant.store_for(request.store_id)
    digest = fingerprint({"code": code, "redemption_id": request.redemption_id, "store_id": store_id})

    def attempt() -> Outcome:
        now = utcnow()
        wanted = [(keys.coupon_code_pk(code), keys.GUARD), (keys.coupon_use_pk(request.redemption_id), keys.COUPON_USE_SK)]
        found = {(i.pk, i.sk): i for i in BaseItem.batch_get(wanted, consistent_read=True)}
        guard, use = found.get(wanted[0]), found.get(wanted[1])
        if isinstance(use, CouponUse):
            return _replay(use, digest)
        if not isinstance(guard, CouponCode):
            raise NotFound("No coupon with that code")
        try:
            coupon = Coupon.get(keys.member_pk(guard.member_id), keys.coupon_sk(code), consistent_read=True)
        except DoesNotExist:
            raise NotFound("No coupon with that code") from None
        status = coupon_status(coupon, now)
        if coupon.status == "redeemed" and coupon.redemption_id == request.redemption_id:
            # This very redemption committed between the two reads (a retry racing its original).
            return _replay(CouponUse.get(keys.coupon_use_pk(request.redemption_id), keys.COUPON_USE_SK, consistent_read=True), digest)
        if status != "available":
            raise CouponUnavailable(f"The coupon is {status}")
        body = _redeemed_body(guard, request.redemption_id, store_id, now)
        tx = Transaction()
        tx.put(
            "use",
            CouponUse(
                keys.coupon_use_pk(request.redemption_id),
                keys.COUPON_USE_SK,
                redemption_id=request.redemption_id,
                code=code,
                fingerprint=digest,
                response=body,
                created_at=now,
            ),
            CouponUse.pk.does_not_exist(),
            return_old=True,
        )
        tx.update(
            "coupon",
            coupon,
            [
                Coupon.status.set("redeemed"),
                Coupon.redeemed_at.set(now),
                Coupon.redemption_id.set(request.redemption_id),
                Coupon.redeemed_store.set(store_id),
            ],
            Coupon.status == "issued",
        )
        tx.condition_check("member", Member, keys.member_pk(guard.member_id), keys.PROFILE, Member.status == "active")
        try:
            tx.commit()
        except Cancelled as exc:
            if earlier := exc.failed.get("use"):
                return _replay(CouponUse.from_raw_data(earlier), digest)
            if "member" in exc.failed:
                member = get_member(guard.member_id)
                if member is not None and member.status == "frozen":
                    raise MemberFrozen("The membership is frozen; its coupons cannot be used") from exc
                if member is None or member.status != "active":
                    raise CouponUnavailable("The membership is closed") from exc
            raise Retryable("coupon changed meanwhile") from exc
        count("CouponsRedeemed")
        logger.info("coupon redeemed", extra={"member_id": guard.member_id, "kind": guard.kind, "store_id": store_id})
        return Outcome(201, body)

    return with_retries(attempt)
