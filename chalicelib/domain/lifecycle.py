"""The member's lifecycle stage, from when they joined, bought and were last active. Pure.

new (joined less than `new_member_days` ago and no purchase yet), active, at_risk (no
activity for `at_risk_after_days`), dormant (`dormant_after_days` or more).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .rules import ProgramRules

Stage = Literal["new", "active", "at_risk", "dormant"]


def lifecycle_stage(rules: ProgramRules, joined_on: date, last_activity_on: date | None, has_purchased: bool, today: date) -> Stage:
    """new (joined < new_member_days, no purchase), active, at_risk (no activity for
    at_risk_after_days), dormant (dormant_after_days or more)."""
    if not has_purchased and (today - joined_on).days < rules.new_member_days:
        return "new"
    idle = (today - (last_activity_on or joined_on)).days
    if idle >= rules.dormant_after_days:
        return "dormant"
    if idle >= rules.at_risk_after_days:
        return "at_risk"
    return "active"


def joined_on(created_at: datetime, zone: ZoneInfo) -> date:
    """The program-time day a member joined (their anniversary, and where "new" counts from)."""
    return created_at.astimezone(zone).date()


@dataclass(frozen=True)
class Activity:
    """What the program knows of a member's activity: the last day of it, whether they ever
    bought, and the stage that follows."""

    last_activity_on: str | None
    has_purchased: bool
    stage: str


def after_activity(rules: ProgramRules, joined: date, has_purchased: bool, today: date, *, purchased: bool = False) -> Activity:
    """Activity today (a purchase, a redemption, a sign-in): the stage it puts the member in."""
    bought = has_purchased or purchased
    return Activity(today.isoformat(), bought, lifecycle_stage(rules, joined, today, bought, today))
