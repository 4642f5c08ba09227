"""Pending points: purchase points held for a return window before they can be spent. Pure.

A program may hold a purchase's points (rules `pending_points`, per channel, `hold_days` after
the purchase day in the program time zone). Held points are not in the balance: they cannot be
redeemed, do not count for tiers and are in no lot. The member keeps, per release day, the points
still held (`PendingState.by_day`, at most one entry per day of the longest hold: bounded) and
the last day released (`released_through`). Invariants kept by every function:

- `total == sum(by_day.values())`; every day's points are > 0.
- every day in `by_day` is after `released_through`: a purchase's points are still pending
  exactly when its release day is after `released_through` (`is_pending`), so a refund knows
  whether to cancel them (pending) or reverse them from the balance (released), exactly once.
- releasing (`release_due`) moves every day up to the job's date into the balance, as points
  earned in the release day's month (their lot expires from there; tiers count them then).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from .points import PointsState, earn, month_key
from .rules import ProgramRules


def hold_days(rules: ProgramRules, channel: str | None) -> int:
    """The days a purchase on `channel` is held: the channel's own hold, else the default hold
    (no channel), else none (0)."""
    by_channel = {h.channel: h.hold_days for h in rules.pending_points}
    if channel is not None and channel in by_channel:
        return by_channel[channel]
    return by_channel.get(None, 0)


@dataclass(frozen=True)
class PendingState:
    total: int = 0
    by_day: dict[str, int] = field(default_factory=dict)  # ISO release day -> points held
    released_through: str | None = None  # ISO day: every day up to it was released

    def is_pending(self, release_on: str) -> bool:
        """Whether points due on `release_on` are still held (not yet released)."""
        return (self.released_through is None or release_on > self.released_through) and self.by_day.get(release_on, 0) > 0

    @property
    def next_release(self) -> str | None:
        return min(self.by_day) if self.by_day else None


def release_day(rules: ProgramRules, channel: str | None, today: date, state: PendingState) -> date | None:
    """The day a purchase made `today` on `channel` becomes available; None: not held.

    Never on or before a day already released (a job run ahead of the clock, `make job AS_OF=`):
    those points would otherwise count as released without ever being released."""
    days = hold_days(rules, channel)
    if days <= 0:
        return None
    day = today + timedelta(days=days)
    if state.released_through is not None and day.isoformat() <= state.released_through:
        day = date.fromisoformat(state.released_through) + timedelta(days=1)
    return day


def hold(state: PendingState, day: date, points: int) -> PendingState:
    """Hold `points` until `day`."""
    if points < 0:
        raise ValueError("hold takes a non-negative number of points")
    if points == 0:
        return state
    key = day.isoformat()
    by_day = dict(state.by_day)
    by_day[key] = by_day.get(key, 0) + points
    return replace(state, total=state.total + points, by_day=by_day)


def cancel(state: PendingState, release_on: str, points: int) -> tuple[PendingState, int]:
    """Cancel up to `points` held until `release_on` (a refund inside the window): the new state
    and the points cancelled (0 when they were released already)."""
    if points < 0:
        raise ValueError("cancel takes a non-negative number of points")
    if not state.is_pending(release_on):
        return state, 0
    taken = min(points, state.by_day[release_on])
    by_day = dict(state.by_day)
    by_day[release_on] -= taken
    if by_day[release_on] == 0:
        del by_day[release_on]
    return replace(state, total=state.total - taken, by_day=by_day), taken


def forfeit_all(state: PendingState) -> PendingState:
    """Nothing held any more (the membership is erased)."""
    return replace(state, total=0, by_day={})


@dataclass(frozen=True)
class Release:
    released: list[tuple[str, int]]  # (release day, points), oldest first
    pending: PendingState
    points: PointsState

    @property
    def total(self) -> int:
        return sum(p for _, p in self.released)


def release_due(pending: PendingState, points: PointsState, as_of: date) -> Release:
    """Make available every day's points due by `as_of`: earned (qualifying for tiers) in the
    release day's month, so their lot expires from then. Releasing again releases nothing."""
    through = as_of.isoformat()
    due = sorted((d, p) for d, p in pending.by_day.items() if d <= through)
    state = points
    for day, held in due:
        state = earn(state, held, month_key(date.fromisoformat(day)), qualifying=True)
    by_day = {d: p for d, p in pending.by_day.items() if d > through}
    released_through = max(pending.released_through or through, through)
    after = PendingState(total=sum(by_day.values()), by_day=by_day, released_through=released_through)
    return Release(due, after, state)
