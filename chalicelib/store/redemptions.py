"""Redemptions of rewards for points as the table keeps them: `MEMBER#<id>` /
`REDEMPTION#<Idempotency-Key>` (Redemption), the idempotency record (store/idempotency.py) put in
the unit of work that spends the points and issues the coupon."""

from __future__ import annotations

import secrets
from typing import Unpack

from . import keys
from .models import BaseItem, Member, Recording, Redemption, Reward
from .rewards import reward_key


def new_redemption_id() -> str:
    return f"rdm_{secrets.token_hex(8)}"


def record_key(member_id: str, idempotency_key: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.redemption_sk(idempotency_key)


def redemption_reads(member_id: str, idempotency_key: str, reward_id: str) -> tuple[Member | None, Redemption | None, Reward | None]:
    """The member, any redemption already recorded under the key, and the reward: one strongly
    consistent round trip."""
    wanted = [(keys.member_pk(member_id), keys.PROFILE), record_key(member_id, idempotency_key), reward_key(reward_id)]
    found = {(i.pk, i.sk): i for i in BaseItem.batch_get(wanted, consistent_read=True)}
    member, record, reward = (found.get(key) for key in wanted)
    return (
        member if isinstance(member, Member) else None,
        record if isinstance(record, Redemption) else None,
        reward if isinstance(reward, Reward) else None,
    )


def new_record(member_id: str, idempotency_key: str, **recording: Unpack[Recording]) -> Redemption:
    """The record of a redemption (its idempotency record: `idempotency.put_record`)."""
    return Redemption.new(record_key(member_id, idempotency_key), **recording)
