"""The expiry rules (chalicelib/domain/expiry.py) and the notices that keep a reminder from
going out twice (chalicelib/domain/notices.py): pure functions, no AWS."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.expiry import due_lots, expire_due, lots_expiring_on, reminder_due
from chalicelib.domain.notices import reengagement_key, with_notice
from chalicelib.domain.points import PointsState, lot_expires_on, spend

# Earned in 2025-11 and 2025-12 with 12 months' validity: they expire on 2026-12-01 and 2027-01-01.
STATE = PointsState(balance=700, lifetime_earned=900, lots={"2025-11": 200, "2025-12": 300, "2026-03": 200})


def test_given_a_lot_whose_date_has_come_then_what_is_left_of_it_expires_and_the_rest_stays():
    expiry = expire_due(STATE, date(2026, 12, 1), 12)
    assert expiry.expired == [("2025-11", 200)]
    assert expiry.points == 200
    assert expiry.state.balance == 500
    assert expiry.state.lots == {"2025-12": 300, "2026-03": 200}
    assert expiry.state.lifetime_earned == 900  # expiring takes nothing back from what was earned


def test_given_the_day_before_a_lot_expires_then_nothing_is_due():
    assert due_lots(STATE, date(2026, 11, 30), 12) == []
    assert expire_due(STATE, date(2026, 11, 30), 12).state == STATE


def test_given_a_run_missed_for_a_month_then_every_lot_due_by_then_expires_oldest_first():
    expiry = expire_due(STATE, date(2027, 1, 15), 12)
    assert expiry.expired == [("2025-11", 200), ("2025-12", 300)]
    assert (expiry.state.balance, expiry.state.lots) == (200, {"2026-03": 200})


def test_given_points_spent_from_the_oldest_lot_then_only_what_is_left_of_it_expires():
    spent = spend(STATE, 250)  # 200 from 2025-11, 50 from 2025-12
    assert expire_due(spent, date(2027, 1, 1), 12).expired == [("2025-12", 250)]


def test_given_a_negative_balance_after_a_claw_back_then_there_is_no_lot_to_expire():
    owing = PointsState(balance=-400, lots={})
    assert expire_due(owing, date(2030, 1, 1), 12).expired == []


def test_given_lots_expiring_in_30_days_then_the_reminder_is_about_them_with_the_points_left():
    reminder = reminder_due(STATE, date(2026, 11, 1), 30, 12)
    assert reminder is not None
    assert (reminder.months, reminder.points, reminder.expires_on, reminder.days) == (["2025-11"], 200, date(2026, 12, 1), 30)
    assert reminder.notice == "expiry:2025-11:30"


def test_given_no_lot_expiring_that_day_then_no_reminder():
    assert reminder_due(STATE, date(2026, 11, 2), 30, 12) is None
    assert lots_expiring_on(STATE, date(2026, 12, 2), 12) == []


def test_given_a_lot_spent_in_full_then_no_reminder_for_it():
    assert reminder_due(spend(STATE, 200), date(2026, 11, 1), 30, 12) is None


def test_given_a_notice_sent_then_it_is_kept_and_notices_older_than_400_days_go():
    # 400 days before 2026-02-05 is 2025-01-01: kept on that day, gone the day before.
    notices = {"expiry:2023-12:30": "2024-12-31", "expiry:2024-01:30": "2025-01-01"}
    after = with_notice(notices, reengagement_key(30, date(2026, 1, 1)), date(2026, 2, 5))
    assert after == {"expiry:2024-01:30": "2025-01-01", "reengage:30:2026-01-01": "2026-02-05"}


months = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(2020, 2030), st.integers(1, 12))


@given(st.dictionaries(months, st.integers(1, 10_000), max_size=12), st.dates(date(2020, 1, 1), date(2032, 12, 31)))
def test_expiring_keeps_the_lots_invariant_and_takes_exactly_the_due_lots(lots, as_of):
    state = PointsState(balance=sum(lots.values()), lots=lots)
    expiry = expire_due(state, as_of, 12)
    assert sum(expiry.state.lots.values()) == expiry.state.balance == state.balance - expiry.points
    assert all(lot_expires_on(month, 12) > as_of for month in expiry.state.lots)
    assert all(lot_expires_on(month, 12) <= as_of for month, _ in expiry.expired)
