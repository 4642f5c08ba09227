"""Redemptions of rewards for points as the table keeps them: `MEMBER#<id>` /
`REDEMPTION#<Idempotency-Key>` (Redemption), the idempotency record (store/idempotency.py) put in
the unit of work that spends the points and issues the coupon."""

from __future__ import annotations

import secrets
from typing import Unpack

from . import keys
from .models import Member, Recording, Redemption, Reward
from .reads import item_of, member_key, read_together
from .rewards import reward_key


def new_redemption_id() -> str:
    return f"rdm_{secrets.token_hex(8)}"


def record_key(member_id: str, idempotency_key: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.redemption_sk(idempotency_key)


def redemption_reads(member_id: str, idempotency_key: str, reward_id: str) -> tuple[Member | None, Redemption | None, Reward | None]:
    """The member, any redemption already recorded under the key, and the reward: one strongly
    consistent round trip."""
    wanted = [member_key(member_id), record_key(member_id, idempotency_key), reward_key(reward_id)]
    found = read_together(wanted)
    return item_of(Member, found.get(wanted[0])), item_of(Redemption, found.get(wanted[1])), item_of(Reward, found.get(wanted[2]))


def new_record(member_id: str, idempotency_key: str, **recording: Unpack[Recording]) -> Redemption:
    """The record of a redemption (its idempotency record: `idempotency.put_record`)."""
    return Redemption.new(record_key(member_id, idempotency_key), **recording)
