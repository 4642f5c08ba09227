"""Manual points adjustments: the idempotency record (`MEMBER#<member_id>` / `ADJUST#<adjustment_id>`)
put, only if absent, in the unit of work that moves the points, so one adjustment id never moves
points twice (store/idempotency.py)."""

from __future__ import annotations

from typing import Unpack

from . import keys
from .models import Member, Recording
from .models_admin import Adjustment
from .reads import item_of, member_key, read_together


def adjustment_key(member_id: str, adjustment_id: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.adjustment_sk(adjustment_id)


def member_and_adjustment(member_id: str, adjustment_id: str) -> tuple[Member | None, Adjustment | None]:
    """The member and an adjustment already made under `adjustment_id`: one strongly consistent
    BatchGetItem (the two items share the member's partition)."""
    found = read_together([member_key(member_id), adjustment_key(member_id, adjustment_id)])
    return item_of(Member, found.get(member_key(member_id))), item_of(Adjustment, found.get(adjustment_key(member_id, adjustment_id)))


def new_adjustment(member_id: str, adjustment_id: str, **recording: Unpack[Recording]) -> Adjustment:
    return Adjustment.new(adjustment_key(member_id, adjustment_id), adjustment_id=adjustment_id, member_id=member_id, **recording)
