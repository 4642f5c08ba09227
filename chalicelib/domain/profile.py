"""Rules of the member's own profile and of closing a membership. Pure.

- The profile is complete when every optional field is filled: a verified
  email, a birthday, a gender and an address. The completion bonus is granted
  once per membership, the first time that happens (`profile_completed`).
- The member sets their birthday once (at signup or later); afterwards only an
  operator corrects it, so the birthday gift cannot be farmed by moving it.
- A closed membership is kept for `closure_grace_days` (restorable), then its
  personal data is erased; the day the grace period ends keys the erasure job.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

COMPLETION_FIELDS: tuple[str, ...] = ("email", "birthday", "gender", "address")


def is_complete(profile: Mapping[str, Any]) -> bool:
    return all(profile.get(name) for name in COMPLETION_FIELDS)


def earns_completion_bonus(before: Mapping[str, Any], after: Mapping[str, Any], already_granted: bool) -> bool:
    """True when this change completes the profile for the first time."""
    return not already_granted and is_complete(after) and not is_complete(before)


class BirthdayChange(StrEnum):
    KEEP = "keep"  # nothing to do (same date, or null while none is set)
    SET = "set"  # first time: the member may
    LOCKED = "locked"  # a different date (or removal) once one is set: operators only


def birthday_change(current: str | None, requested: str | None) -> BirthdayChange:
    if requested == current or (requested is None and current is None):
        return BirthdayChange.KEEP
    if current is None:
        return BirthdayChange.SET
    return BirthdayChange.LOCKED


def erase_after(closed_at: datetime, grace_days: int) -> datetime:
    return closed_at + timedelta(days=grace_days)


def erasure_day(erase_at: datetime, zone: ZoneInfo) -> date:
    """The program-time day the grace period ends: the erasure index bucket."""
    return erase_at.astimezone(zone).date()


def restorable(status: str, erased: bool, erase_at: datetime | None, now: datetime) -> bool:
    """A closed membership can be restored until its grace period ends (and never once erased)."""
    return status == "closed" and not erased and (erase_at is None or now < erase_at)


def due_for_erasure(status: str, erased: bool, erase_at: datetime | None, now: datetime) -> bool:
    return status == "closed" and not erased and erase_at is not None and erase_at <= now
