"""Earn-rule limits under real concurrency, against the running local stack (issue 14): a
rule's budget is never exceeded by a single point under 50 purchases at once, and a per-member
daily limit holds when one member's purchases race."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.factories import TIMEOUT, balance, merchant_headers, new_order_id, new_phone, purchase, signed_in_member
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def earn_rules(stack: Any, rules: list[dict[str, Any]]) -> Iterator[None]:
    """The live rules with `rules` added, as an operator would PUT them; the rules before after."""
    before = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
    changed = {**before, "earn_rules": [*before["earn_rules"], *rules]}
    reply = requests.put(stack.url("/v1/admin/rules"), json={"rules": changed, "reason": "e2e earn rules"}, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    try:
        yield
    finally:
        requests.put(stack.url("/v1/admin/rules"), json={"rules": before, "reason": "e2e earn rules restored"}, timeout=TIMEOUT)


# Requests in flight at once (as tests/e2e/test_concurrency.py's ORDER_PAIRS_WORKERS: the local
# endpoint serialises DynamoDB calls, so more threads only add losing attempts), and a patient
# client: on a loaded 2-core machine a contended purchase can take longer than the usual 25 s.
WORKERS = 10
PATIENCE = 120


def _buy(stack: Any, **body: Any) -> requests.Response:
    body = {"order_id": new_order_id(), "currency": "CNY", **body}
    return requests.post(stack.url("/v1/purchases"), json=body, headers=merchant_headers(), timeout=PATIENCE)


def _rule_points(reply: requests.Response, rule_id: str) -> int:
    return sum(b["points"] for b in reply.json().get("breakdown", []) if b["rule_id"] == rule_id)


def _budget_given(stack: Any, rule_id: str) -> int:
    items = stack.dynamodb().query(
        TableName=stack.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"EARNBUDGET#{rule_id}"}},
        ConsistentRead=True,
    )["Items"]
    return sum(int(item["given"]["N"]) for item in items)


def test_given_a_budget_of_100_points_when_50_purchases_race_for_it_then_it_never_gives_a_point_more(stack):
    rule_id = f"e2e-budget-{uuid.uuid4().hex[:8]}"
    store = f"st-{rule_id}"
    rule = {"id": rule_id, "label": "Opening bonus", "conditions": {"stores": [store]}, "effect": {"bonus": 7}, "budget": 100}
    # Fifty members (enrolled by a first purchase elsewhere), so the race is on the budget alone.
    phones = [new_phone() for _ in range(50)]
    for phone in phones:
        assert purchase(stack, phone=phone, amount=100).status_code == 201
    with earn_rules(stack, [rule]):
        replies = all_at_once([lambda phone=phone: _buy(stack, phone=phone, amount=1_000, store_id=store) for phone in phones], workers=WORKERS)
    assert_no_server_error(replies)
    assert [r.status_code for r in replies] == [201] * 50
    for reply in replies:
        body = reply.json()
        assert body["points_earned"] == sum(b["points"] for b in body["breakdown"]) == 10 + _rule_points(reply, rule_id)
    given = sum(_rule_points(r, rule_id) for r in replies)
    assert given <= 100  # 50 x 7 = 350 wanted
    assert given == _budget_given(stack, rule_id)  # what the members got is what the shards counted
    assert given >= 100 - 7  # and the budget is spent, not stranded on its shards


def test_given_a_daily_limit_per_member_when_one_members_purchases_race_then_the_limit_holds_exactly(stack):
    rule_id = f"e2e-daily-{uuid.uuid4().hex[:8]}"
    store = f"st-{rule_id}"
    rule = {
        "id": rule_id,
        "label": "Daily visit",
        "conditions": {"stores": [store]},
        "effect": {"bonus": 30},
        "limits": {"max_points_per_member_per_day": 100},
    }
    member = signed_in_member(stack)
    start = balance(stack, member.token)
    with earn_rules(stack, [rule]):
        replies = all_at_once([lambda: _buy(stack, member_id=member.member_id, amount=1_000, store_id=store) for _ in range(20)], workers=WORKERS)
    assert_no_server_error(replies)
    assert [r.status_code for r in replies] == [201] * 20
    assert sum(_rule_points(r, rule_id) for r in replies) == 100  # 20 x 30 wanted
    assert balance(stack, member.token) == start + 20 * 10 + 100
