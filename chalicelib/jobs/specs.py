"""The jobs: when each runs, which index buckets it reads, what it does per member.

Schedules are EventBridge crons in UTC for the default program time zone
(Asia/Shanghai, UTC+8); `local_time` is the time of day the job stands for,
used for "now" (quiet hours) when it runs for a given date.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Any

from ..domain.calendar import celebrated_month_days
from ..lazy import lazy_module
from ..store import keys

if TYPE_CHECKING:
    from ..domain.rules import ProgramRules
    from ..usecases import closure, scheduled
else:
    # What the jobs do is loaded when a job runs, not with every function of the app.
    closure = lazy_module("chalicelib.usecases.closure")
    scheduled = lazy_module("chalicelib.usecases.scheduled")

Unit = dict[str, Any]


@dataclass(frozen=True)
class JobSpec:
    name: str
    cron: str  # EventBridge cron (UTC)
    local_time: time
    plan: Callable[[date, ProgramRules, int], list[Unit]]
    actions: Callable[[], Mapping[str, scheduled.Action_]]  # by unit kind; a function, so nothing loads until a job runs
    description: str


def _expire_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    units: list[Unit] = [{"kind": "expire", "index": "lots_by_expiry", "bucket": keys.expiry_bucket(as_of.isoformat(), s)} for s in range(shards)]
    for days in rules.expiry_reminder_days:
        day = (as_of + timedelta(days=days)).isoformat()
        units += [{"kind": "remind", "days": days, "index": "lots_by_expiry", "bucket": keys.expiry_bucket(day, s)} for s in range(shards)]
    return units


def _birthday_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [
        {"kind": "gift", "index": "members_by_birthday", "bucket": keys.birthday_bucket(md, s)}
        for md in celebrated_month_days(as_of)
        for s in range(shards)
    ]


def _reengagement_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [
        {
            "kind": "reengage",
            "window": window,
            "index": "members_by_activity",
            "bucket": keys.activity_bucket((as_of - timedelta(days=window)).isoformat(), s),
        }
        for window in rules.reengagement_windows
        for s in range(shards)
    ]


def _tier_review_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [
        {"kind": "review", "index": "members_by_anniversary", "bucket": keys.anniversary_bucket(md, s)}
        for md in celebrated_month_days(as_of)
        for s in range(shards)
    ]


def _send_deferred_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [{"kind": "send", "shard": s} for s in range(shards)]


# Erasure must not be missed: each run also reads the buckets of the days before,
# so runs that failed or were skipped are caught up (an erased member has left them).
ERASURE_LOOKBACK_DAYS = 7


def _erase_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [
        {"kind": "erase", "index": "members_by_erasure", "bucket": keys.erasure_bucket((as_of - timedelta(days=back)).isoformat(), s)}
        for back in range(ERASURE_LOOKBACK_DAYS)
        for s in range(shards)
    ]


# The reconcile job reads the whole table by a parallel Scan: one unit per segment.
# More segments, more parallel (and smaller) units; a unit that runs out of time
# goes on in a new unit (runner.py), so this is about speed, not about limits.
RECONCILE_SEGMENTS = 16


def _reconcile_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [{"kind": "reconcile", "segment": s, "segments": RECONCILE_SEGMENTS} for s in range(RECONCILE_SEGMENTS)]


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "expire-points",
            "cron(5 16 * * ? *)",
            time(0, 5),
            _expire_units,
            lambda: {"expire": scheduled.expire_lots, "remind": scheduled.remind_expiry},
            "expires lots whose date has come; reminds 30 and 7 days before",
        ),
        JobSpec(
            "birthday-bonus",
            "cron(0 1 * * ? *)",
            time(9, 0),
            _birthday_units,
            lambda: {"gift": scheduled.birthday_gift},
            "birthday points once a calendar year, and a greeting",
        ),
        JobSpec(
            "reengagement",
            "cron(0 2 * * ? *)",
            time(10, 0),
            _reengagement_units,
            lambda: {"reengage": scheduled.reengage},
            "a message to members idle exactly 30, 60 or 90 days; lifecycle stage",
        ),
        JobSpec(
            "tier-review",
            "cron(0 17 * * ? *)",
            time(1, 0),
            _tier_review_units,
            lambda: {"review": scheduled.review_tier},
            "yearly tier review on the membership anniversary",
        ),
        JobSpec(
            "send-deferred",
            "cron(5 * * * ? *)",
            time(9, 5),
            _send_deferred_units,
            dict,
            "sends messages held back by quiet hours once they may go",
        ),
        JobSpec(
            "erase-closed",
            "cron(0 19 * * ? *)",
            time(3, 0),
            _erase_units,
            lambda: {"erase": closure.erase_closed_member},
            "erases the personal data of memberships closed longer than the grace period",
        ),
        JobSpec(
            "reconcile",
            "cron(30 20 * * ? *)",
            time(4, 30),
            _reconcile_units,
            dict,
            "read-only: every member's points ledger and wallet add up to their balances; reports drift",
        ),
    )
}
