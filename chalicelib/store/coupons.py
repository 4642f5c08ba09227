"""Coupons as the table keeps them: the member's Coupon item and its code guard, always issued
together, and the record of each use at a till.

- `MEMBER#<id>` / `COUPON#<code>` (Coupon): the member's coupon; its `status` goes from `issued`
  to `redeemed` (or `revoked`) once, conditionally.
- `COUPON#<code>` / `GUARD` (CouponCode): put only if absent in the unit of work that issues the
  coupon, so codes are unique program-wide and a till finds a coupon by its code alone. A code
  that collides cancels the unit of work; the caller starts over with a new code.
- `COUPONUSE#<redemption_id>` / `COUPONUSE` (CouponUse): the till's use of a coupon, the
  idempotency record (store/idempotency.py) put with the coupon's redemption.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Unpack

from pynamodb.exceptions import DoesNotExist

from ..domain.codes import COUPON_ALPHABET
from . import keys
from .models import BaseItem, Coupon, Member, Recording
from .models_engagement import CouponCode, CouponUse
from .paging import Page, encode_cursor, query_page, start_key
from .reads import item_of, read_together
from .unit_of_work import UnitOfWork

CODE_LENGTH = 10


def new_coupon_code() -> str:
    return "".join(secrets.choice(COUPON_ALPHABET) for _ in range(CODE_LENGTH))


def new_coupon(member_id: str, kind: str, reward_id: str | None, expires_at: datetime, now: datetime) -> Coupon:
    """An issued coupon with a fresh code (not yet written: `add_coupon`)."""
    code = new_coupon_code()
    return Coupon(
        keys.member_pk(member_id),
        keys.coupon_sk(code),
        code=code,
        member_id=member_id,
        kind=kind,
        reward_id=reward_id,
        status="issued",
        expires_at=expires_at,
        created_at=now,
    )


def add_coupon(uow: UnitOfWork, coupon: Coupon, name: str = "coupon") -> None:
    """Put the coupon and its code guard (both only if absent): a part named
    `<name>` or `<name>_code` failing means the code was taken; start over."""
    uow.put(name, coupon, Coupon.pk.does_not_exist())
    uow.put(
        f"{name}_code",
        CouponCode(
            keys.coupon_code_pk(coupon.code),
            keys.GUARD,
            code=coupon.code,
            member_id=coupon.member_id,
            kind=coupon.kind,
            reward_id=coupon.reward_id,
            expires_at=coupon.expires_at,
            created_at=coupon.created_at,
        ),
        CouponCode.pk.does_not_exist(),
    )


def get_coupon(member_id: str, code: str) -> Coupon | None:
    try:
        return Coupon.get(keys.member_pk(member_id), keys.coupon_sk(code), consistent_read=True)
    except DoesNotExist:
        return None


def coupon_page(member_id: str, limit: int, cursor: str | None, keep: Callable[[Coupon], bool]) -> Page[Coupon]:
    """A page of the member's coupons in code order, only those `keep` keeps: the query reads on
    until the page is full, so a page is never short while more coupons are kept."""
    pk = keys.member_pk(member_id)
    results = BaseItem.query(
        pk,
        BaseItem.sk.startswith(keys.COUPON_PREFIX),
        last_evaluated_key=start_key(pk, cursor, keys.COUPON_PREFIX),
        consistent_read=True,
        page_size=limit + 1,
    )
    items: list[Coupon] = []
    more = False
    for coupon in results:
        if not isinstance(coupon, Coupon) or not keep(coupon):
            continue
        if len(items) == limit:
            more = True
            break
        items.append(coupon)
    return Page(items, encode_cursor(items[-1].sk) if more and items else None)


# --- at the till ---------------------------------------------------------------------------


def use_key(redemption_id: str) -> tuple[str, str]:
    return keys.coupon_use_pk(redemption_id), keys.COUPON_USE_SK


def guard_and_use(code: str, redemption_id: str) -> tuple[CouponCode | None, CouponUse | None]:
    """The coupon's code guard and any use already recorded under `redemption_id`: one strongly
    consistent round trip."""
    guard_key = (keys.coupon_code_pk(code), keys.GUARD)
    found = read_together([guard_key, use_key(redemption_id)])
    return item_of(CouponCode, found.get(guard_key)), item_of(CouponUse, found.get(use_key(redemption_id)))


def get_use(redemption_id: str) -> CouponUse | None:
    try:
        return CouponUse.get(*use_key(redemption_id), consistent_read=True)
    except DoesNotExist:
        return None


def new_use(redemption_id: str, code: str, **recording: Unpack[Recording]) -> CouponUse:
    """The record of one use at a till (its idempotency record: `idempotency.put_record`)."""
    return CouponUse.new(use_key(redemption_id), redemption_id=redemption_id, code=code, **recording)


def mark_redeemed(uow: UnitOfWork, coupon: Coupon, redemption_id: str, store_id: str, now: datetime) -> None:
    """The coupon is used, once: the part `coupon` fails unless it is still issued."""
    uow.update(
        "coupon",
        coupon,
        [
            Coupon.status.set("redeemed"),
            Coupon.redeemed_at.set(now),
            Coupon.redemption_id.set(redemption_id),
            Coupon.redeemed_store.set(store_id),
        ],
        Coupon.status == "issued",
    )


def check_member_status(uow: UnitOfWork, member_id: str, status: str, name: str = "member") -> None:
    """The unit of work commits only while the member's status is `status` (the part `name` fails otherwise)."""
    uow.condition_check(name, Member, keys.member_pk(member_id), keys.PROFILE, Member.status == status)


def unfiltered_coupon_page(member_id: str, limit: int, cursor: str | None) -> Page[Coupon]:
    """One query of up to `limit` of the member's coupons in code order, every status (what
    operators list): `next_cursor` whenever a full page came back and DynamoDB has more keys."""
    return query_page(Coupon, keys.member_pk(member_id), keys.COUPON_PREFIX, limit, cursor)
