"""Rules of the program's calendar: birthdays, anniversaries, lifecycle
stages, quiet hours, frequency caps and message channels. Pure.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal, TypeIs, get_args

if TYPE_CHECKING:
    from .rules import ProgramRules

Stage = Literal["new", "active", "at_risk", "dormant"]
Channel = Literal["sms", "email", "push"]
CHANNEL_PREFERENCE: tuple[tuple[Channel, str], ...] = (("push", "push"), ("sms", "sms_marketing"), ("email", "email_marketing"))


def is_channel(value: str) -> TypeIs[Channel]:
    """A channel read back from the table (stored as a plain string) is one the program sends on."""
    return value in get_args(Channel)


def month_day(day: date) -> str:
    return f"{day.month:02d}-{day.day:02d}"


def celebrated_month_days(today: date) -> list[str]:
    """The month-days celebrated today: 29 February counts as 28 February in other years."""
    days = [month_day(today)]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append("02-29")
    return days


def is_celebrated_today(anniversary: date | str | None, today: date) -> bool:
    if not anniversary:
        return False
    value = anniversary if isinstance(anniversary, date) else date.fromisoformat(anniversary)
    return month_day(value) in celebrated_month_days(today)


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


def in_quiet_hours(rules: ProgramRules, local: datetime) -> bool:
    start, end, now = rules.quiet_hours_start, rules.quiet_hours_end, local.timetz().replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def next_allowed_time(rules: ProgramRules, local: datetime) -> datetime:
    """`local` itself when sending is allowed, else the end of the quiet hours."""
    if not in_quiet_hours(rules, local):
        return local
    end = local.replace(hour=rules.quiet_hours_end.hour, minute=rules.quiet_hours_end.minute, second=0, microsecond=0)
    return end if end > local else end + timedelta(days=1)


def recent_marketing(sent_at: Iterable[str], now: datetime, rules: ProgramRules) -> list[str]:
    """The marketing sends still inside the frequency-cap window (ISO timestamps)."""
    cutoff = now - timedelta(days=rules.frequency_cap_days)
    return sorted(s for s in sent_at if datetime.fromisoformat(s) > cutoff)


def preferred_channel(consents: Mapping[str, bool], consent_required: bool, has_email: bool) -> Channel | None:
    """Push, then SMS, then email: the first channel the member consented to.

    A message that needs no consent (a service notice such as a tier change)
    falls back to SMS, the channel the member verified.
    """
    for channel, consent in CHANNEL_PREFERENCE:
        if consents.get(consent) and (channel != "email" or has_email):
            return channel
    return None if consent_required else "sms"


def reviewed_tier(rules: ProgramRules, current: str, earned_in_window: int) -> str:
    """The tier after the yearly review: up to what was earned, down at most one level."""
    eligible = max((i for i, t in enumerate(rules.tiers) if t.threshold <= earned_in_window), default=0)
    rank = rules.tier_rank(current)
    if eligible >= rank:
        return rules.tiers[eligible].id
    return rules.tiers[rank - 1].id


def birthday_multiplier_applies(birthday: str | None, today: date) -> bool:
    return is_celebrated_today(birthday, today)
