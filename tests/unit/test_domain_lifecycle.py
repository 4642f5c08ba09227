"""The member's lifecycle stage (chalicelib/domain/lifecycle.py): new, active, at risk, dormant.

The default program: new for 30 days without a purchase, at risk after 60 idle days, dormant after 90.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.lifecycle import Activity, after_activity, joined_on, lifecycle_stage
from chalicelib.domain.rules import DEFAULT_RULES

JOINED = date(2026, 1, 1)


def days_after_joining(days: int) -> date:
    return JOINED + timedelta(days=days)


@pytest.mark.parametrize(
    ("days", "stage"), [(0, "new"), (29, "new"), (30, "active"), (59, "active"), (60, "at_risk"), (89, "at_risk"), (90, "dormant")]
)
def test_given_a_member_who_never_came_back_then_the_stage_follows_the_days_since_joining(days, stage):
    assert lifecycle_stage(DEFAULT_RULES, JOINED, None, False, days_after_joining(days)) == stage


def test_given_a_purchase_then_a_member_is_never_new_even_on_the_day_they_joined():
    assert lifecycle_stage(DEFAULT_RULES, JOINED, JOINED, True, JOINED) == "active"
    assert lifecycle_stage(DEFAULT_RULES, JOINED, None, True, days_after_joining(10)) == "active"


@pytest.mark.parametrize(("idle", "stage"), [(0, "active"), (59, "active"), (60, "at_risk"), (89, "at_risk"), (90, "dormant"), (400, "dormant")])
def test_given_the_last_activity_then_the_stage_follows_the_days_idle_since(idle, stage):
    last = days_after_joining(100)
    assert lifecycle_stage(DEFAULT_RULES, JOINED, last, True, last + timedelta(days=idle)) == stage


def test_given_a_new_member_who_only_signed_in_then_they_stay_new_until_day_30():
    signed_in = days_after_joining(5)
    assert lifecycle_stage(DEFAULT_RULES, JOINED, signed_in, False, days_after_joining(29)) == "new"
    assert lifecycle_stage(DEFAULT_RULES, JOINED, signed_in, False, days_after_joining(30)) == "active"


def test_given_other_thresholds_in_the_rules_then_the_stages_follow_them():
    rules = DEFAULT_RULES.model_copy(update={"new_member_days": 7, "at_risk_after_days": 14, "dormant_after_days": 21})
    stages = [lifecycle_stage(rules, JOINED, None, False, days_after_joining(d)) for d in (6, 7, 13, 14, 20, 21)]
    assert stages == ["new", "active", "active", "at_risk", "at_risk", "dormant"]


def test_given_a_dormant_member_who_buys_today_then_they_are_active_and_have_purchased():
    today = days_after_joining(200)
    assert after_activity(DEFAULT_RULES, JOINED, False, today, purchased=True) == Activity("2026-07-20", True, "active")


def test_given_a_member_who_bought_before_when_they_sign_in_then_they_are_active_and_still_have_purchased():
    today = days_after_joining(200)
    assert after_activity(DEFAULT_RULES, JOINED, True, today) == Activity("2026-07-20", True, "active")


def test_given_a_new_member_who_signs_in_then_they_stay_new_and_have_not_purchased():
    assert after_activity(DEFAULT_RULES, JOINED, False, days_after_joining(3)) == Activity("2026-01-04", False, "new")


def test_given_a_new_member_who_buys_then_they_are_active_at_once():
    assert after_activity(DEFAULT_RULES, JOINED, False, days_after_joining(3), purchased=True) == Activity("2026-01-04", True, "active")


def test_given_a_late_evening_signup_in_utc_then_the_member_joined_on_the_next_program_day():
    assert joined_on(datetime(2026, 1, 1, 17, 0, tzinfo=UTC), DEFAULT_RULES.zone) == date(2026, 1, 2)
    assert joined_on(datetime(2026, 1, 1, 15, 59, tzinfo=UTC), DEFAULT_RULES.zone) == date(2026, 1, 1)
