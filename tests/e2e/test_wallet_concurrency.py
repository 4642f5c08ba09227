"""Stored value under concurrency, against the running local stack: many payments on
one wallet at once never overdraw it, a payment sent many times at once is applied
once, refunds racing on one payment never add up to more than it, and the
statement always adds up to the balance."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.e2e.books import assert_every_members_books_balance
from tests.e2e.factories import TIMEOUT, assert_problem, bearer, merchant_headers, signed_in_member
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e

PRICE = 700  # ¥7.00 a coffee
# moto deep-copies the whole table for every TransactWriteItems (~90 ms on a small
# table, more as the shared stack's table grows), and the local endpoint runs one
# call at a time: a 50-way race on one wallet is minutes of serialised work here
# that DynamoDB does in well under a second. The race tests wait that long; what
# they prove is the outcome, not the local latency.
RACE_TIMEOUT = 8 * TIMEOUT


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def topup(stack: Any, member_id: str, amount: int, topup_id: str | None = None) -> requests.Response:
    body = {"topup_id": topup_id or new_id("top"), "member_id": member_id, "amount": amount, "currency": "CNY"}
    return requests.post(stack.url("/v1/wallet/topups"), json=body, headers=merchant_headers(), timeout=TIMEOUT)


def pay(stack: Any, member_id: str, amount: int, payment_id: str | None = None, timeout: float = TIMEOUT) -> requests.Response:
    body = {"payment_id": payment_id or new_id("pay"), "member_id": member_id, "amount": amount, "currency": "CNY"}
    return requests.post(stack.url("/v1/wallet/payments"), json=body, headers=merchant_headers(), timeout=timeout)


def refund(stack: Any, payment_id: str, amount: int, refund_id: str | None = None) -> requests.Response:
    body = {"refund_id": refund_id or new_id("rfd"), "amount": amount}
    return requests.post(stack.url(f"/v1/wallet/payments/{payment_id}/refunds"), json=body, headers=merchant_headers(), timeout=TIMEOUT)


def statement(stack: Any, token: str) -> tuple[int, list[dict[str, Any]]]:
    """The balance and every entry, newest first, following next_cursor to the end."""
    entries: list[dict[str, Any]] = []
    cursor, balance = None, None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        reply = requests.get(stack.url("/v1/me/wallet"), headers=bearer(token), params=params, timeout=TIMEOUT)
        assert reply.status_code == 200, reply.text
        page = reply.json()
        balance = page["balance"] if balance is None else balance
        entries.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            assert balance is not None
            return balance, entries
    raise AssertionError("the statement's cursor never ended")


def assert_statement_adds_up(balance: int, entries: list[dict[str, Any]]) -> None:
    assert sum(e["amount"] for e in entries) == balance
    assert all(e["balance_after"] >= 0 for e in entries)
    running = 0
    for entry in reversed(entries):  # oldest first: every balance_after is exact
        running += entry["amount"]
        assert entry["balance_after"] == running, entry


@pytest.mark.parametrize("at_once", [20, 50])
def test_given_a_wallet_for_some_coffees_when_payments_race_then_exactly_the_affordable_ones_succeed(stack, at_once):
    member = signed_in_member(stack)
    affordable = at_once * 2 // 3
    start = PRICE * affordable + 150  # a little left over, never enough for one more
    assert topup(stack, member.member_id, start).status_code == 201
    payment_ids = [new_id("pay") for _ in range(at_once)]

    replies = all_at_once([lambda pid=pid: pay(stack, member.member_id, PRICE, pid, RACE_TIMEOUT) for pid in payment_ids], workers=at_once)

    assert_no_server_error(replies)
    statuses = Counter(r.status_code for r in replies)
    assert statuses == {201: affordable, 409: at_once - affordable}, statuses
    for reply in replies:
        if reply.status_code == 409:
            assert_problem(reply, 409, "insufficient_funds")
    paid = [r.json() for r in replies if r.status_code == 201]
    assert sorted(p["balance"] for p in paid) == [start - PRICE * n for n in range(affordable, 0, -1)]
    balance, entries = statement(stack, member.token)
    assert balance == 150
    assert Counter(e["kind"] for e in entries) == {"topup": 1, "payment": affordable}
    assert {e["ref"] for e in entries if e["kind"] == "payment"} == {p["payment_id"] for p in paid}
    assert_statement_adds_up(balance, entries)
    assert_every_members_books_balance(stack)


def test_given_one_payment_sent_ten_times_at_once_then_it_is_debited_once_and_every_answer_is_the_same(stack):
    member = signed_in_member(stack)
    assert topup(stack, member.member_id, 10000).status_code == 201
    payment_id = new_id("pay")

    replies = all_at_once([lambda: pay(stack, member.member_id, 2500, payment_id) for _ in range(10)], workers=10)

    assert_no_server_error(replies)
    assert sorted(r.status_code for r in replies) == [200] * 9 + [201], [r.text for r in replies]
    assert len({r.text for r in replies}) == 1
    assert replies[0].json()["balance"] == 7500
    assert sum(1 for r in replies if r.headers.get("Idempotent-Replayed") == "true") == 9
    balance, entries = statement(stack, member.token)
    assert balance == 7500
    assert [e["ref"] for e in entries if e["kind"] == "payment"] == [payment_id]
    assert_statement_adds_up(balance, entries)


def test_given_one_topup_sent_ten_times_at_once_then_it_is_credited_once(stack):
    member = signed_in_member(stack)
    topup_id = new_id("top")

    replies = all_at_once([lambda: topup(stack, member.member_id, 8800, topup_id) for _ in range(10)], workers=10)

    assert_no_server_error(replies)
    assert sorted(r.status_code for r in replies) == [200] * 9 + [201], [r.text for r in replies]
    assert len({r.text for r in replies}) == 1
    balance, entries = statement(stack, member.token)
    assert balance == 8800 and len(entries) == 1


def test_given_refunds_of_one_payment_racing_then_they_never_add_up_to_more_than_the_payment(stack):
    member = signed_in_member(stack)
    assert topup(stack, member.member_id, 10000).status_code == 201
    payment = pay(stack, member.member_id, 5000)
    assert payment.status_code == 201
    payment_id = payment.json()["payment_id"]

    replies = all_at_once([lambda: refund(stack, payment_id, 1000) for _ in range(10)], workers=10)

    assert_no_server_error(replies)
    assert Counter(r.status_code for r in replies) == {201: 5, 409: 5}
    for reply in replies:
        if reply.status_code == 409:
            assert_problem(reply, 409, "refund_exceeds_purchase")
    balance, entries = statement(stack, member.token)
    assert balance == 10000
    assert_statement_adds_up(balance, entries)


def test_given_top_ups_and_payments_interleaved_then_nothing_is_lost(stack):
    member = signed_in_member(stack)
    assert topup(stack, member.member_id, 3000).status_code == 201
    calls: list[Callable[[], requests.Response]] = []
    for _ in range(10):
        calls.append(lambda: topup(stack, member.member_id, 1000))
        calls.append(lambda: pay(stack, member.member_id, 1000))

    replies = all_at_once(calls, workers=20)

    assert_no_server_error(replies)
    topped = [r for r in replies[0::2]]
    paid = [r for r in replies[1::2] if r.status_code == 201]
    assert [r.status_code for r in topped] == [201] * 10
    assert all(r.status_code in (201, 409) for r in replies[1::2])
    balance, entries = statement(stack, member.token)
    assert balance == 3000 + 10 * 1000 - 1000 * len(paid)
    assert_statement_adds_up(balance, entries)
