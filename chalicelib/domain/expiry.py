"""Points expiry: which lots are due, what expiring them leaves, which lots a reminder is for. Pure.

The `expire-points` job asks this module, member by member (usecases/points_expiry.py).

A lot earned in a month expires on the first day after `points_validity_months` full months
after that month (points.lot_expires_on). Expiring takes what is left of each due lot, oldest
first, never below zero and never points already spent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from .notices import expiry_reminder_key
from .points import PointsState, lot_expires_on


@dataclass(frozen=True)
class Expiry:
    """What expiring the due lots does: the state after, and (month, points) per lot taken."""

    state: PointsState
    expired: list[tuple[str, int]]

    @property
    def points(self) -> int:
        return sum(points for _, points in self.expired)


def due_lots(state: PointsState, as_of: date, validity_months: int) -> list[tuple[str, int]]:
    """The lots whose expiry date has come by `as_of`, oldest first, with what is left in each."""
    return [(month, points) for month, points in state.lots_oldest_first() if lot_expires_on(month, validity_months) <= as_of]


def expire_due(state: PointsState, as_of: date, validity_months: int) -> Expiry:
    """Take what is left of every due lot: the balance goes down by exactly that, the other lots
    stay as they were (nothing when no lot is due)."""
    due = due_lots(state, as_of, validity_months)
    lots = {month: points for month, points in state.lots.items() if month not in dict(due)}
    return Expiry(replace(state, balance=state.balance - sum(p for _, p in due), lots=lots), due)


def lots_expiring_on(state: PointsState, day: date, validity_months: int) -> list[str]:
    """The months whose lots expire exactly on `day` and still hold points (a reminder's subject)."""
    return [month for month, _ in state.lots_oldest_first() if lot_expires_on(month, validity_months) == day]


@dataclass(frozen=True)
class ExpiryReminder:
    """A reminder `days` before lots expire: the lots it is about (months, oldest first), the
    points left in them, the day they expire, and the notice that says it went out."""

    months: list[str]
    points: int
    expires_on: date
    days: int

    @property
    def notice(self) -> str:
        return expiry_reminder_key(self.months[0], self.days)


def reminder_due(state: PointsState, as_of: date, days: int, validity_months: int) -> ExpiryReminder | None:
    """The reminder due on `as_of` for the lots that expire `days` later, while points are left
    in them; None when nothing is left to expire that day."""
    expires_on = as_of + timedelta(days=days)
    months = lots_expiring_on(state, expires_on, validity_months)
    if not months:
        return None
    return ExpiryReminder(months, sum(state.lots[month] for month in months), expires_on, days)
