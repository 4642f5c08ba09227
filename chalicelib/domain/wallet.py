"""Stored value (储值): the rules of the money wallet, pure (no AWS).

The wallet is a money balance in integer minor units of one currency, kept
apart from points: nothing here converts one into the other. A top-up adds
the amount and, if the program has top-up bonuses, the best bonus the
amount qualifies for; a payment takes the amount and never leaves the
balance below zero; a refund of a payment gives back at most what the
payment took, summed over all its refunds.
"""

from __future__ import annotations

from collections.abc import Iterable

from .rules import TopupBonus

# topup_refund / bonus_clawback (negative): a top-up paid back to the payer through WeChat Pay and
# its bonus taken back; refund_returned (positive): WeChat Pay refused that refund, the money held
# for it is the member's again.
ENTRY_KINDS = ("topup", "bonus", "payment", "refund", "topup_refund", "bonus_clawback", "refund_returned")


class NotEnoughFunds(Exception):
    """The payment is more than the balance."""


class RefundTooLarge(Exception):
    """The refunds of a payment would add up to more than the payment."""


def topup_bonus(bonuses: Iterable[TopupBonus], amount: int) -> int:
    """The bonus for topping up `amount`: the largest bonus among the tiers whose
    `min_amount` the amount reaches, or 0 when it reaches none."""
    return max((b.bonus for b in bonuses if amount >= b.min_amount), default=0)


def credit(balance: int, amount: int) -> int:
    """The balance after adding `amount` (> 0)."""
    if amount <= 0:
        raise ValueError("a credit is a positive amount")
    return balance + amount


def debit(balance: int, amount: int) -> int:
    """The balance after paying `amount` (> 0); never below zero."""
    if amount <= 0:
        raise ValueError("a debit is a positive amount")
    if amount > balance:
        raise NotEnoughFunds(f"the payment is {amount}; the balance is {balance}")
    return balance - amount


def topup_refund_hold(balance: int, amount: int, bonus: int) -> int:
    """The balance after refunding a top-up of `amount` that earned `bonus`: both leave the
    wallet, so the top-up is refunded only while the wallet still holds them (NotEnoughFunds)."""
    return debit(balance, amount + bonus)


def refunded_after(paid: int, refunded: int, amount: int) -> int:
    """What the refunds of a payment of `paid` add up to after one more of
    `amount` (> 0), given `refunded` so far; never more than `paid`."""
    if amount <= 0:
        raise ValueError("a refund is a positive amount")
    total = refunded + amount
    if total > paid:
        raise RefundTooLarge(f"refunds would total {total}, more than the payment of {paid}")
    return total
