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
    prune_earned_months,
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


# --- what a member sees of a purchase, a redemption and a refund ---------------------------------


@pytest.mark.parametrize(("earn_rate", "points"), [("2", 257), ("0.5", 64), ("1", 128)])
def test_given_an_earn_rate_then_a_purchase_earns_the_amount_in_yuan_times_the_rate(earn_rate, points):
    assert purchase_points(12850, Decimal(earn_rate), Decimal("1.0")) == points


def test_given_an_earn_rate_and_a_tier_multiplier_then_both_multiply():
    assert purchase_points(10000, Decimal("2"), Decimal("1.5")) == 300


def test_given_a_program_of_one_point_per_fen_then_the_smallest_purchase_earns_one_point():
    assert purchase_points(1, Decimal("100"), Decimal("1.0")) == 1
    assert purchase_points(2, Decimal("100"), Decimal("1.0")) == 2


@pytest.mark.parametrize("amount", [0, -500])
def test_given_no_amount_then_a_purchase_earns_nothing(amount):
    assert purchase_points(amount, Decimal("100"), Decimal("2")) == 0


def test_given_a_balance_when_redeeming_exactly_all_of_it_then_it_succeeds_and_leaves_nothing():
    state = earn(earn(PointsState(), 300, "2026-01", qualifying=True), 200, "2026-02", qualifying=True)
    after = spend(state, 500)
    assert after.balance == 0
    assert after.lots == {}


def test_given_purchases_then_lifetime_earned_counts_every_point_and_a_refund_takes_its_points_off():
    state = earn(earn(PointsState(), 300, "2026-01", qualifying=True), 100, "2026-02", qualifying=False)
    assert state.lifetime_earned == 400
    assert spend(state, 350).lifetime_earned == 400  # spending is not un-earning
    assert claw_back(state, 300, "2026-01").lifetime_earned == 100
    assert claw_back(state, 400, "2026-01").lifetime_earned == 0
    assert claw_back(claw_back(state, 400, "2026-01"), 100, "2026-02").lifetime_earned == 0  # never below zero


def test_given_two_purchases_in_a_month_then_both_count_for_the_tier():
    state = earn(earn(PointsState(), 1500, "2026-11", qualifying=True), 500, "2026-11", qualifying=True)
    assert state.earned_months == {"2026-11": 2000}
    assert upgraded_tier(DEFAULT_RULES, "member", state, date(2026, 11, 22)) == "silver"


def test_given_a_purchase_that_made_silver_when_it_is_refunded_then_its_points_no_longer_count_for_the_tier():
    bought = earn(earn(PointsState(), 1000, "2026-10", qualifying=True), 2000, "2026-11", qualifying=True)
    refunded = claw_back(bought, 2000, "2026-11")
    assert qualifying_points(refunded, date(2026, 11, 22), 12) == 1000
    assert refunded.earned_months == {"2026-10": 1000}  # nothing left of November: no entry kept
    assert upgraded_tier(DEFAULT_RULES, "member", refunded, date(2026, 11, 22)) == "member"


def test_given_a_partly_refunded_purchase_then_what_was_not_refunded_still_counts_for_the_tier():
    bought = earn(PointsState(), 2000, "2026-11", qualifying=True)
    assert qualifying_points(claw_back(bought, 500, "2026-11"), date(2026, 11, 22), 12) == 1500
    assert qualifying_points(claw_back(bought, 1999, "2026-11"), date(2026, 11, 22), 12) == 1
    assert qualifying_points(claw_back(bought, 2500, "2026-11"), date(2026, 11, 22), 12) == 0


def test_given_a_refund_of_a_month_without_qualifying_points_then_the_other_months_are_untouched():
    bought = earn(earn(PointsState(), 2000, "2026-10", qualifying=True), 100, "2026-11", qualifying=False)
    assert claw_back(bought, 100, "2026-11").earned_months == {"2026-10": 2000}


def test_given_lots_of_two_months_when_a_refund_claws_back_then_it_takes_from_the_refunded_months_lot_first():
    state = earn(earn(earn(PointsState(), 100, "2026-01", qualifying=True), 100, "2026-03", qualifying=True), 100, "2026-05", qualifying=True)
    assert claw_back(state, 50, "2026-03").lots == {"2026-01": 100, "2026-03": 50, "2026-05": 100}
    # More than that month holds: the rest from the oldest.
    assert claw_back(state, 150, "2026-05").lots == {"2026-01": 50, "2026-03": 100}


def test_given_a_lot_of_one_point_then_the_member_is_told_when_it_expires():
    state = earn(PointsState(), 1, "2026-03", qualifying=True)
    assert expiring_summary(state, 12) == [{"points": 1, "expires_on": "2027-04-01"}]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda: earn(PointsState(), -1, "2026-01", qualifying=True), "earn takes a non-negative number of points"),
        (lambda: spend(PointsState(balance=10, lots={"2026-01": 10}), -1), "spend takes a non-negative number of points"),
        (lambda: claw_back(PointsState(), -1, "2026-01"), "claw_back takes a non-negative number of points"),
    ],
)
def test_given_negative_points_then_no_balance_change_accepts_them_and_the_error_says_why(change, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        change()


def test_given_a_qualifying_window_then_only_months_inside_it_are_kept():
    state = PointsState(earned_months={"2025-10": 5, "2025-11": 10, "2025-12": 20, "2026-11": 30, "2026-12": 40})
    pruned = prune_earned_months(state, date(2026, 11, 22), 12)
    assert pruned.earned_months == {"2025-12": 20, "2026-11": 30}  # 2025-12 .. 2026-11
    assert prune_earned_months(state, date(2026, 11, 22), 1).earned_months == {"2026-11": 30}


def test_given_a_window_across_the_new_year_then_qualifying_points_count_the_trailing_months():
    state = PointsState(earned_months={"2025-12": 20, "2026-01": 30, "2026-02": 40})
    assert qualifying_points(state, date(2026, 2, 1), 2) == 70
    assert qualifying_points(state, date(2026, 2, 1), 3) == 90


def test_given_a_purchase_too_small_to_earn_a_point_or_a_refund_too_small_to_reverse_one_then_the_balance_is_untouched():
    state = earn(PointsState(), 300, "2026-01", qualifying=True)
    assert earn(state, 0, "2026-02", qualifying=True) == state  # no empty lot, no empty qualifying month
    assert claw_back(state, 0, "2026-01") == state
    assert spend(state, 0) == state


def test_given_two_purchases_in_one_month_then_they_share_that_months_lot():
    state = earn(earn(PointsState(), 300, "2026-01", qualifying=True), 200, "2026-01", qualifying=True)
    assert state.lots == {"2026-01": 500}


def test_given_a_member_in_debt_after_a_refund_then_earnings_repay_it_before_any_lot_is_made():
    in_debt = claw_back(spend(earn(PointsState(), 500, "2026-01", qualifying=True), 500), 400, "2026-01")
    assert earn(in_debt, 100, "2026-02", qualifying=True).lots == {}
    repaid = earn(in_debt, 400, "2026-02", qualifying=True)
    assert (repaid.balance, repaid.lots) == (0, {})


def test_given_a_redemption_one_point_larger_than_the_oldest_lot_then_that_point_comes_from_the_next_lot():
    state = earn(earn(PointsState(), 100, "2026-01", qualifying=True), 100, "2026-02", qualifying=True)
    after = spend(state, 101)
    assert (after.balance, after.lots) == (99, {"2026-02": 99})
