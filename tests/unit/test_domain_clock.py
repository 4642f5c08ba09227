"""Time in one place (chalicelib/domain/clock.py): aware datetimes, the program's today, the API's timestamps."""

import time
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from chalicelib.domain.clock import iso, today_in, utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_now_is_an_aware_utc_time():
    before = datetime.now(UTC)
    now = utcnow()
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)


def test_given_an_evening_in_utc_then_today_is_already_tomorrow_in_shanghai():
    assert today_in(SHANGHAI, datetime(2026, 12, 22, 17, 0, tzinfo=UTC)) == date(2026, 12, 23)
    assert today_in(SHANGHAI, datetime(2026, 12, 22, 15, 59, tzinfo=UTC)) == date(2026, 12, 22)


def test_given_no_time_then_today_is_the_current_day_in_the_zone():
    before = datetime.now(SHANGHAI).date()
    today = today_in(SHANGHAI)
    assert before <= today <= datetime.now(SHANGHAI).date()


def test_the_api_gives_times_in_utc_to_the_second():
    local = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=timezone(timedelta(hours=8)))
    assert iso(local) == "2026-01-01T19:04:05+00:00"


def test_given_a_machine_set_to_another_time_zone_then_the_api_still_gives_times_in_utc(monkeypatch):
    # A developer's laptop in Shanghai running the local stack answers as Lambda (in UTC) does.
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        assert iso(datetime(2026, 1, 1, 19, 4, 5, tzinfo=UTC)) == "2026-01-01T19:04:05+00:00"
    finally:
        monkeypatch.undo()
        time.tzset()
