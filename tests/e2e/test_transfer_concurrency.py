"""Points transfers under concurrent requests against the running local stack: 50 transfers
racing from one 100-point balance never move more than 100 points, one Idempotency-Key moves
points once however many copies race, and never a 5xx; every member's books still balance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.books import assert_every_members_books_balance
from tests.e2e.factories import TIMEOUT, WELCOME_POINTS, assert_problem, balance, bearer, ledger, new_idempotency_key, signed_in_member
from tests.e2e.test_actions_concurrency import _put_rules
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e

OPEN = {"enabled": True, "min_points": 1, "max_points": 1000, "max_points_per_day": 100_000, "max_transfers_per_day": 100, "min_balance_kept": 0}


@pytest.fixture(scope="module")
def transfers_open(stack: Any) -> Iterator[None]:
    before = _put_rules(stack, {"transfers": OPEN}, "transfer tests")
    yield
    _put_rules(stack, {"transfers": before["transfers"]}, "transfer tests over")


def _transfer(stack: Any, token: str, to_phone: str, points: int, key: str) -> requests.Response:
    headers = {**bearer(token), "Idempotency-Key": key}
    return requests.post(stack.url("/v1/me/transfers"), json={"to_phone": to_phone, "points": points}, headers=headers, timeout=TIMEOUT)


def test_given_100_points_when_50_transfers_of_30_race_then_exactly_three_move_and_no_point_is_spent_twice(stack, transfers_open):
    sender = signed_in_member(stack)
    receivers = [signed_in_member(stack) for _ in range(5)]
    assert balance(stack, sender.token) == WELCOME_POINTS == 100

    calls = [lambda n=n: _transfer(stack, sender.token, receivers[n % 5].phone, 30, new_idempotency_key()) for n in range(50)]
    replies = all_at_once(calls, workers=50)

    assert_no_server_error(replies)
    statuses = Counter(r.status_code for r in replies)
    assert statuses == {201: 3, 409: 47}, statuses
    for reply in replies:
        if reply.status_code == 409:
            assert_problem(reply, 409, "insufficient_points")
    assert sorted(r.json()["balance"] for r in replies if r.status_code == 201) == [10, 40, 70]
    assert balance(stack, sender.token) == 10
    assert [e["points"] for e in ledger(stack, sender.token) if e["kind"] == "transfer_out"] == [-30] * 3
    received = sum(balance(stack, r.token) - WELCOME_POINTS for r in receivers)
    assert received == 90
    assert sum(e["points"] for r in receivers for e in ledger(stack, r.token) if e["kind"] == "transfer_in") == 90
    assert_every_members_books_balance(stack)


def test_given_one_key_when_eight_copies_of_a_transfer_race_then_the_points_move_once_and_every_answer_is_the_first(stack, transfers_open):
    sender = signed_in_member(stack)
    receiver = signed_in_member(stack)
    key = new_idempotency_key()

    replies = all_at_once([lambda: _transfer(stack, sender.token, receiver.phone, 25, key) for _ in range(8)], workers=8)

    assert_no_server_error(replies)
    assert sorted(r.status_code for r in replies) == [200] * 7 + [201]
    assert len({r.json()["transfer_id"] for r in replies}) == 1
    assert balance(stack, sender.token) == WELCOME_POINTS - 25
    assert balance(stack, receiver.token) == WELCOME_POINTS + 25


def test_given_two_members_when_they_send_to_each_other_at_once_then_both_books_balance(stack, transfers_open):
    a, b = signed_in_member(stack), signed_in_member(stack)

    calls = [
        lambda n=n: (
            _transfer(stack, a.token, b.phone, 10, new_idempotency_key()) if n % 2 else _transfer(stack, b.token, a.phone, 10, new_idempotency_key())
        )
        for n in range(20)
    ]
    replies = all_at_once(calls, workers=20)

    assert_no_server_error(replies)
    assert {r.status_code for r in replies} <= {201, 409}
    assert balance(stack, a.token) + balance(stack, b.token) == 2 * WELCOME_POINTS
    assert_every_members_books_balance(stack)
