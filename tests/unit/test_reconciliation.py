"""The ledger invariant's rules (chalicelib/reconciliation.py): what counts as drift."""

from __future__ import annotations

from chalicelib.domain.reconciliation import Drift, Holdings, drift


def books(balance: int, entries: list[tuple[str, int, int]], wallet: int | None = None, wallet_entries: tuple[int, ...] = ()) -> Holdings:
    holdings = Holdings("mbr_1", has_member=True, balance=balance)
    for kind, points, after in entries:
        holdings.add_ledger_entry(kind, points, after)
    if wallet is not None:
        holdings.has_wallet, holdings.wallet_balance = True, wallet
    for amount in wallet_entries:
        holdings.add_wallet_entry(amount)
    return holdings


def test_given_entries_that_add_up_to_the_balances_then_there_is_no_drift():
    held = books(100, [("bonus", 100, 100), ("earn", 500, 600), ("redeem", -500, 100)], wallet=300, wallet_entries=(1000, -700))
    assert drift(held) == []


def test_given_a_ledger_that_does_not_add_up_then_drift_says_what_the_entries_expect_and_what_is_stored():
    assert drift(books(150, [("bonus", 100, 100)])) == [Drift("points_sum", 100, 150)]


def test_given_a_refund_that_clawed_back_points_already_spent_then_a_negative_balance_is_no_drift():
    held = books(-400, [("bonus", 100, 100), ("earn", 500, 600), ("redeem", -500, 100), ("refund", -500, -400)])
    assert drift(held) == []


def test_given_earnings_since_the_claw_back_then_the_smaller_debt_is_no_drift():
    held = books(-300, [("earn", 500, 500), ("redeem", -500, 0), ("refund", -500, -500), ("earn", 200, -300)])
    assert drift(held) == []


def test_given_a_balance_lower_than_any_claw_back_left_it_then_that_is_drift():
    held = Holdings("mbr_1", has_member=True, balance=-600, ledger_sum=-600, lowest_claw_back=-500)
    assert drift(held) == [Drift("points_below_zero", -500, -600)]


def test_given_a_negative_balance_without_a_claw_back_then_that_is_drift():
    held = books(-100, [("bonus", 100, 100), ("adjust", -200, -100)])
    assert drift(held) == [Drift("points_below_zero", 0, -100), Drift("debit_below_zero", 0, -100)]


def test_given_a_redemption_that_once_went_below_zero_then_it_is_drift_even_after_earnings_paid_it_back():
    held = books(100, [("redeem", -500, -500), ("earn", 600, 100)])
    assert drift(held) == [Drift("debit_below_zero", 0, -500)]


def test_given_a_forfeit_of_a_negative_balance_on_erasure_then_there_is_no_drift():
    held = books(0, [("earn", 500, 500), ("redeem", -500, 0), ("refund", -500, -500), ("adjust", 500, 0)])
    assert drift(held) == []


def test_given_ledger_entries_without_a_member_item_then_they_are_drift():
    held = Holdings("mbr_1")
    held.add_ledger_entry("earn", 50, 50)
    assert drift(held) == [Drift("points_sum", 50, 0)]


def test_given_a_wallet_that_does_not_add_up_or_is_negative_then_both_are_drift():
    assert drift(books(0, [], wallet=500, wallet_entries=(1000, -700))) == [Drift("wallet_sum", 300, 500)]
    assert drift(books(0, [], wallet=-100, wallet_entries=(-100,))) == [Drift("wallet_below_zero", 0, -100)]
    assert drift(books(0, [], wallet_entries=(100,))) == [Drift("wallet_sum", 100, 0)]


def test_given_a_members_partition_then_the_books_count_its_ledger_and_wallet_entries():
    held = books(100, [("bonus", 100, 100), ("earn", 500, 600), ("redeem", -500, 100)], wallet=300, wallet_entries=(1000, -700))
    assert (held.ledger_entries, held.ledger_sum) == (3, 100)
    assert (held.wallet_entries, held.wallet_sum) == (2, 300)
    assert (Holdings("mbr_2").ledger_entries, Holdings("mbr_2").wallet_entries) == (0, 0)


def test_given_several_refunds_that_went_below_zero_then_the_lowest_balance_they_left_is_the_floor():
    held = books(-200, [("earn", 500, 500), ("redeem", -500, 0), ("refund", -500, -500), ("earn", 400, -100), ("refund", -100, -200)])
    assert held.lowest_claw_back == -500
    assert drift(held) == []
    # A stored balance that does not add up, but above the lowest claw-back: only the sum is drift.
    held.balance = -300
    assert drift(held) == [Drift("points_sum", -200, -300)]


def test_given_several_other_debits_below_zero_then_the_report_names_the_lowest_not_the_last():
    held = books(0, [("adjust", -300, -300), ("earn", 400, 100), ("redeem", -200, -100), ("earn", 100, 0)])
    assert held.lowest_other_debit == -300
    assert drift(held) == [Drift("debit_below_zero", 0, -300)]


def test_given_an_entry_that_moves_no_points_while_the_member_is_in_debt_then_it_is_no_debit():
    held = books(-400, [("earn", 500, 500), ("redeem", -500, 0), ("refund", -400, -400), ("earn", 0, -400), ("adjust", 0, -400)])
    assert held.lowest_other_debit is None
    assert drift(held) == []


def test_given_a_debit_that_leaves_the_balance_at_zero_then_it_is_not_below_zero():
    held = books(0, [("earn", 500, 500), ("redeem", -500, 0)])
    assert (held.lowest_claw_back, held.lowest_other_debit) == (None, None)
    assert drift(held) == []
