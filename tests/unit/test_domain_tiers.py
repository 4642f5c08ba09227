"""Tiers (chalicelib/domain/tiers.py): qualifying on points earned in the window, upgraded at once by a
purchase, reviewed once a year. The default program: member 0, silver 2,000, gold 10,000."""

from datetime import date

import pytest

from chalicelib.domain.points import PointsState, claw_back, earn
from chalicelib.domain.rules import DEFAULT_RULES, ProgramRules
from chalicelib.domain.tiers import TierProgress, reviewed_tier, tier_for_points, tier_progress, upgraded_tier

TODAY = date(2026, 11, 22)
# The default program after an operator removed silver: its members are treated as the base tier.
WITHOUT_SILVER = ProgramRules.model_validate(
    {
        **DEFAULT_RULES.model_dump(mode="json"),
        "tiers": [t.model_dump(mode="json") for t in DEFAULT_RULES.tiers if t.id != "silver"],
    }
)


@pytest.mark.parametrize(("points", "tier"), [(0, "member"), (1999, "member"), (2000, "silver"), (9999, "silver"), (10000, "gold"), (10**7, "gold")])
def test_given_points_earned_in_the_window_then_the_tier_is_the_highest_whose_threshold_they_reach(points, tier):
    assert tier_for_points(DEFAULT_RULES, points) == tier


def earned(points: int) -> PointsState:
    return earn(PointsState(), points, "2026-11", qualifying=True)


def test_given_a_purchase_that_reaches_gold_then_a_member_goes_straight_to_gold():
    assert upgraded_tier(DEFAULT_RULES, "member", earned(10000), TODAY) == "gold"
    assert upgraded_tier(DEFAULT_RULES, "silver", earned(10000), TODAY) == "gold"


def test_given_a_purchase_that_reaches_no_higher_tier_then_the_tier_stays():
    assert upgraded_tier(DEFAULT_RULES, "silver", earned(2500), TODAY) == "silver"
    assert upgraded_tier(DEFAULT_RULES, "gold", earned(0), TODAY) == "gold"


def test_given_a_member_on_a_tier_removed_from_the_rules_when_they_buy_enough_for_a_tier_then_they_get_it_at_once():
    assert upgraded_tier(WITHOUT_SILVER, "silver", earned(10000), TODAY) == "gold"


def test_given_a_member_on_a_tier_removed_from_the_rules_when_a_purchase_qualifies_for_nothing_higher_then_it_does_not_move_them():
    # A purchase never moves a member down or sideways; the yearly review does (below).
    assert upgraded_tier(WITHOUT_SILVER, "silver", earned(100), TODAY) == "silver"


@pytest.mark.parametrize(
    ("current", "earned_in_window", "tier"),
    [
        ("gold", 10000, "gold"),  # kept
        ("gold", 2000, "silver"),  # down one level
        ("gold", 0, "silver"),  # down at most one level a year
        ("silver", 0, "member"),
        ("member", 0, "member"),
        ("member", 10000, "gold"),  # up to what was earned
        ("silver", 2000, "silver"),
    ],
)
def test_given_the_yearly_review_then_the_tier_follows_what_was_earned_but_drops_at_most_one_level(current, earned_in_window, tier):
    assert reviewed_tier(DEFAULT_RULES, current, earned_in_window) == tier


def test_given_the_yearly_review_of_a_member_on_a_removed_tier_then_they_get_the_tier_they_earned():
    assert reviewed_tier(WITHOUT_SILVER, "silver", 0) == "member"
    assert reviewed_tier(WITHOUT_SILVER, "silver", 10000) == "gold"


# --- progress to the next tier (the Member object's tier_progress) ---------------------------


def test_given_purchases_in_and_before_the_window_then_the_progress_counts_only_the_window():
    # Given 1,500 points from purchases this month and 5,000 thirteen months ago (outside the 12-month window)
    state = earn(earn(PointsState(), 5000, "2025-10", qualifying=True), 1500, "2026-11", qualifying=True)
    # When a member on the base tier asks, Then silver (2,000) is 500 away
    assert tier_progress(DEFAULT_RULES, "member", state, TODAY) == TierProgress(1500, 12, "silver", 2000, 500)


def test_given_the_window_s_first_month_then_it_counts():
    state = earn(PointsState(), 700, "2025-12", qualifying=True)  # December 2025 .. November 2026
    assert tier_progress(DEFAULT_RULES, "silver", state, TODAY) == TierProgress(700, 12, "gold", 10000, 9300)


def test_given_bonus_points_and_a_refund_then_only_what_purchases_kept_counts():
    # Given 3,000 from a purchase, 1,000 of them refunded, and a 5,000-point bonus (never qualifying)
    state = claw_back(earn(earn(PointsState(), 3000, "2026-10", qualifying=True), 5000, "2026-11", qualifying=False), 1000, "2026-10")
    assert tier_progress(DEFAULT_RULES, "silver", state, TODAY).qualifying_points == 2000


def test_given_the_top_tier_then_there_is_no_next_tier():
    assert tier_progress(DEFAULT_RULES, "gold", earned(12000), TODAY) == TierProgress(12000, 12, None, None, None)


def test_given_points_past_the_next_threshold_then_nothing_more_is_needed():
    # A member kept on silver by an override, or not yet moved by the review: 0, never negative.
    assert tier_progress(DEFAULT_RULES, "member", earned(10500), TODAY).points_needed == 0


def test_given_a_member_on_a_tier_removed_from_the_rules_then_the_progress_is_from_the_base_tier():
    assert tier_progress(WITHOUT_SILVER, "silver", earned(100), TODAY) == TierProgress(100, 12, "gold", 10000, 9900)
