"""Time, in one place: aware datetimes only; "today" is the program's."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def today_in(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(zone).date()


def iso(ts: datetime) -> str:
    """ISO 8601 with offset, second precision (what the API returns)."""
    return ts.astimezone(UTC).isoformat(timespec="seconds")
