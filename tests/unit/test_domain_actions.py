"""Points for actions and the daily check-in, pure: limits per day and per period, streaks,
streak bonuses, and the rules that configure them."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from chalicelib.domain.actions import DAY_LIMIT, PERIOD_LIMIT, award_action, check_in, current_streak, next_streak_bonus
from chalicelib.domain.calendar import period_key
from chalicelib.domain.rules import DEFAULT_RULES, ProgramRules

MONDAY = date(2026, 11, 30)


def _rules(**changes) -> ProgramRules:
    return ProgramRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), **changes})


REVIEW = {"type": "review", "label": "Review", "points": 20, "max_per_member_per_day": 2, "max_per_member_per_period": 3, "period": "week"}
RULES = _rules(action_rules=[REVIEW, {"type": "share", "label": "Share", "points": 5, "max_per_member_per_day": 1}])


def _award(counts, day=MONDAY, action_type="review"):
    return award_action(RULES, RULES.action_rule(action_type), counts, day)


def test_given_no_action_yet_then_the_first_earns_the_rules_points_and_is_counted():
    award = _award({})
    assert (award.points, award.limit_reached) == (20, None)
    assert award.counts == {"review": {"day": "2026-11-30", "n": 1, "period": "2026-W49", "pn": 1}}


def test_given_the_days_limit_reached_then_nothing_more_today_and_the_counters_stay():
    counts = _award(_award({}).counts).counts
    third = _award(counts)
    assert (third.points, third.limit_reached, third.counts) == (0, DAY_LIMIT, counts)


def test_given_a_new_day_then_the_daily_count_starts_again_but_the_period_count_goes_on():
    counts = _award(_award({}).counts).counts
    tuesday = _award(counts, date(2026, 12, 1))
    assert (tuesday.points, tuesday.counts["review"]["n"], tuesday.counts["review"]["pn"]) == (20, 1, 3)
    wednesday = _award(tuesday.counts, date(2026, 12, 2))
    assert (wednesday.points, wednesday.limit_reached) == (0, PERIOD_LIMIT)
    next_monday = _award(wednesday.counts, date(2026, 12, 7))
    assert (next_monday.points, next_monday.counts["review"]["pn"]) == (20, 1)


def test_given_types_counted_apart_and_one_whose_rule_was_removed_then_only_named_types_are_kept():
    counts = {"share": {"day": "2026-11-30", "n": 1, "period": "2026-11", "pn": 1}, "gone": {"day": "2026-11-30", "n": 9}}
    award = _award(counts)
    assert award.points == 20
    assert set(award.counts) == {"review", "share"}
    assert _award(award.counts, action_type="share").limit_reached == DAY_LIMIT


@pytest.mark.parametrize(
    ("period", "day", "key"),
    [("week", date(2027, 1, 1), "2026-W53"), ("month", date(2026, 11, 30), "2026-11"), ("year", date(2026, 11, 30), "2026")],
)
def test_a_period_is_the_calendar_week_month_or_year(period, day, key):
    assert period_key(period, day) == key


def test_given_a_check_in_yesterday_then_today_continues_the_streak_and_a_missed_day_breaks_it():
    rule = _rules(check_in={"points": 5, "streak_bonuses": {"3": 30}}).check_in
    assert check_in(rule, None, 0, MONDAY) == check_in(rule, date(2026, 11, 28), 9, MONDAY)
    first = check_in(rule, None, 0, MONDAY)
    assert (first.streak, first.points, first.streak_bonus, first.total) == (1, 5, 0, 5)
    third = check_in(rule, date(2026, 11, 29), 2, MONDAY)
    assert (third.streak, third.streak_bonus, third.total) == (3, 30, 35)
    fourth = check_in(rule, MONDAY, 3, date(2026, 12, 1))
    assert (fourth.streak, fourth.streak_bonus) == (4, 0)


def test_the_streak_shown_is_alive_through_the_day_after_the_last_check_in():
    assert current_streak(MONDAY, 4, MONDAY) == 4
    assert current_streak(MONDAY, 4, date(2026, 12, 1)) == 4
    assert current_streak(MONDAY, 4, date(2026, 12, 2)) == 0
    assert current_streak(None, 0, MONDAY) == 0


def test_the_next_streak_bonus_is_the_first_one_ahead():
    rule = _rules(check_in={"points": 5, "streak_bonuses": {"30": 300, "7": 50}}).check_in
    assert next_streak_bonus(rule, 0) == (7, 50, 7)
    assert next_streak_bonus(rule, 7) == (30, 300, 23)
    assert next_streak_bonus(rule, 30) is None


def test_the_check_in_is_off_by_default_and_on_with_points_or_a_bonus():
    assert not DEFAULT_RULES.check_in.enabled
    assert _rules(check_in={"points": 1, "streak_bonuses": {}}).check_in.enabled
    assert _rules(check_in={"points": 0, "streak_bonuses": {"2": 5}}).check_in.enabled
    assert DEFAULT_RULES.action_rules == ()


@pytest.mark.parametrize(
    "changes",
    [
        {"action_rules": [REVIEW, REVIEW]},
        {"action_rules": [{**REVIEW, "type": "check_in"}]},
        {"action_rules": [{**REVIEW, "type": "Review"}]},
        {"action_rules": [{**REVIEW, "points": 0}]},
        {"action_rules": [{**REVIEW, "max_per_member_per_day": 0}]},
        {"action_rules": [{**REVIEW, "period": "fortnight"}]},
        {"action_rules": [{**REVIEW, "label": ""}]},
        {"check_in": {"points": 5, "streak_bonuses": {"1": 10}}},
        {"check_in": {"points": 5, "streak_bonuses": {"7": 0}}},
        {"check_in": {"points": -5, "streak_bonuses": {}}},
        {"check_in": {"points": 5, "streak_bonuses": {}, "extra": 1}},
    ],
)
def test_given_an_invalid_action_or_check_in_rule_then_the_rules_are_refused(changes):
    with pytest.raises(ValidationError):
        _rules(**changes)


def test_the_rules_round_trip_through_json_with_their_streak_bonuses():
    rules = _rules(check_in={"points": 5, "streak_bonuses": {"30": 300, "7": 50}}, action_rules=[REVIEW])
    again = ProgramRules.model_validate_json(rules.model_dump_json())
    assert again == rules
    assert list(again.check_in.streak_bonuses.items()) == [(7, 50), (30, 300)]
