"""The promotions calendar: which days a promotion applies, and which multiplier a purchase gets."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from chalicelib.domain.earning import applies_on, best_promotion, earn_multiplier, promotion_multiplier, running, upcoming
from chalicelib.domain.points import purchase_points
from chalicelib.domain.rules import DEFAULT_RULES, ProgramRules, Promotion

WEDNESDAY = date(2026, 5, 20)


def _promotion(pid="p", start=WEDNESDAY, end=WEDNESDAY, multiplier="2", weekdays=()):
    return Promotion(id=pid, name=pid, starts_on=start, ends_on=end, multiplier=Decimal(multiplier), weekdays=weekdays)


def _rules(*promotions):
    return DEFAULT_RULES.model_copy(update={"promotions": promotions})


def test_given_a_period_then_both_ends_are_included_and_the_days_around_are_not():
    p = _promotion(start=WEDNESDAY, end=WEDNESDAY + timedelta(days=2))
    assert [applies_on(p, WEDNESDAY + timedelta(days=d)) for d in (-1, 0, 2, 3)] == [False, True, True, False]


def test_given_weekdays_then_only_those_days_of_the_period_count():
    member_day = _promotion(start=WEDNESDAY - timedelta(days=14), end=WEDNESDAY + timedelta(days=14), weekdays=(3,))
    assert applies_on(member_day, WEDNESDAY)
    assert not applies_on(member_day, WEDNESDAY + timedelta(days=1))
    assert applies_on(member_day, WEDNESDAY + timedelta(days=7))


def test_given_overlapping_promotions_then_the_highest_multiplier_wins_and_none_means_one():
    rules = _rules(_promotion("a", multiplier="2"), _promotion("b", multiplier="3"), _promotion("c", multiplier="1.5"))
    assert promotion_multiplier(rules, WEDNESDAY) == Decimal(3)
    assert promotion_multiplier(rules, WEDNESDAY + timedelta(days=1)) == Decimal(1)


def test_given_a_calendar_then_running_and_upcoming_are_told_apart_in_start_order():
    rules = _rules(
        _promotion("later", WEDNESDAY + timedelta(days=9), WEDNESDAY + timedelta(days=9)),
        _promotion("soon", WEDNESDAY + timedelta(days=2), WEDNESDAY + timedelta(days=3)),
        _promotion("now", WEDNESDAY, WEDNESDAY, weekdays=(5,)),
        _promotion("past", WEDNESDAY - timedelta(days=3), WEDNESDAY - timedelta(days=1)),
    )
    assert [p.id for p in running(rules, WEDNESDAY)] == ["now"]
    assert [p.id for p in upcoming(rules, WEDNESDAY)] == ["soon", "later"]


@pytest.mark.parametrize(
    "promotion",
    [
        {"id": "p", "name": "p", "starts_on": "2026-05-20", "ends_on": "2026-05-19", "multiplier": 2},
        {"id": "p", "name": "p", "starts_on": "2026-05-20", "ends_on": "2026-05-20", "multiplier": 2, "weekdays": [8]},
        {"id": "p", "name": "p", "starts_on": "2026-05-20", "ends_on": "2026-05-20", "multiplier": 0},
        {"id": "P!", "name": "p", "starts_on": "2026-05-20", "ends_on": "2026-05-20", "multiplier": 2},
    ],
)
def test_given_a_promotion_an_operator_mistyped_then_the_rules_document_is_refused(promotion):
    with pytest.raises(ValidationError):
        ProgramRules.model_validate({"promotions": [promotion]})


@pytest.mark.parametrize("weekdays", [[0], [8], [1, 8], [0, 7]])
def test_given_a_weekday_outside_monday_to_sunday_then_the_rules_document_is_refused(weekdays):
    promotion = {"id": "p", "name": "p", "starts_on": "2026-05-20", "ends_on": "2026-05-20", "multiplier": 2, "weekdays": weekdays}
    with pytest.raises(ValidationError, match="weekdays are ISO weekdays 1"):
        ProgramRules.model_validate({"promotions": [promotion]})


def test_given_monday_and_sunday_then_the_promotion_applies_on_both():
    weekend_and_monday = _promotion(start=WEDNESDAY, end=WEDNESDAY + timedelta(days=7), weekdays=(1, 7))
    rules = ProgramRules.model_validate({"promotions": [weekend_and_monday.model_dump(mode="json")]})
    sunday, monday = WEDNESDAY + timedelta(days=4), WEDNESDAY + timedelta(days=5)
    assert rules.promotions[0].weekdays == (1, 7)
    assert [applies_on(rules.promotions[0], d) for d in (sunday, monday, WEDNESDAY)] == [True, True, False]


def test_given_several_running_promotions_then_they_are_listed_by_start_then_by_id():
    rules = _rules(
        _promotion("b-later", WEDNESDAY - timedelta(days=1), WEDNESDAY),
        _promotion("z-first", WEDNESDAY - timedelta(days=5), WEDNESDAY + timedelta(days=1)),
        _promotion("a-later", WEDNESDAY - timedelta(days=1), WEDNESDAY + timedelta(days=1)),
    )
    assert [p.id for p in running(rules, WEDNESDAY)] == ["z-first", "a-later", "b-later"]


def test_given_no_promotions_then_nothing_is_running_or_upcoming_and_the_best_is_none():
    assert running(DEFAULT_RULES, WEDNESDAY) == []
    assert upcoming(DEFAULT_RULES, WEDNESDAY) == []
    assert best_promotion(DEFAULT_RULES, WEDNESDAY) is None


def test_given_overlapping_promotions_then_the_best_is_the_one_with_the_highest_multiplier():
    rules = _rules(_promotion("a", multiplier="2"), _promotion("b", multiplier="3"))
    best = best_promotion(rules, WEDNESDAY)
    assert best is not None and best.id == "b"


# --- how a purchase's multipliers combine: tier x birthday x the day's best promotion ------------

BIRTHDAY = "1990-05-20"  # WEDNESDAY is the member's birthday


@pytest.mark.parametrize(
    ("tier", "birthday", "day", "multiplier"),
    [
        ("member", None, WEDNESDAY, "2"),  # the promotion only
        ("silver", None, WEDNESDAY + timedelta(days=1), "1.25"),  # the tier only
        ("gold", "1990-01-01", WEDNESDAY + timedelta(days=1), "1.5"),  # not their birthday
        ("silver", "1990-05-21", WEDNESDAY + timedelta(days=1), "2.5"),  # tier x birthday
        ("silver", BIRTHDAY, WEDNESDAY, "5"),  # tier x birthday x promotion
        ("platinum", None, WEDNESDAY + timedelta(days=1), "1.0"),  # a tier removed from the rules: the base tier
    ],
)
def test_given_a_members_tier_and_birthday_then_the_multipliers_of_the_day_multiply(tier, birthday, day, multiplier):
    rules = _rules(_promotion("member-day", multiplier="2"))
    assert earn_multiplier(rules, tier, birthday, day) == Decimal(multiplier)


def test_given_a_silver_member_buying_100_yuan_on_their_birthday_on_double_points_day_then_they_earn_500_points():
    rules = _rules(_promotion("member-day", multiplier="2"))
    assert purchase_points(10000, rules.earn_rate, earn_multiplier(rules, "silver", BIRTHDAY, WEDNESDAY)) == 500
