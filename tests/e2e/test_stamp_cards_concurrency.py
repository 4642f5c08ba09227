"""Stamp cards under real concurrency, against the running local stack (issue 14 item 5): twelve
purchases of one coffee each, racing (and each sent twice, as a till retrying), on a ten-stamp
card give exactly one coupon and two stamps."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.factories import TIMEOUT, merchant_headers, new_order_id, signed_in_member
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e

WORKERS = 10
PATIENCE = 120
CARD = {"id": "e2e-coffee", "name": "Tenth coffee free", "categories": ["coffee"], "stamps_needed": 10, "reward_id": "coffee"}


@contextlib.contextmanager
def stamp_cards(stack: Any, cards: list[dict[str, Any]]) -> Iterator[None]:
    """The live rules with `cards` as the stamp cards, as an operator would PUT them; the rules before after."""
    before = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
    reply = requests.put(stack.url("/v1/admin/rules"), json={"rules": {**before, "stamp_cards": cards}, "reason": "e2e stamp cards"}, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    try:
        yield
    finally:
        requests.put(stack.url("/v1/admin/rules"), json={"rules": before, "reason": "e2e stamp cards restored"}, timeout=TIMEOUT)


def test_given_a_ten_stamp_card_when_twelve_one_coffee_purchases_race_and_are_retried_then_exactly_one_coupon_and_two_stamps(stack):
    member = signed_in_member(stack)
    orders = [new_order_id() for _ in range(12)]

    def buy(order_id: str) -> requests.Response:
        body = {
            "order_id": order_id,
            "member_id": member.member_id,
            "amount": 3_000,
            "currency": "CNY",
            "items": [{"sku": "latte", "category": "coffee", "quantity": 1, "amount": 3_000}],
        }
        return requests.post(stack.url("/v1/purchases"), json=body, headers=merchant_headers(), timeout=PATIENCE)

    with stamp_cards(stack, [CARD]):
        # Every order twice, the copies racing each other and the other orders.
        replies = all_at_once([lambda order_id=order_id: buy(order_id) for order_id in orders * 2], workers=WORKERS)
        me = requests.get(stack.url("/v1/me"), headers={"authorization": f"Bearer {member.token}"}, timeout=TIMEOUT).json()
        coupons = requests.get(stack.url("/v1/me/coupons"), headers={"authorization": f"Bearer {member.token}"}, timeout=TIMEOUT).json()
    assert_no_server_error(replies)
    assert sorted(r.status_code for r in replies) == [200] * 12 + [201] * 12
    first = [r for r in replies if r.status_code == 201]
    assert sum(r.json()["stamps"][0]["added"] for r in first) == 12
    assert sum(r.json()["stamps"][0]["coupons_issued"] for r in first) == 1
    (card,) = [c for c in me["stamp_cards"] if c["card_id"] == "e2e-coffee"]
    assert card["stamps"] == 2
    assert [c["reward_id"] for c in coupons["items"] if c["kind"] == "stamp_card"] == ["coffee"]


def test_given_an_online_hold_when_twelve_online_coffees_race_and_are_retried_then_twelve_stamps_wait_and_the_job_gives_one_coupon_once(stack):
    import json
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from tests.support.stack import run_module

    member = signed_in_member(stack)
    orders = [new_order_id() for _ in range(12)]
    me_url, auth = stack.url("/v1/me"), {"authorization": f"Bearer {member.token}"}

    def buy(order_id: str) -> requests.Response:
        body = {
            "order_id": order_id,
            "member_id": member.member_id,
            "amount": 3_000,
            "currency": "CNY",
            "channel": "online",
            "items": [{"sku": "latte", "category": "coffee", "quantity": 1, "amount": 3_000}],
        }
        return requests.post(stack.url("/v1/purchases"), json=body, headers=merchant_headers(), timeout=PATIENCE)

    def release(as_of: str) -> dict[str, Any]:
        done = run_module("localstage.job", "release-pending-points", as_of, "--state-dir", str(stack.state_dir), timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout[done.stdout.index("{\n") :])

    before = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
    held = {**before, "pending_points": [{"channel": "online", "hold_days": 7}]}
    assert requests.put(stack.url("/v1/admin/rules"), json={"rules": held, "reason": "e2e hold"}, timeout=TIMEOUT).status_code == 200
    try:
        with stamp_cards(stack, [CARD]):
            replies = all_at_once([lambda order_id=order_id: buy(order_id) for order_id in orders * 2], workers=WORKERS)
            waiting = requests.get(me_url, headers=auth, timeout=TIMEOUT).json()
            release_on = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=7)).isoformat()
            first, again = release(release_on), release(release_on)
            after = requests.get(me_url, headers=auth, timeout=TIMEOUT).json()
            coupons = requests.get(stack.url("/v1/me/coupons"), headers=auth, timeout=TIMEOUT).json()
    finally:
        requests.put(stack.url("/v1/admin/rules"), json={"rules": before, "reason": "e2e hold restored"}, timeout=TIMEOUT)
    assert_no_server_error(replies)
    assert sorted(r.status_code for r in replies) == [200] * 12 + [201] * 12
    assert waiting["stamps_pending"] == [{"card_id": "e2e-coffee", "stamps": 12, "available_on": release_on}]
    assert [c["stamps"] for c in waiting["stamp_cards"] if c["card_id"] == "e2e-coffee"] == [0]
    assert first["members_affected"] >= 1 and again["members_affected"] == 0  # a rerun releases nothing
    assert after["stamps_pending"] == [] and [c["stamps"] for c in after["stamp_cards"] if c["card_id"] == "e2e-coffee"] == [2]
    assert [c["reward_id"] for c in coupons["items"] if c["kind"] == "stamp_card"] == ["coffee"]
