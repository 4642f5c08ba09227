"""The wallet's rules, without AWS: bonus tiers, never below zero, refunds bounded by the payment."""

import pytest

from chalicelib.domain.rules import DEFAULT_RULES, TopupBonus
from chalicelib.domain.wallet import NotEnoughFunds, RefundTooLarge, credit, debit, refunded_after, topup_bonus, topup_refund_hold

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


def test_given_a_balance_then_a_top_up_or_a_refund_adds_exactly_its_amount_even_a_single_fen():
    assert credit(10000, 5000) == 15000
    assert credit(0, 1) == 1
    assert credit(10000, 1) == 10001


def test_given_a_payment_then_the_balance_goes_down_by_exactly_its_amount():
    assert debit(10000, 2500) == 7500
    assert debit(10000, 1) == 9999


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda: credit(100, 0), "a credit is a positive amount"),
        (lambda: debit(100, 0), "a debit is a positive amount"),
        (lambda: refunded_after(100, 0, 0), "a refund is a positive amount"),
    ],
)
def test_given_no_amount_then_the_error_says_which_change_refused_it(change, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        change()


def test_given_a_payment_larger_than_the_balance_then_the_refusal_states_both_amounts():
    with pytest.raises(NotEnoughFunds, match=r"^the payment is 10001; the balance is 10000$"):
        debit(10000, 10001)


def test_given_refunds_beyond_the_payment_then_the_refusal_states_the_total_and_the_payment():
    with pytest.raises(RefundTooLarge, match=r"^refunds would total 6500, more than the payment of 6000$"):
        refunded_after(6000, 4000, 2500)


def test_given_a_top_up_with_a_bonus_then_its_refund_takes_both_back_and_is_refused_once_any_of_it_was_spent():
    assert topup_refund_hold(55000, 50000, 5000) == 0
    assert topup_refund_hold(60000, 50000, 5000) == 5000
    assert topup_refund_hold(50000, 50000, 0) == 0
    with pytest.raises(NotEnoughFunds):
        topup_refund_hold(54999, 50000, 5000)
