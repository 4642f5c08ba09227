"""The reconcile routine (chalicelib/usecases/reconcile.py) over the running local
stack's table: every member's ledger and wallet add up to their balances."""

from __future__ import annotations

from typing import Any

from chalicelib.usecases.reconcile import Report, reconcile_table
from tests.support.stack import RunningStack


def stack_table(stack: RunningStack) -> tuple[Any, str]:
    """A DynamoDB client on the stack's embedded endpoint, and the local stage's table name."""
    return stack.dynamodb(), stack.table_name


def assert_every_members_books_balance(stack: RunningStack) -> Report:
    """Zero drift for every member of the stack (every test's so far), none left unsettled."""
    report = reconcile_table(*stack_table(stack))
    assert report.drifting == {}, f"{len(report.drifting)} of {report.members_checked} members drift: {dict(list(report.drifting.items())[:5])}"
    assert report.unsettled == []
    return report
