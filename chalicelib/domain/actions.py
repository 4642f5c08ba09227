"""Points for actions other than purchases: actions a store backend reports (a review, a share,
a survey...) and the member's daily check-in (签到). Pure: callers pass the program-time day.

Both keep their state on the member item, so the counters ride on the member's own
version-conditioned update in the unit of work that awards the points (no extra item, no extra
round trip), and two awards racing for the last place under a limit cannot both win:

- `action_counts`: per action type, the day and how many of that type were awarded that day,
  and the period (`week`, `month`, `year`, as the rule says) and how many in it. Only the
  types the rules still name are kept, so the map is bounded by the rules.
- `check_in`: the day of the last check-in, the streak it made, and its answer (a second
  check-in that day answers the first's result).

The day is the program-time day the action is recorded (not `occurred_at`, which a till may
send late): limits count what was awarded today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .calendar import period_key
from .rules import ActionRule, CheckInRule, ProgramRules

# Why an action earned nothing: its daily limit or its period limit was already reached.
DAY_LIMIT, PERIOD_LIMIT = "day", "period"


@dataclass(frozen=True)
class ActionAward:
    """What one reported action earns: its `points` (0 when a limit was already reached, then
    `limit_reached` says which) and the member's counters after it."""

    points: int
    limit_reached: str | None
    counts: dict[str, dict[str, Any]]


def _count(entry: dict[str, Any], day_key: str, count_key: str, current: str) -> int:
    return int(entry.get(count_key, 0)) if entry.get(day_key) == current else 0


def award_action(rules: ProgramRules, rule: ActionRule, counts: dict[str, dict[str, Any]], today: date) -> ActionAward:
    """The points an action of `rule`'s type earns today, given what was already awarded
    (`counts`, as `action_counts` keeps it). Within both limits: the rule's points, and the
    counters one higher; at a limit: nothing, and the counters as they were."""
    kept = {t: dict(entry) for t, entry in counts.items() if rules.action_rule(t) is not None}
    entry = kept.get(rule.type, {})
    day, period = today.isoformat(), period_key(rule.period, today)
    today_count = _count(entry, "day", "n", day)
    period_count = _count(entry, "period", "pn", period)
    if today_count >= rule.max_per_member_per_day:
        return ActionAward(0, DAY_LIMIT, kept)
    if rule.max_per_member_per_period is not None and period_count >= rule.max_per_member_per_period:
        return ActionAward(0, PERIOD_LIMIT, kept)
    kept[rule.type] = {"day": day, "n": today_count + 1, "period": period, "pn": period_count + 1}
    return ActionAward(rule.points, None, kept)


# --- the daily check-in ---------------------------------------------------------------------


@dataclass(frozen=True)
class CheckIn:
    """One day's check-in: the streak it makes (consecutive days, this one included), the
    day's points and the streak bonus reached today (0 on other days)."""

    on: date
    streak: int
    points: int
    streak_bonus: int

    @property
    def total(self) -> int:
        return self.points + self.streak_bonus


def current_streak(last_on: date | None, streak: int, today: date) -> int:
    """The streak as it stands today: still alive if the last check-in was today or yesterday
    (checking in today continues it), else broken (0)."""
    if last_on is None or last_on < today - timedelta(days=1) or last_on > today:
        return 0
    return streak


def check_in(rule: CheckInRule, last_on: date | None, streak: int, today: date) -> CheckIn:
    """Today's check-in after one on `last_on` that made `streak`. The caller has made sure there
    was none today (`last_on != today`)."""
    made = current_streak(last_on, streak, today) + 1
    return CheckIn(today, made, rule.points, rule.streak_bonuses.get(made, 0))


def next_streak_bonus(rule: CheckInRule, streak: int) -> tuple[int, int, int] | None:
    """The next streak bonus ahead of a streak of `streak` days: (consecutive days, bonus points,
    check-ins still to make), or None when none lies ahead."""
    for days, points in sorted(rule.streak_bonuses.items()):
        if days > streak:
            return days, points, days - streak
    return None
