"""What the analytics count, decided once (pure): the trailing window, the lot months still
holding points, and how a rate is stated. The SQL that counts is store/analytics_sql.py."""

from __future__ import annotations

from datetime import date, timedelta

from .points import add_months, lot_expires_on

NEW_MEMBER_WEEKS = 12  # new members per week: the last twelve weeks


def window_start(as_of: date, months: int) -> date:
    """The first day of the trailing window of `months` months ending on `as_of` (inclusive): the
    day after `as_of` moved back `months` months (clamped to that month's end). 2026-11-30 with
    12 months: 2025-12-01."""
    year, month = add_months(as_of.year, as_of.month, -months)
    last_day = (date(*add_months(year, month, 1), 1) - date(year, month, 1)).days
    return date(year, month, min(as_of.day, last_day)) + timedelta(days=1)


def unexpired_lot_months(as_of: date, validity_months: int) -> list[tuple[str, date]]:
    """(YYYY-MM, expires_on) of every month whose points may still be held on `as_of`, oldest first."""
    months = []
    for back in range(validity_months + 2, -1, -1):
        year, month = add_months(as_of.year, as_of.month, -back)
        label = f"{year:04d}-{month:02d}"
        expires = lot_expires_on(label, validity_months)
        if expires > as_of:
            months.append((label, expires))
    return months


def rate(part: int, whole: int) -> float | None:
    """part / whole to four decimals (0.1234 is 12.34 %); None when there is no whole."""
    return round(part / whole, 4) if whole else None
