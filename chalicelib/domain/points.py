"""Points: how many a purchase earns, and how a balance changes.

A member's points live in lots, one per calendar month earned (program time
zone), each expiring `points_validity_months` after the end of its month.
Spending takes from the oldest lot first. Invariants kept by every function:

- `sum(lots.values()) == max(balance, 0)`; every lot is > 0.
- `balance` only goes below zero through `claw_back` (a refund reversing points
  the member had already spent); later earnings pay that debt first.
- `earned_months` holds the qualifying points per month for tier review,
  pruned to the qualifying window.

Pure: no AWS, no clock. Callers pass dates in the program time zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def lot_expires_on(month: str, validity_months: int) -> date:
    """The first day a lot earned in `month` ("YYYY-MM") is no longer usable.

    Earned in 2026-11 with 12 months' validity: the month ends 2026-12-01, so
    the lot expires on 2027-12-01.
    """
    year, mon = int(month[:4]), int(month[5:7])
    year, mon = add_months(year, mon, 1 + validity_months)
    return date(year, mon, 1)


def purchase_points(amount_minor: int, earn_rate: Decimal, multiplier: Decimal) -> int:
    """floor(amount / 100 x earn rate x multiplier), exactly (no float rounding)."""
    if amount_minor <= 0:
        return 0
    return math.floor(Fraction(amount_minor, 100) * Fraction(earn_rate) * Fraction(multiplier))


def proportional_reversal(points_earned: int, amount: int, refunded_total: int) -> int:
    """Points to have reversed once `refunded_total` of `amount` is refunded.

    Cumulative, so partial refunds add up to exactly the points earned when
    the whole amount comes back.
    """
    if refunded_total >= amount:
        return points_earned
    return math.floor(Fraction(points_earned * refunded_total, amount))


@dataclass(frozen=True)
class PointsState:
    balance: int = 0
    lifetime_earned: int = 0
    lots: dict[str, int] = field(default_factory=dict)
    earned_months: dict[str, int] = field(default_factory=dict)

    def lots_oldest_first(self) -> list[tuple[str, int]]:
        return sorted((m, p) for m, p in self.lots.items() if p > 0)


class NotEnoughPoints(Exception):
    pass


def earn(state: PointsState, points: int, month: str, *, qualifying: bool) -> PointsState:
    """Add `points` earned in `month`; a negative balance is paid off first."""
    if points < 0:
        raise ValueError("earn takes a non-negative number of points")
    new_balance = state.balance + points
    into_lot = max(new_balance, 0) - max(state.balance, 0)
    lots = dict(state.lots)
    if into_lot:
        lots[month] = lots.get(month, 0) + into_lot
    earned_months = dict(state.earned_months)
    if qualifying and points:
        earned_months[month] = earned_months.get(month, 0) + points
    return replace(
        state,
        balance=new_balance,
        lifetime_earned=state.lifetime_earned + points,
        lots=lots,
        earned_months=earned_months,
    )


def _take_from_lots(lots: dict[str, int], points: int, first: str | None = None) -> tuple[dict[str, int], int]:
    """Remove up to `points` from lots (`first` month first, then oldest first)."""
    remaining = dict(lots)
    order = sorted(remaining)
    if first in remaining:
        order.remove(first)
        order.insert(0, first)
    left = points
    for month in order:
        if left == 0:
            break
        taken = min(remaining[month], left)
        remaining[month] -= taken
        left -= taken
        if remaining[month] == 0:
            del remaining[month]
    return remaining, points - left


def spend(state: PointsState, points: int) -> PointsState:
    """Spend `points`, oldest lots first. Raises NotEnoughPoints; never goes below zero."""
    if points < 0:
        raise ValueError("spend takes a non-negative number of points")
    if state.balance < points:
        raise NotEnoughPoints
    lots, _ = _take_from_lots(state.lots, points)
    return replace(state, balance=state.balance - points, lots=lots)


def claw_back(state: PointsState, points: int, month: str) -> PointsState:
    """Reverse `points` earned in `month` (a refund).

    Takes from that month's lot first, then the oldest; if the member already
    spent them, the balance goes negative and later earnings pay it back.
    """
    if points < 0:
        raise ValueError("claw_back takes a non-negative number of points")
    lots, _ = _take_from_lots(state.lots, points, first=month)
    earned_months = dict(state.earned_months)
    if month in earned_months:
        earned_months[month] = max(earned_months[month] - points, 0)
        if earned_months[month] == 0:
            del earned_months[month]
    return replace(
        state,
        balance=state.balance - points,
        lifetime_earned=max(state.lifetime_earned - points, 0),
        lots=lots,
        earned_months=earned_months,
    )


def qualifying_window(today: date, window_months: int) -> list[str]:
    """The month keys of the trailing window ending with `today`'s month."""
    months = []
    for back in range(window_months):
        year, mon = add_months(today.year, today.month, -back)
        months.append(f"{year:04d}-{mon:02d}")
    return months


def qualifying_points(state: PointsState, today: date, window_months: int) -> int:
    return sum(state.earned_months.get(m, 0) for m in qualifying_window(today, window_months))


def prune_earned_months(state: PointsState, today: date, window_months: int) -> PointsState:
    """Forget months that have left the qualifying window (bounds the item's size)."""
    keep = set(qualifying_window(today, window_months))
    return replace(state, earned_months={m: p for m, p in state.earned_months.items() if m in keep})


def expiring_summary(state: PointsState, validity_months: int) -> list[dict[str, object]]:
    return [{"points": points, "expires_on": lot_expires_on(month, validity_months).isoformat()} for month, points in state.lots_oldest_first()]
