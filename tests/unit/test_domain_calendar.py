"""The program's calendar (chalicelib/domain/calendar.py): whose birthday or anniversary is today."""

from datetime import date

import pytest

from chalicelib.domain.calendar import birthday_multiplier_applies, celebrated_month_days, is_celebrated_today, month_day


def test_given_a_day_then_its_month_day_is_the_zero_padded_key_the_birthday_job_looks_up():
    assert month_day(date(2026, 3, 5)) == "03-05"
    assert month_day(date(1990, 12, 25)) == "12-25"


@pytest.mark.parametrize(
    ("today", "celebrated"),
    [
        (date(2027, 2, 28), ["02-28", "02-29"]),  # not a leap year: 29 February is kept on the 28th
        (date(2028, 2, 28), ["02-28"]),  # a leap year: the 29th comes tomorrow
        (date(2028, 2, 29), ["02-29"]),
        (date(2027, 3, 1), ["03-01"]),
        (date(2027, 2, 27), ["02-27"]),
        (date(2027, 3, 28), ["03-28"]),  # the 28th of another month is only itself
    ],
)
def test_given_a_day_then_the_month_days_celebrated_on_it_are_its_own_and_29_february_in_common_years(today, celebrated):
    assert celebrated_month_days(today) == celebrated


def test_given_a_member_born_on_29_february_then_they_are_celebrated_on_28_february_in_common_years_once():
    born = "2000-02-29"
    assert is_celebrated_today(born, date(2027, 2, 28))
    assert not is_celebrated_today(born, date(2027, 3, 1))
    assert is_celebrated_today(born, date(2028, 2, 29))
    assert not is_celebrated_today(born, date(2028, 2, 28))


def test_given_an_anniversary_as_a_date_or_as_text_then_both_are_celebrated_on_the_same_day():
    assert is_celebrated_today(date(2024, 6, 1), date(2026, 6, 1))
    assert is_celebrated_today("2024-06-01", date(2026, 6, 1))
    assert not is_celebrated_today(date(2024, 6, 1), date(2026, 6, 2))
    assert not is_celebrated_today("2024-06-01", date(2026, 5, 31))


@pytest.mark.parametrize("missing", [None, ""])
def test_given_no_birthday_then_no_day_is_celebrated(missing):
    assert not is_celebrated_today(missing, date(2026, 6, 1))
    assert not birthday_multiplier_applies(missing, date(2026, 6, 1))


def test_given_a_birthday_then_the_birthday_multiplier_applies_on_that_day_only():
    assert birthday_multiplier_applies("1990-05-18", date(2026, 5, 18))
    assert not birthday_multiplier_applies("1990-05-18", date(2026, 5, 19))
    assert birthday_multiplier_applies("1992-02-29", date(2026, 2, 28))
