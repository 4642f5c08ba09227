"""Rules of the member's own profile. Pure. (Closing a membership: membership.py.)

- The profile is complete when every optional field is filled: a verified
  email, a birthday, a gender and an address. The completion bonus is granted
  once per membership, the first time that happens (`profile_completed`).
- The member sets their birthday once (at signup or later); afterwards only an
  operator corrects it, so the birthday gift cannot be farmed by moving it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

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
