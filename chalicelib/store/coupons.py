"""Issuing coupons: the member's Coupon item and its code guard, always together.

Every coupon (welcome, birthday, redemption) is issued by `add_coupon` inside
the transaction that grants it, so its code is unique program-wide (the
`COUPON#<code>` guard is a conditional put) and a till can find it by code.
A code that collides cancels the transaction; the caller retries with a new code.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from ..domain.codes import COUPON_ALPHABET
from ..domain.rules import ProgramRules
from . import keys
from .models import Coupon, Reward
from .models_engagement import CouponCode
from .paging import Page, query_page
from .unit_of_work import UnitOfWork

CODE_LENGTH = 10


def new_coupon_code() -> str:
    return "".join(secrets.choice(COUPON_ALPHABET) for _ in range(CODE_LENGTH))


def new_coupon(member_id: str, kind: str, reward_id: str | None, expires_at: datetime, now: datetime) -> Coupon:
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


def add_coupon(tx: UnitOfWork, coupon: Coupon, name: str = "coupon") -> None:
    """Put the coupon and its code guard (both only if absent): a part named
    `<name>` or `<name>_code` failing means the code was taken; retry."""
    tx.put(name, coupon, Coupon.pk.does_not_exist())
    tx.put(
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


def gift_coupon(member_id: str, kind: str, reward_id: str | None, rules: ProgramRules, now: datetime) -> Coupon | None:
    """A coupon for `reward_id` as a gift (welcome, birthday), valid for the reward's
    `coupon_valid_days` or the program's. None when the reward is not (or no longer)
    in the catalogue: a gift is never worth failing the request or job over.
    Gifts do not take from the reward's stock, which counts redemptions for points."""
    if not reward_id:
        return None
    try:
        reward = Reward.get(keys.REWARD_PK, keys.reward_sk(reward_id))
    except DoesNotExist:
        return None
    if not reward.active:
        return None
    expires_at = now + timedelta(days=int(reward.coupon_valid_days or rules.coupon_valid_days))
    return new_coupon(member_id, kind, reward_id, expires_at, now)


def unfiltered_coupon_page(member_id: str, limit: int, cursor: str | None) -> Page[Coupon]:
    """One query of up to `limit` of the member's coupons in code order, every status (what
    operators list): `next_cursor` whenever a full page came back and DynamoDB has more keys."""
    return query_page(Coupon, keys.member_pk(member_id), keys.COUPON_PREFIX, limit, cursor)
