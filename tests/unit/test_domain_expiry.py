"""Points expiry (chalicelib/domain/expiry.py): which lots are due, what expiring them leaves, who is reminded."""

from datetime import date

from chalicelib.domain.expiry import due_lots, expire_due, lots_expiring_on
from chalicelib.domain.points import PointsState, earn, spend

VALIDITY = 12


def member_with_lots() -> PointsState:
    """300 points earned in November 2025, 200 in December 2025, 100 in March 2026; then 50 spent."""
    state = PointsState()
    for month, points in (("2025-11", 300), ("2025-12", 200), ("2026-03", 100)):
        state = earn(state, points, month, qualifying=True)
    return spend(state, 50)  # from the oldest lot: November keeps 250


def test_given_the_day_before_a_lot_expires_then_nothing_is_due():
    assert due_lots(member_with_lots(), date(2026, 11, 30), VALIDITY) == []


def test_given_the_day_a_lot_expires_then_what_is_left_of_it_is_due_and_the_younger_lots_are_not():
    assert due_lots(member_with_lots(), date(2026, 12, 1), VALIDITY) == [("2025-11", 250)]


def test_given_a_late_run_then_every_due_lot_is_due_oldest_first():
    assert due_lots(member_with_lots(), date(2027, 1, 1), VALIDITY) == [("2025-11", 250), ("2025-12", 200)]


def test_given_due_lots_when_they_expire_then_the_member_loses_what_was_left_of_them_and_keeps_the_rest():
    state = member_with_lots()
    expiry = expire_due(state, date(2027, 1, 1), VALIDITY)
    assert expiry.expired == [("2025-11", 250), ("2025-12", 200)]
    assert expiry.points == 450
    assert expiry.state.balance == 100
    assert expiry.state.lots == {"2026-03": 100}
    assert expiry.state.lifetime_earned == state.lifetime_earned  # what was earned stays earned
    assert expiry.state.earned_months == state.earned_months


def test_given_nothing_due_when_expiring_then_the_balance_is_untouched():
    state = member_with_lots()
    expiry = expire_due(state, date(2026, 11, 30), VALIDITY)
    assert expiry.expired == []
    assert expiry.points == 0
    assert expiry.state == state


def test_given_a_member_whose_points_are_all_spent_then_nothing_expires():
    state = spend(earn(PointsState(), 300, "2025-11", qualifying=True), 300)
    expiry = expire_due(state, date(2027, 1, 1), VALIDITY)
    assert expiry.expired == []
    assert expiry.state.balance == 0


def test_given_a_reminder_day_then_only_the_lots_expiring_exactly_then_with_points_left_are_its_subject():
    state = member_with_lots()
    assert lots_expiring_on(state, date(2026, 12, 1), VALIDITY) == ["2025-11"]
    assert lots_expiring_on(state, date(2027, 1, 1), VALIDITY) == ["2025-12"]
    assert lots_expiring_on(state, date(2026, 12, 2), VALIDITY) == []
    assert lots_expiring_on(spend(state, 250), date(2026, 12, 1), VALIDITY) == []  # spent: nothing to remind of


def test_given_a_shorter_validity_then_lots_expire_sooner():
    assert lots_expiring_on(member_with_lots(), date(2026, 1, 1), 1) == ["2025-11"]
    assert due_lots(member_with_lots(), date(2026, 1, 1), 1) == [("2025-11", 250)]
