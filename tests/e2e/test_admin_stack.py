"""The operator API against the running local stack: concurrent adjustments never take a
balance below zero or apply twice, and a revoked merchant key stops working at once."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.factories import (
    TIMEOUT,
    WELCOME_POINTS,
    assert_problem,
    balance,
    ledger,
    merchant_headers,
    new_order_id,
    signed_in_member,
)

pytestmark = pytest.mark.e2e


def adjust(stack, member_id: str, points: int, adjustment_id: str) -> requests.Response:
    body = {"adjustment_id": adjustment_id, "points": points, "reason": "e2e"}
    return requests.post(stack.url(f"/v1/admin/members/{member_id}/adjustments"), json=body, timeout=TIMEOUT)


def test_given_12_debits_of_20_racing_on_100_points_then_exactly_five_are_made_and_the_balance_ends_at_zero(stack):
    member = signed_in_member(stack)
    ids = [f"adj-{uuid.uuid4().hex}" for _ in range(12)]

    with ThreadPoolExecutor(max_workers=12) as pool:
        replies = list(pool.map(lambda i: adjust(stack, member.member_id, -20, i), ids))

    assert Counter(r.status_code for r in replies) == {201: 5, 409: 7}, [r.text for r in replies]
    for reply in replies:
        assert reply.headers["X-Huiyuan-Admin"] == "local-open"
        if reply.status_code == 409:
            assert_problem(reply, 409, "insufficient_points")
    assert balance(stack, member.token) == 0
    entries = ledger(stack, member.token)
    assert sum(e["points"] for e in entries) == 0
    assert [e["points"] for e in entries if e["kind"] == "adjust"] == [-20] * 5
    audit = requests.get(stack.url("/v1/admin/audit"), params={"member_id": member.member_id, "limit": 100}, timeout=TIMEOUT).json()
    assert [e["action"] for e in audit["items"]] == ["points.adjust"] * 5


def test_given_one_adjustment_sent_eight_times_at_once_then_it_is_credited_once(stack):
    member = signed_in_member(stack)
    adjustment_id = f"adj-{uuid.uuid4().hex}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: adjust(stack, member.member_id, 30, adjustment_id), range(8)))

    assert sorted(r.status_code for r in replies) == [200] * 7 + [201], [r.text for r in replies]
    assert len({r.text for r in replies}) == 1
    assert balance(stack, member.token) == WELCOME_POINTS + 30


def test_given_an_issued_key_over_http_then_it_works_until_revoked_and_then_gets_401(stack):
    member = signed_in_member(stack)
    issued = requests.post(stack.url("/v1/admin/merchant-keys"), json={"store_id": "e2e-store"}, timeout=TIMEOUT)
    assert issued.status_code == 201, issued.text
    key = issued.json()
    order = {"phone": member.phone, "amount": 1000, "currency": "CNY"}
    ok = requests.post(
        stack.url("/v1/purchases"), json={**order, "order_id": new_order_id()}, headers=merchant_headers(key["api_key"]), timeout=TIMEOUT
    )
    assert ok.status_code == 201, ok.text

    revoked = requests.delete(stack.url(f"/v1/admin/merchant-keys/{key['key_id']}"), json={"reason": "e2e"}, timeout=TIMEOUT)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = requests.post(
        stack.url("/v1/purchases"), json={**order, "order_id": new_order_id()}, headers=merchant_headers(key["api_key"]), timeout=TIMEOUT
    )
    assert_problem(refused, 401, "unauthorized")
