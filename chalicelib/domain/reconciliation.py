"""The ledger invariant, member by member: what the `reconcile` job checks.

For one member, from the items of its partition:

- points: the ledger entries add up to the member's balance. The balance is
  never below zero, except where a refund's claw-back took it there (a refund
  reversing points the member had already spent: `points.claw_back`); then it
  is no lower than the lowest balance such a refund left, because since then
  only earnings (which pay the debt first) can have moved it. No other debit
  (redemption, expiry, adjustment, forfeit) ever left the balance below zero.
- pending points (purchase points held for a return window, domain/pending.py): they are
  not in the balance, so every ledger entry's `points` still adds up to it; the entries that
  hold, cancel, release or forfeit them carry their change in `pending`, and those add up
  to the member's `pending_points`, which is never below zero.
- stored value: the wallet entries add up to the wallet's balance, which is
  never below zero. No wallet is a balance of 0, so entries without a wallet
  are drift too.

Pure: no AWS. `usecases/reconcile.py` reads the partitions and feeds them here.
"""

from __future__ import annotations

from dataclasses import dataclass

# The ledger entry kinds that may take the balance below zero: a refund's reversal
# (usecases/purchases.py) and a referrer's bonus taken back by that refund (usecases/referrals.py).
CLAW_BACK_KINDS = frozenset({"refund", "referral_clawback"})


@dataclass
class Holdings:
    """What one member's partition says: its balances and what its entries add up to."""

    member_id: str
    has_member: bool = False
    balance: int = 0
    ledger_sum: int = 0
    ledger_entries: int = 0
    pending_points: int = 0
    pending_sum: int = 0
    lowest_claw_back: int | None = None  # the lowest balance a refund left, when below zero
    lowest_other_debit: int | None = None  # the lowest balance any other debit left, when below zero
    has_wallet: bool = False
    wallet_balance: int = 0
    wallet_sum: int = 0
    wallet_entries: int = 0

    def add_ledger_entry(self, kind: str, points: int, balance_after: int, pending: int = 0) -> None:
        self.ledger_sum += points
        self.pending_sum += pending
        self.ledger_entries += 1
        if points < 0 and balance_after < 0:
            if kind in CLAW_BACK_KINDS:
                self.lowest_claw_back = min(balance_after, self.lowest_claw_back if self.lowest_claw_back is not None else 0)
            else:
                self.lowest_other_debit = min(balance_after, self.lowest_other_debit if self.lowest_other_debit is not None else 0)

    def add_wallet_entry(self, amount: int) -> None:
        self.wallet_sum += amount
        self.wallet_entries += 1


@dataclass(frozen=True)
class Drift:
    """One broken rule: `expected` is what the entries (or the rules) say, `actual` what is stored."""

    check: str  # points_sum | points_below_zero | debit_below_zero | pending_sum | pending_below_zero | wallet_sum | wallet_below_zero
    expected: int
    actual: int


def drift(holdings: Holdings) -> list[Drift]:
    """Every rule of the module docstring the member breaks; [] when its books are straight."""
    found: list[Drift] = []
    balance = holdings.balance if holdings.has_member else 0
    if holdings.ledger_sum != balance:
        found.append(Drift("points_sum", holdings.ledger_sum, balance))
    floor = holdings.lowest_claw_back if holdings.lowest_claw_back is not None else 0
    if balance < floor:
        found.append(Drift("points_below_zero", floor, balance))
    if holdings.lowest_other_debit is not None:
        found.append(Drift("debit_below_zero", 0, holdings.lowest_other_debit))
    pending = holdings.pending_points if holdings.has_member else 0
    if holdings.pending_sum != pending:
        found.append(Drift("pending_sum", holdings.pending_sum, pending))
    if pending < 0:
        found.append(Drift("pending_below_zero", 0, pending))
    wallet_balance = holdings.wallet_balance if holdings.has_wallet else 0
    if holdings.wallet_sum != wallet_balance:
        found.append(Drift("wallet_sum", holdings.wallet_sum, wallet_balance))
    if wallet_balance < 0:
        found.append(Drift("wallet_below_zero", 0, wallet_balance))
    return found
