"""Referrals as the table keeps them: `MEMBER#<referrer>` / `REFERRAL#<referee>` (Referral), one
per referred member ever (a conditional put when the friend first verifies), settled once
(conditioned on `status == joined`, when the friend first buys). The referred member's
`referral_open` says a referral of theirs waits for that first purchase."""

from __future__ import annotations

import secrets
from datetime import datetime

from pynamodb.expressions.update import Action

from . import keys
from .models import Member
from .models_engagement import Referral
from .reads import item_of, member_key, read_together
from .unit_of_work import UnitOfWork


def referral_reads(referrer_id: str, referee_id: str) -> tuple[Member | None, Referral | None]:
    """The referrer and the referral record, in one strongly consistent round trip."""
    record_key = (keys.member_pk(referrer_id), keys.referral_sk(referee_id))
    found = read_together([member_key(referrer_id), record_key])
    return item_of(Member, found.get(member_key(referrer_id))), item_of(Referral, found.get(record_key))


def add_referral(uow: UnitOfWork, referrer_id: str, referee_id: str, referee_points: int, now: datetime) -> Referral:
    """Put the referral, joined, only if the referee has none yet (part `referral`)."""
    referral = Referral(
        keys.member_pk(referrer_id),
        keys.referral_sk(referee_id),
        referral_id=f"ref_{secrets.token_hex(8)}",
        referrer_id=referrer_id,
        referee_id=referee_id,
        status="joined",
        referee_points=referee_points,
        joined_at=now,
    )
    uow.put("referral", referral, Referral.pk.does_not_exist())
    return referral


def reward(uow: UnitOfWork, referral: Referral, referrer_points: int, now: datetime) -> None:
    """Settle a joined referral, rewarded with `referrer_points` (part `referral`: fails unless it
    is still joined)."""
    actions = [Referral.status.set("rewarded"), Referral.referrer_points.set(referrer_points), Referral.settled_at.set(now)]
    uow.update("referral", referral, actions, Referral.status == "joined")


def forfeit(uow: UnitOfWork, referral: Referral, reason: str, now: datetime) -> None:
    """Settle a joined referral, forfeited for good because of `reason` (part `referral`)."""
    actions = [Referral.status.set("forfeited"), Referral.reason.set(reason), Referral.settled_at.set(now)]
    uow.update("referral", referral, actions, Referral.status == "joined")


def claw_back(uow: UnitOfWork, referral: Referral, now: datetime) -> None:
    """A rewarded referral whose bonus a refund takes back (part `referral`: fails unless it is
    still rewarded, so it happens once)."""
    actions = [Referral.status.set("clawed_back"), Referral.clawed_back_at.set(now)]
    uow.update("referral", referral, actions, Referral.status == "rewarded")


def referral_open_writes(is_open: bool) -> list[Action]:
    """The referred member's writes: a referral waits for their first purchase, or no longer does."""
    return [Member.referral_open.set(True) if is_open else Member.referral_open.remove()]
