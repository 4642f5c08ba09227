"""The points rules: pure functions, no AWS."""

import contextlib
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.points import (
    NotEnoughPoints,
    PointsState,
    claw_back,
    earn,
    expiring_summary,
    lot_expires_on,
    proportional_reversal,
    purchase_points,
    qualifying_points,
    spend,
)
from chalicelib.domain.rules import DEFAULT_RULES
from chalicelib.domain.tiers import upgraded_tier


def test_given_128_50_yuan_at_the_base_rate_then_128_points():
    assert purchase_points(12850, Decimal("1"), Decimal("1.0")) == 128


def test_given_a_silver_multiplier_then_points_are_floored_exactly_without_float_error():
    # 0.29 * 100 * 1.25 = 36.25 -> 36; float math would give 36.24999...
    assert purchase_points(2900, Decimal("1"), Decimal("1.25")) == 36
    assert purchase_points(99, Decimal("1"), Decimal("1.5")) == 1
    assert purchase_points(66, Decimal("1"), Decimal("1.5")) == 0


def test_given_points_earned_in_november_2026_then_they_expire_on_1_december_2027():
    assert lot_expires_on("2026-11", 12) == date(2027, 12, 1)
    assert lot_expires_on("2026-12", 12) == date(2028, 1, 1)


def test_given_two_lots_when_spending_then_the_oldest_lot_is_used_first():
    state = earn(earn(PointsState(), 300, "2026-01", qualifying=True), 500, "2026-03", qualifying=True)
    after = spend(state, 400)
    assert after.balance == 400
    assert after.lots == {"2026-03": 400}


def test_given_too_few_points_when_spending_then_nothing_changes_and_it_is_refused():
    state = earn(PointsState(), 100, "2026-01", qualifying=False)
    with pytest.raises(NotEnoughPoints):
        spend(state, 101)


def test_given_points_already_spent_when_a_refund_claws_back_then_the_balance_goes_negative_and_later_earnings_repay_it():
    state = spend(earn(PointsState(), 1000, "2026-01", qualifying=True), 900)
    clawed = claw_back(state, 500, "2026-01")
    assert clawed.balance == -400
    assert clawed.lots == {}
    repaid = earn(clawed, 600, "2026-02", qualifying=True)
    assert repaid.balance == 200
    assert repaid.lots == {"2026-02": 200}


def test_given_partial_refunds_when_they_add_up_to_the_whole_amount_then_all_points_are_reversed():
    earned, amount = 128, 12850
    first = proportional_reversal(earned, amount, 5000)
    both = proportional_reversal(earned, amount, 12850)
    assert first == 49
    assert both == earned


def test_given_2000_qualifying_points_in_the_window_then_the_member_is_upgraded_to_silver_but_never_downgraded():
    state = earn(PointsState(), 2000, "2026-11", qualifying=True)
    assert upgraded_tier(DEFAULT_RULES, "member", state, date(2026, 11, 22)) == "silver"
    assert upgraded_tier(DEFAULT_RULES, "gold", state, date(2026, 11, 22)) == "gold"


def test_given_points_earned_13_months_ago_then_they_do_not_count_for_the_tier():
    state = earn(PointsState(), 5000, "2025-10", qualifying=True)
    assert qualifying_points(state, date(2026, 11, 1), 12) == 0
    assert qualifying_points(state, date(2026, 9, 30), 12) == 5000


def test_given_welcome_bonus_points_then_they_do_not_qualify_for_a_tier():
    state = earn(PointsState(), 5000, "2026-11", qualifying=False)
    assert qualifying_points(state, date(2026, 11, 1), 12) == 0


def test_expiring_summary_lists_lots_oldest_first_with_their_dates():
    state = earn(earn(PointsState(), 20, "2026-03", qualifying=True), 10, "2026-01", qualifying=True)
    assert expiring_summary(state, 12) == [
        {"points": 10, "expires_on": "2027-02-01"},
        {"points": 20, "expires_on": "2027-04-01"},
    ]


months = st.sampled_from(["2026-01", "2026-02", "2026-03", "2026-04"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(0, 5000), months),
        st.tuples(st.just("spend"), st.integers(0, 5000), months),
        st.tuples(st.just("claw"), st.integers(0, 5000), months),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_property_lots_always_hold_exactly_the_positive_balance(ops):
    state = PointsState()
    for op, points, month in ops:
        if op == "earn":
            state = earn(state, points, month, qualifying=True)
        elif op == "spend":
            with contextlib.suppress(NotEnoughPoints):
                state = spend(state, points)
        else:
            state = claw_back(state, points, month)
        assert sum(state.lots.values()) == max(state.balance, 0)
        assert all(p > 0 for p in state.lots.values())
        assert all(p >= 0 for p in state.earned_months.values())
