"""The reconcile routine (chalicelib/usecases/reconcile.py) over the running local
stack's table: every member's ledger and wallet add up to their balances."""

from __future__ import annotations

import json
from typing import Any

import boto3

from chalicelib.usecases.reconcile import Report, reconcile_table
from tests.e2e.conftest import ROOT


def stack_table(stack: Any) -> tuple[Any, str]:
    """A DynamoDB client on the stack's embedded endpoint, and the local stage's table name."""
    endpoint = json.loads((stack.state_dir / "stack.json").read_text())["aws_endpoint"]
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    table_name = config["stages"]["local"]["environment_variables"]["TABLE_NAME"]
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")
    return client, table_name


def assert_every_members_books_balance(stack: Any) -> Report:
    """Zero drift for every member of the stack (every test's so far), none left unsettled."""
    report = reconcile_table(*stack_table(stack))
    assert report.drifting == {}, f"{len(report.drifting)} of {report.members_checked} members drift: {dict(list(report.drifting.items())[:5])}"
    assert report.unsettled == []
    return report
