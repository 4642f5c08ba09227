"""Coupons: what a member sees of one, and how long one is valid. Pure.

- A coupon is issued once (`issued`) and leaves that status once: `redeemed` at a till, or
  `revoked` when its membership is erased. An issued coupon past its expiry is shown as
  `expired`; nothing is written when it expires.
- A coupon is valid for its reward's `coupon_valid_days`, else the program's.
- A gift (the welcome and birthday coupons) is given only for a reward still in the catalogue:
  a gift is never worth failing a request or a job over. Gifts take nothing from the reward's
  stock, which counts redemptions for points.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .rules import ProgramRules  # pydantic: loaded with the rules, not with every view


def coupon_status(status: str, expires_at: datetime, now: datetime) -> str:
    """What the member (and a till) sees: available, redeemed, expired or revoked."""
    if status == "issued":
        return "available" if expires_at > now else "expired"
    return status


def coupon_expires_at(now: datetime, reward_valid_days: float | None, rules: ProgramRules) -> datetime:
    """The end of a coupon issued `now` for a reward valid `reward_valid_days` (None: the program's)."""
    return now + timedelta(days=int(reward_valid_days or rules.coupon_valid_days))


def gift_expires_at(now: datetime, rules: ProgramRules, *, in_catalogue: bool, reward_valid_days: float | None) -> datetime | None:
    """The end of a gift coupon for a reward, or None when no gift is due (the reward is not, or
    no longer, in the catalogue)."""
    return coupon_expires_at(now, reward_valid_days, rules) if in_catalogue else None
