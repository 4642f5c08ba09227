"""Refunds racing the `release-pending-points` job (`make job`, the CLI path) on the same orders,
against the running local stack: each order's points end up either cancelled while pending or
made available and then reversed, never both and never neither."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.books import assert_every_members_books_balance
from tests.e2e.factories import TIMEOUT, WELCOME_POINTS, ledger, me, new_order_id, purchase, refund, signed_in_member
from tests.support.stack import run_module

pytestmark = pytest.mark.e2e

MEMBERS, ORDERS_EACH, POINTS_EACH = 4, 4, 100


def _put_rules(stack: Any, rules: dict[str, Any], reason: str) -> None:
    reply = requests.put(stack.url("/v1/admin/rules"), json={"rules": rules, "reason": reason}, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text


def _job(stack: Any, as_of: str) -> dict[str, Any]:
    done = run_module("localstage.job", "release-pending-points", as_of, "--state-dir", str(stack.state_dir), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout[done.stdout.index("{\n") :])


def test_given_held_orders_when_their_refunds_race_the_release_job_then_each_is_cancelled_or_released_and_reversed_never_both(stack):
    before = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
    _put_rules(stack, {**before, "pending_points": [{"channel": "online", "hold_days": 7}]}, "test: 7-day online return window")
    try:
        people = [signed_in_member(stack) for _ in range(MEMBERS)]
        orders: dict[str, Any] = {}
        for person in people:
            for _ in range(ORDERS_EACH):
                order_id = new_order_id()
                reply = purchase(stack, phone=person.phone, amount=POINTS_EACH * 100, order_id=order_id, channel="online")
                assert reply.status_code == 201 and reply.json()["points_pending"] == POINTS_EACH, reply.text
                orders[order_id] = person
    finally:
        _put_rules(stack, before, "test: rules as they were")
    release_on = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=7)).isoformat()

    # The job and the refunds at once: the refunds spread over the seconds the job takes.
    summary: dict[str, Any] = {}
    job = threading.Thread(target=lambda: summary.update(_job(stack, release_on)))
    job.start()

    def refund_later(n: int, order_id: str) -> requests.Response:
        time.sleep(0.4 * n)
        return refund(stack, order_id, amount=POINTS_EACH * 100)

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda pair: refund_later(*pair), enumerate(orders)))
    job.join(timeout=300)
    assert not job.is_alive()
    assert [r.status_code for r in replies] == [201] * len(orders), [r.text[:200] for r in replies if r.status_code != 201]

    outcomes: Counter[str] = Counter()
    for person in people:
        state = me(stack, person.token)["points"]
        assert (state["balance"], state["pending_points"], state["pending"]) == (WELCOME_POINTS, 0, [])
        entries = ledger(stack, person.token)
        released = sum(e["points"] for e in entries if e["kind"] == "points_available")
        for order_id in (o for o, p in orders.items() if p is person):
            kinds = sorted(e["kind"] for e in entries if e["ref"] == order_id)
            assert kinds in (["earn_pending", "pending_cancelled"], ["earn_pending", "refund"]), (order_id, kinds)
            outcomes[kinds[1]] += 1
        reversed_ = -sum(e["points"] for e in entries if e["kind"] == "refund")
        cancelled = -sum(e.get("pending", 0) for e in entries if e["kind"] == "pending_cancelled")
        assert released == reversed_ and cancelled + released == ORDERS_EACH * POINTS_EACH
    assert sum(outcomes.values()) == len(orders)
    assert summary["points_moved"] == POINTS_EACH * outcomes["refund"]
    assert _job(stack, release_on)["members_affected"] == 0  # a rerun releases nothing
    assert_every_members_books_balance(stack)
