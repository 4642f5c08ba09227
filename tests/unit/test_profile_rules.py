"""The profile and closure rules (chalicelib/profile.py), without AWS."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.membership import due_for_erasure, erasure_day, restorable
from chalicelib.domain.profile import BirthdayChange, birthday_change, earns_completion_bonus, is_complete

FULL = {"email": "a@example.cn", "birthday": "1990-05-18", "gender": "female", "address": {"city": "上海市", "street": "南京西路"}}


@pytest.mark.parametrize("missing", ["email", "birthday", "gender", "address"])
def test_given_any_optional_field_missing_then_the_profile_is_not_complete(missing):
    assert is_complete(FULL)
    assert not is_complete({**FULL, missing: None})


def test_given_the_change_that_completes_the_profile_then_the_bonus_is_due_once():
    before = {**FULL, "gender": None}
    assert earns_completion_bonus(before, FULL, already_granted=False)
    assert not earns_completion_bonus(before, FULL, already_granted=True)  # refilled after emptying: never again
    assert not earns_completion_bonus(FULL, FULL, already_granted=False)  # complete already (e.g. at signup): no change completed it
    assert not earns_completion_bonus(before, {**before, "tags": ["x"]}, already_granted=False)


@pytest.mark.parametrize(
    ("current", "requested", "expected"),
    [
        (None, "1990-05-18", BirthdayChange.SET),
        (None, None, BirthdayChange.KEEP),
        ("1990-05-18", "1990-05-18", BirthdayChange.KEEP),
        ("1990-05-18", "1990-05-19", BirthdayChange.LOCKED),
        ("1990-05-18", None, BirthdayChange.LOCKED),
    ],
)
def test_given_a_birthday_request_then_the_member_sets_it_once_and_only_once(current, requested, expected):
    assert birthday_change(current, requested) is expected


def test_given_a_closure_then_it_is_restorable_until_the_grace_period_ends_and_due_for_erasure_from_then_on():
    erase_at = datetime(2026, 12, 22, 15, 30, tzinfo=UTC)
    before, after = erase_at - timedelta(seconds=1), erase_at
    assert restorable("closed", False, erase_at, before) and not due_for_erasure("closed", False, erase_at, before)
    assert not restorable("closed", False, erase_at, after) and due_for_erasure("closed", False, erase_at, after)
    assert not due_for_erasure("active", False, erase_at, after)
    assert not due_for_erasure("closed", True, erase_at, after) and not restorable("closed", True, erase_at, before)


def test_given_a_grace_period_ending_late_in_the_utc_day_then_the_erasure_day_is_the_program_day():
    assert erasure_day(datetime(2026, 12, 22, 17, 0, tzinfo=UTC), ZoneInfo("Asia/Shanghai")) == date(2026, 12, 23)
