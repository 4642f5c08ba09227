"""Referrals: when a member who shared their code is rewarded for a friend. Pure.

A referral never counts when the referrer is gone or not active (when the friend first verifies,
and again when the friend first buys), refers themselves, or was themselves referred by the
friend (a loop).
"""

from __future__ import annotations

from typing import Protocol


class Party(Protocol):
    """What these rules read of a member (a stored Member has it)."""

    @property
    def member_id(self) -> str: ...
    @property
    def referred_by(self) -> str | None: ...
    @property
    def status(self) -> str: ...


def why_not_rewarded(referrer: Party | None, referee: Party) -> str | None:
    """Why a referral earns nothing now, or None when the referrer may be rewarded."""
    if referrer is None:
        return "referrer_gone"
    if referrer.member_id == referee.member_id:
        return "self_referral"
    if referrer.referred_by == referee.member_id:
        return "referral_loop"
    if referrer.status != "active":
        return f"referrer_{referrer.status}"
    return None
