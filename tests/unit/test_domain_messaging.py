"""Messages the program sends on its own (chalicelib/domain/messaging.py): on which channel, when
(quiet hours), how often (the frequency cap). The default program is quiet from 21:00 to 09:00."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.messaging import in_quiet_hours, is_channel, next_allowed_time, preferred_channel, recent_marketing
from chalicelib.domain.rules import DEFAULT_RULES

SHANGHAI = ZoneInfo("Asia/Shanghai")
LUNCH_QUIET = DEFAULT_RULES.model_copy(update={"quiet_hours_start": time(12, 0), "quiet_hours_end": time(14, 0)})
NEVER_QUIET = DEFAULT_RULES.model_copy(update={"quiet_hours_start": time(9, 0), "quiet_hours_end": time(9, 0)})


def at(hour: int, minute: int = 0, second: int = 0, day: int = 22) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("local", "quiet"),
    [(at(20, 59, 59), False), (at(21), True), (at(23, 30), True), (at(0), True), (at(8, 59, 59), True), (at(9), False), (at(12), False)],
)
def test_given_overnight_quiet_hours_then_they_start_at_21_00_and_end_at_09_00(local, quiet):
    assert in_quiet_hours(DEFAULT_RULES, local) is quiet


@pytest.mark.parametrize(
    ("local", "quiet"),
    [(at(11, 59, 59), False), (at(12), True), (at(13, 59, 59), True), (at(14), False), (at(22), False), (at(3), False)],
)
def test_given_daytime_quiet_hours_then_they_include_their_start_and_exclude_their_end(local, quiet):
    assert in_quiet_hours(LUNCH_QUIET, local) is quiet


@pytest.mark.parametrize("hour", [0, 9, 21])
def test_given_quiet_hours_that_start_when_they_end_then_it_is_never_quiet(hour):
    assert not in_quiet_hours(NEVER_QUIET, at(hour))
    assert next_allowed_time(NEVER_QUIET, at(hour)) == at(hour)


def test_given_a_message_at_night_then_it_waits_for_09_00_the_next_morning():
    assert next_allowed_time(DEFAULT_RULES, at(22, 30, 15)) == at(9, day=23)
    assert next_allowed_time(DEFAULT_RULES, at(21)) == at(9, day=23)


def test_given_a_message_after_midnight_then_it_waits_for_09_00_the_same_morning():
    assert next_allowed_time(DEFAULT_RULES, at(3, 15, 30)) == at(9)
    assert next_allowed_time(DEFAULT_RULES, at(8, 59, 59)) == at(9)


def test_given_a_message_outside_quiet_hours_then_it_goes_at_once():
    assert next_allowed_time(DEFAULT_RULES, at(9)) == at(9)
    assert next_allowed_time(DEFAULT_RULES, at(20, 59, 59)) == at(20, 59, 59)


def test_given_daytime_quiet_hours_then_a_message_at_lunch_waits_for_their_end_the_same_day():
    assert next_allowed_time(LUNCH_QUIET, at(12, 30, 45)) == at(14)
    assert next_allowed_time(LUNCH_QUIET, at(12)) == at(14)


def test_given_quiet_hours_ending_at_half_past_then_the_message_waits_to_the_minute():
    rules = DEFAULT_RULES.model_copy(update={"quiet_hours_end": time(8, 30)})
    assert next_allowed_time(rules, at(23, 10, 5)) == at(8, 30, day=23)


def test_given_a_message_held_back_then_it_goes_exactly_at_the_end_of_the_quiet_hours_whatever_its_own_fraction_of_a_second():
    assert next_allowed_time(DEFAULT_RULES, at(22, 30, 15).replace(microsecond=123_456)) == at(9, day=23)
    assert next_allowed_time(DEFAULT_RULES, at(7, 0, 0).replace(microsecond=999_999)) == at(9)


def test_given_quiet_hours_ending_on_a_second_then_a_message_in_their_last_minute_waits_seconds_not_a_day():
    rules = DEFAULT_RULES.model_copy(update={"quiet_hours_end": time(8, 59, 30)})
    assert in_quiet_hours(rules, at(8, 59, 10))
    assert next_allowed_time(rules, at(8, 59, 10)) == at(8, 59, 30)
    assert next_allowed_time(rules, at(8, 59)) == at(8, 59, 30)
    assert next_allowed_time(rules, at(23)) == at(8, 59, 30, day=23)


def test_given_marketing_sent_over_the_last_days_then_only_sends_inside_the_7_day_window_count_oldest_first():
    now = at(10)
    sent = [
        (now - timedelta(days=1)).isoformat(),
        (now - timedelta(days=7)).isoformat(),  # exactly a week ago: out of the window
        (now - timedelta(days=7) + timedelta(seconds=1)).isoformat(),
        (now - timedelta(days=30)).isoformat(),
    ]
    assert recent_marketing(sent, now, DEFAULT_RULES) == [sent[2], sent[0]]


def test_given_a_longer_cap_window_in_the_rules_then_older_sends_count():
    now = at(10)
    sent = [(now - timedelta(days=8)).isoformat()]
    assert recent_marketing(sent, now, DEFAULT_RULES) == []
    assert recent_marketing(sent, now, DEFAULT_RULES.model_copy(update={"frequency_cap_days": 9})) == sent


@pytest.mark.parametrize(
    ("consents", "has_email", "channel"),
    [
        ({"push": True, "sms_marketing": True, "email_marketing": True}, True, "push"),
        ({"push": False, "sms_marketing": True, "email_marketing": True}, True, "sms"),
        ({"email_marketing": True}, True, "email"),
        ({"email_marketing": True}, False, None),  # consented, but no email to send to
        ({"push": False, "sms_marketing": False}, True, None),
        ({}, True, None),
    ],
)
def test_given_a_message_that_needs_consent_then_it_goes_push_then_sms_then_email_as_consented(consents, has_email, channel):
    assert preferred_channel(consents, True, has_email, has_device=True) == channel


def test_given_push_consent_but_no_device_then_the_next_consented_channel_is_used():
    assert preferred_channel({"push": True, "sms_marketing": True}, True, True, has_device=False) == "sms"
    assert preferred_channel({"push": True}, True, True, has_device=False) is None
    assert preferred_channel({"push": True}, False, True, has_device=False) == "sms"


def test_given_a_service_notice_then_a_member_without_consents_gets_it_by_sms():
    assert preferred_channel({}, False, True) == "sms"
    assert preferred_channel({"email_marketing": True}, False, False) == "sms"
    assert preferred_channel({"email_marketing": True}, False, True) == "email"


def test_the_channels_the_program_sends_on_are_sms_email_push_and_wechat():
    assert [is_channel(c) for c in ("sms", "email", "push", "wechat", "wechat_work", "")] == [True, True, True, True, False, False]
