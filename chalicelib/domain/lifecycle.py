"""The member's lifecycle stage, from when they joined, bought and were last active. Pure.

new (joined less than `new_member_days` ago and no purchase yet), active, at_risk (no
activity for `at_risk_after_days`), dormant (`dormant_after_days` or more).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Literal

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
