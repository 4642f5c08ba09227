"""The wallet's rules, without AWS: bonus tiers, never below zero, refunds bounded by the payment."""

import pytest

from chalicelib.domain.rules import DEFAULT_RULES, TopupBonus
from chalicelib.domain.wallet import NotEnoughFunds, RefundTooLarge, credit, debit, refunded_after, topup_bonus

TIERS = (TopupBonus(min_amount=100000, bonus=12000), TopupBonus(min_amount=50000, bonus=5000))


@pytest.mark.parametrize(
    ("amount", "bonus"),
    [(1, 0), (49999, 0), (50000, 5000), (99999, 5000), (100000, 12000), (10**9, 12000)],
)
def test_given_bonus_tiers_in_any_order_then_the_best_tier_the_amount_reaches_applies(amount, bonus):
    assert topup_bonus(TIERS, amount) == bonus


def test_given_the_default_rules_then_no_top_up_earns_a_bonus():
    assert DEFAULT_RULES.topup_bonuses == ()
    assert topup_bonus(DEFAULT_RULES.topup_bonuses, 10**9) == 0


def test_given_a_balance_then_a_payment_up_to_it_succeeds_and_one_unit_more_is_refused():
    assert debit(10000, 10000) == 0
    with pytest.raises(NotEnoughFunds):
        debit(10000, 10001)
    with pytest.raises(NotEnoughFunds):
        debit(0, 1)


@pytest.mark.parametrize("amount", [0, -1])
def test_given_a_non_positive_amount_then_no_balance_change_accepts_it(amount):
    for change in (lambda: credit(100, amount), lambda: debit(100, amount), lambda: refunded_after(100, 0, amount)):
        with pytest.raises(ValueError):
            change()


def test_given_a_payment_then_refunds_add_up_to_it_and_no_further():
    assert refunded_after(6000, 0, 2000) == 2000
    assert refunded_after(6000, 2000, 4000) == 6000
    with pytest.raises(RefundTooLarge):
        refunded_after(6000, 6000, 1)
    with pytest.raises(RefundTooLarge):
        refunded_after(6000, 0, 6001)
