"""Paid membership plans, pure: periods, renewals, refunds, the tier without a plan, the rules."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.domain.errors import InvalidState, RefundWindowClosed
from chalicelib.domain.plans import PlanHolding, buy, ending_on_closure, period_end, plan_status, refund, tier_without_plan
from chalicelib.domain.rules import DEFAULT_RULES, MembershipPlan, ProgramRules

PLUS = MembershipPlan(id="plus", name="PLUS", fee=9900, currency="CNY", period_months=12, tier="gold")
WEEK = MembershipPlan(id="week", name="Week", fee=500, currency="CNY", period_days=7, tier="silver", refund_window_days=0)
TODAY = date(2026, 11, 30)


def held(plan: MembershipPlan = PLUS, ends_on: date = date(2027, 11, 29), membership_id: str = "msp_1", tier_before: str = "member") -> PlanHolding:
    return PlanHolding(plan.id, plan.name, plan.tier, TODAY, ends_on, membership_id, tier_before)


@pytest.mark.parametrize(
    ("plan", "starts", "ends"),
    [
        (PLUS, date(2026, 11, 30), date(2027, 11, 29)),
        (PLUS, date(2028, 2, 29), date(2029, 2, 27)),  # no 29 February in 2029: the eve of the 28th
        (MembershipPlan(id="m", name="M", fee=1, currency="CNY", period_months=1, tier="silver"), date(2027, 1, 31), date(2027, 2, 27)),
        (WEEK, date(2026, 12, 30), date(2027, 1, 5)),
    ],
)
def test_a_period_ends_the_day_before_the_same_day_a_period_later(plan, starts, ends):
    assert period_end(plan, starts) == ends


def test_given_no_plan_when_bought_then_it_starts_today_with_the_tier_held_before():
    bought = buy(PLUS, None, "silver", "msp_1", TODAY)
    assert bought.event == "plan_started" and bought.previous_ends_on is None and bought.lapses_first is None
    assert (bought.holding.started_on, bought.holding.ends_on, bought.holding.tier_before) == (TODAY, date(2027, 11, 29), "silver")


def test_given_the_same_plan_running_when_bought_then_renewed_from_the_day_after_its_end():
    bought = buy(PLUS, held(), "gold", "msp_2", date(2027, 11, 1))
    assert bought.event == "plan_renewed"
    assert (bought.period_starts_on, bought.holding.ends_on) == (date(2027, 11, 30), date(2028, 11, 29))
    assert (bought.previous_ends_on, bought.previous_membership_id, bought.holding.membership_id) == (date(2027, 11, 29), "msp_1", "msp_2")
    assert bought.holding.tier_before == "member" and bought.holding.started_on == TODAY


def test_given_another_plan_running_or_a_plan_off_sale_then_invalid_state():
    with pytest.raises(InvalidState, match="plus"):
        buy(WEEK, held(), "gold", "msp_2", TODAY)
    with pytest.raises(InvalidState, match="no longer on sale"):
        buy(PLUS.model_copy(update={"on_sale": False}), None, "member", "msp_2", TODAY)


def test_given_a_plan_ended_but_not_lapsed_when_bought_then_it_lapses_and_a_new_one_starts():
    ended = held(ends_on=date(2026, 11, 29))
    bought = buy(WEEK, ended, "gold", "msp_2", TODAY)
    assert bought.event == "plan_started" and bought.lapses_first == ended
    assert bought.holding.tier_before == "member"  # what the member held before the first plan
    assert plan_status(ended, TODAY) == "ended" and plan_status(held(), TODAY) == "active"


def test_a_refund_is_allowed_through_the_last_day_of_its_window_and_never_after():
    assert refund(held(), "msp_1", None, None, TODAY, 7, date(2026, 12, 7)).holding is None
    with pytest.raises(RefundWindowClosed, match="2026-12-07"):
        refund(held(), "msp_1", None, None, TODAY, 7, date(2026, 12, 8))
    assert refund(held(), "msp_1", None, None, TODAY, 0, TODAY).holding is None


def test_a_refunded_renewal_puts_the_end_back_and_an_earlier_purchase_waits_for_it():
    renewed = held(ends_on=date(2028, 11, 29), membership_id="msp_2")
    after = refund(renewed, "msp_2", date(2027, 11, 29), "msp_1", TODAY, 7, TODAY)
    assert after.holding is not None and (after.holding.ends_on, after.holding.membership_id) == (date(2027, 11, 29), "msp_1")
    with pytest.raises(InvalidState, match="later renewal first"):
        refund(renewed, "msp_1", None, None, TODAY, 7, TODAY)
    with pytest.raises(InvalidState):
        refund(None, "msp_1", None, None, TODAY, 7, TODAY)


def test_the_tier_without_the_plan_is_the_better_of_before_and_earned_never_under_an_override_never_above_now():
    rules = DEFAULT_RULES
    plan = held(tier_before="member")
    assert tier_without_plan(rules, "gold", plan, "member", None) == "member"
    assert tier_without_plan(rules, "gold", plan, "silver", None) == "silver"
    assert tier_without_plan(rules, "gold", plan, "member", "silver") == "silver"
    assert tier_without_plan(rules, "gold", held(tier_before="silver"), "member", None) == "silver"
    week = held(WEEK, tier_before="member")
    assert tier_without_plan(rules, "gold", week, "gold", None) == "gold"  # earned past the plan: kept


def test_the_effective_tier_is_the_best_of_held_override_and_plan():
    assert DEFAULT_RULES.effective_tier("member", None, "gold") == "gold"
    assert DEFAULT_RULES.effective_tier("gold", "silver", "silver") == "gold"
    assert DEFAULT_RULES.effective_tier("member", "silver", None) == "silver"


def test_a_plan_document_is_validated_against_the_program():
    base = DEFAULT_RULES.model_dump(mode="json")
    plus = PLUS.model_dump(mode="json")
    assert ProgramRules.model_validate({**base, "plans": [plus]}).plan("plus") == PLUS
    for bad, message in [
        ({**plus, "tier": "platinum"}, "platinum"),
        ({**plus, "currency": "USD"}, "USD"),
        ({**plus, "period_days": 30}, "exactly one"),
        ({**plus, "fee": 0}, "greater than 0"),
        ({**plus, "fee": 99.0}, "fee"),
        ({**plus, "refund_window_days": -1}, "refund_window_days"),
    ]:
        with pytest.raises(ValueError, match=message):
            ProgramRules.model_validate({**base, "plans": [bad]})
    with pytest.raises(ValueError, match="unique"):
        ProgramRules.model_validate({**base, "plans": [plus, plus]})


@pytest.mark.parametrize(
    ("paid_by", "bought_days_ago", "ends_in_days", "expected"),
    [
        ("till", 0, 300, ("plan_ended", "till")),  # within the window: the store owes the fee
        ("till", 8, 300, ("plan_ended", None)),  # past it: no refund
        ("wallet", 8, 300, ("plan_ended", None)),
        ("till", 3, -1, ("plan_lapsed", None)),  # over already, not yet lapsed by the job
    ],
)
def test_given_a_closing_member_then_the_plan_ends_and_the_fee_is_owed_only_within_the_window(paid_by, bought_days_ago, ends_in_days, expected):
    held = PlanHolding("plus", "PLUS", "gold", TODAY, TODAY + timedelta(days=ends_in_days), "msp_1", "member")
    ending = ending_on_closure(held, paid_by, TODAY - timedelta(days=bought_days_ago), 7, False, TODAY)
    assert (ending.entry, ending.refund_due) == expected


def test_given_a_wallet_paid_plan_still_refundable_then_closing_is_refused_until_it_is_refunded():
    held = PlanHolding("plus", "PLUS", "gold", TODAY, TODAY + timedelta(days=300), "msp_1", "member")
    with pytest.raises(InvalidState, match="refund it to the wallet"):
        ending_on_closure(held, "wallet", TODAY, 7, False, TODAY)
