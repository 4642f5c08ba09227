"""The promotions calendar: which days a promotion applies, and which multiplier a purchase gets."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from chalicelib.domain.earning import applies_on, promotion_multiplier, running, upcoming
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
