"""A member's points books read straight from the table (the integration tests' moto table): what
a test checks after the API has answered."""

from __future__ import annotations

from chalicelib.store import keys
from chalicelib.store.models import LedgerEntry, Member


def stored_member(member_id: str) -> Member:
    return Member.get(keys.member_pk(member_id), keys.PROFILE, consistent_read=True)


def stored_ledger(member_id: str) -> list[LedgerEntry]:
    return list(LedgerEntry.query(keys.member_pk(member_id), LedgerEntry.sk.startswith(keys.LEDGER_PREFIX)))


def balance_that_adds_up(member_id: str) -> int:
    """The stored balance, after checking that the ledger still sums to it."""
    member = stored_member(member_id)
    assert sum(int(e.points) for e in stored_ledger(member_id)) == int(member.balance)
    return int(member.balance)
