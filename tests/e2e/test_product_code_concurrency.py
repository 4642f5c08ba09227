"""Scan-to-earn codes under concurrent requests against the running local stack: the printer's
file downloads from its pre-signed URL, one code earns once however many members race for it,
a member's replays earn once, and parallel guesses never get past the attempts limit."""

from __future__ import annotations

import csv
import io
import secrets
from collections import Counter

import pytest
import requests

from tests.e2e.factories import TIMEOUT, assert_problem, balance, bearer, ledger, signed_in_member
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e

POINTS = 40


def _batch(stack, count: int) -> tuple[str, list[str]]:
    """A batch made by the operator API, and its codes read from the printer's download."""
    reply = requests.post(
        stack.url("/v1/admin/product-codes"), json={"sku": "SKU-TEA-1", "name": "乌龙茶", "points": POINTS, "count": count}, timeout=TIMEOUT
    )
    assert reply.status_code == 201, reply.text
    batch = reply.json()
    download = requests.get(batch["export"]["url"], timeout=TIMEOUT)
    assert download.status_code == 200, download.text[:300]
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(rows) == count
    return batch["batch_id"], [row["code"] for row in rows]


def _scan(stack, token: str, code: str) -> requests.Response:
    return requests.post(stack.url("/v1/me/product-codes"), json={"code": code}, headers=bearer(token), timeout=TIMEOUT)


def test_given_one_code_when_eight_members_scan_it_at_once_then_exactly_one_earns_and_the_rest_hear_it_cannot_be_used(stack):
    batch_id, (code,) = _batch(stack, 1)
    racers = [signed_in_member(stack) for _ in range(8)]
    before = {m.member_id: balance(stack, m.token) for m in racers}

    replies = all_at_once([lambda m=m: _scan(stack, m.token, code) for m in racers], workers=8)

    assert_no_server_error(replies)
    assert Counter(r.status_code for r in replies) == {201: 1, 422: 7}
    for reply in replies:
        if reply.status_code == 422:
            assert_problem(reply, 422, "invalid_product_code")
    gained = {m.member_id: balance(stack, m.token) - before[m.member_id] for m in racers}
    assert sorted(gained.values()) == [0] * 7 + [POINTS]
    winner = next(m for m in racers if gained[m.member_id] == POINTS)
    assert [e["points"] for e in ledger(stack, winner.token) if e["kind"] == "scan"] == [POINTS]
    status = requests.get(stack.url(f"/v1/admin/product-codes/{batch_id}"), timeout=TIMEOUT).json()
    assert (status["redeemed"], status["redemption_rate"]) == (1, 1.0)


def test_given_a_member_whose_app_sends_one_code_six_times_at_once_then_it_earns_once_and_every_answer_is_the_same(stack):
    _, (code,) = _batch(stack, 1)
    member = signed_in_member(stack)
    start = balance(stack, member.token)

    replies = all_at_once([lambda: _scan(stack, member.token, code) for _ in range(6)], workers=6)

    assert_no_server_error(replies)
    assert Counter(r.status_code for r in replies) == {201: 1, 200: 5}
    assert len({r.text for r in replies}) == 1
    assert balance(stack, member.token) == start + POINTS


def test_given_twenty_guesses_at_once_then_at_most_ten_are_judged_and_the_rest_are_429(stack):
    member = signed_in_member(stack)
    guesses = [f"{n:04d}-0000-0000-0000" for n in range(20)]

    replies = all_at_once([lambda g=g: _scan(stack, member.token, g) for g in guesses], workers=10)

    assert_no_server_error(replies)
    assert Counter(r.status_code for r in replies) == {422: 10, 429: 10}
    assert all(int(r.headers["Retry-After"]) > 0 for r in replies if r.status_code == 429)


def test_given_an_operator_whose_console_sends_one_batch_four_times_at_once_then_one_batch_and_one_file(stack):
    body = {"sku": "SKU-TEA-2", "name": "红茶", "points": POINTS, "count": 3}
    headers = {"Idempotency-Key": f"print-{secrets.token_hex(4)}"}

    replies = all_at_once(
        [lambda: requests.post(stack.url("/v1/admin/product-codes"), json=body, headers=headers, timeout=TIMEOUT) for _ in range(4)], workers=4
    )

    assert_no_server_error(replies)
    assert Counter(r.status_code for r in replies) == {201: 1, 200: 3}
    assert len({r.json()["batch_id"] for r in replies}) == 1
    files = {requests.get(r.json()["export"]["url"], timeout=TIMEOUT).content for r in replies}
    assert len(files) == 1
    rows = list(csv.DictReader(io.StringIO(files.pop().decode("utf-8-sig"))))
    assert len({row["code"] for row in rows}) == 3
