"""Notices: what the program has told a member, so that a rerun tells them nothing twice. Pure.

A notice key names one message about one thing (an expiry reminder for a lot and a number of
days before it, a reengagement message for a window and the day of last activity); the member
keeps the day each went out. A year and a bit of them is kept, so the map stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

NOTICES_KEPT_DAYS = 400


def expiry_reminder_key(month: str, days: int) -> str:
    """The reminder `days` before the lot earned in `month` expires."""
    return f"expiry:{month}:{days}"


def reengagement_key(window: int, last_active: date) -> str:
    """The message to a member idle `window` days since `last_active`."""
    return f"reengage:{window}:{last_active.isoformat()}"


def with_notice(notices: Mapping[str, str], key: str, on: date) -> dict[str, str]:
    """The notices after `key` went out `on` that day: those older than NOTICES_KEPT_DAYS go."""
    keep_from = (on - timedelta(days=NOTICES_KEPT_DAYS)).isoformat()
    kept = {k: v for k, v in notices.items() if v >= keep_from}
    kept[key] = on.isoformat()
    return kept
