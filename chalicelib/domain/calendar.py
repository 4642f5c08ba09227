"""The program's calendar: birthdays and anniversaries (29 February on 28 February in other
years). Pure."""

from __future__ import annotations

import calendar
from datetime import date


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


def birthday_multiplier_applies(birthday: str | None, today: date) -> bool:
    return is_celebrated_today(birthday, today)


def period_key(period: str, day: date) -> str:
    """The calendar period `day` falls in, for limits counted per period: ISO week `2026-W49`,
    month `2026-12`, year `2026`."""
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if period == "year":
        return f"{day.year:04d}"
    raise ValueError(f"unknown period {period!r}")
