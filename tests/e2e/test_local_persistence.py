"""`make run` keeps its data (localstage/persistence.py): stopped and started
again, or killed in the middle of a burst of purchases, the local stack comes
back with everything it answered, and every member's books still balance.
`make reset` empties it.

Each test starts its own stacks on its own state directory (the shared session
stack is not stopped).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.books import assert_every_members_books_balance
from tests.e2e.factories import (
    TIMEOUT,
    WELCOME_POINTS,
    assert_problem,
    bearer,
    ledger,
    me,
    member_with_balance,
    merchant_headers,
    new_order_id,
    purchase,
    redeem,
    signed_in_member,
)
from tests.support.stack import run_module, running_stack

pytestmark = pytest.mark.e2e


def make_reset(state_dir: Path) -> subprocess.CompletedProcess[str]:
    return run_module("localstage.stack", "--reset", "--state-dir", str(state_dir), timeout=60)


def rewards(stack: Any) -> list[dict[str, Any]]:
    return list(requests.get(stack.url("/v1/rewards"), timeout=TIMEOUT).json()["items"])


def test_given_members_rules_and_keys_when_the_stack_is_stopped_and_started_again_then_all_are_kept_and_make_reset_empties_it(tmp_path):
    with running_stack(tmp_path) as stack:
        member = member_with_balance(stack, 1000)
        assert redeem(stack, member.token, "coffee").status_code == 201
        current = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()
        changed = {"rules": {**current["rules"], "welcome_points": 150}, "reason": "persistence test"}
        assert requests.put(stack.url("/v1/admin/rules"), json=changed, timeout=TIMEOUT).status_code == 200
        issued = requests.post(stack.url("/v1/admin/merchant-keys"), json={"store_id": "kept-store"}, timeout=TIMEOUT).json()
        profile, entries, catalogue = me(stack, member.token), ledger(stack, member.token), rewards(stack)
        rules = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()
        assert profile["points"]["balance"] == WELCOME_POINTS + 1000 - 500

    with running_stack(tmp_path) as stack:
        # The member's token still works: the signing key was kept, not made anew.
        assert me(stack, member.token) == profile
        assert ledger(stack, member.token) == entries
        assert rewards(stack) == catalogue  # the coffee's stock and the rest, as they were
        assert requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json() == rules  # the version included
        bought = requests.post(
            stack.url("/v1/purchases"),
            json={"order_id": new_order_id(), "member_id": member.member_id, "amount": 5000, "currency": "CNY"},
            headers=merchant_headers(issued["api_key"]),
            timeout=TIMEOUT,
        )
        assert bought.status_code == 201, bought.text
        assert signed_in_member(stack).signed_in["member"]["points"]["balance"] == 150  # the changed rules are in force
        refused = make_reset(tmp_path)
        assert refused.returncode == 1 and "in use" in refused.stderr
        assert_every_members_books_balance(stack)

    done = make_reset(tmp_path)
    assert done.returncode == 0, done.stderr
    with running_stack(tmp_path) as stack:
        assert_problem(requests.get(stack.url("/v1/me"), headers=bearer(member.token), timeout=TIMEOUT), 401, "unauthorized")
        assert requests.get(stack.url("/v1/admin/members"), params={"phone": member.phone}, timeout=TIMEOUT).json()["items"] == []
        assert [(r["reward_id"], r["stock"]) for r in rewards(stack)] == [("coffee", None), ("tote-bag", 50), ("voucher-50", 10)]
        assert signed_in_member(stack).signed_in["member"]["points"]["balance"] == WELCOME_POINTS  # the default rules again
        assert purchase(stack, phone=member.phone, amount=100).status_code == 201  # local-dev-key, as on a first start


PURCHASE_POINTS = 7  # 700 minor units, base tier


def test_given_a_burst_of_concurrent_purchases_when_the_stack_is_killed_mid_burst_then_every_answered_one_is_kept_and_the_books_balance(tmp_path):
    with running_stack(tmp_path) as stack:
        members = [signed_in_member(stack) for _ in range(4)]
        orders = [(members[n % len(members)], new_order_id()) for n in range(200)]
        answered: set[str] = set()
        lost: list[tuple[Any, str]] = []  # in flight when the stack died: the till never heard back
        killed = threading.Event()

        def buy(order: tuple[Any, str]) -> None:
            member, order_id = order
            if killed.is_set():
                return
            try:
                reply = purchase(stack, member_id=member.member_id, amount=PURCHASE_POINTS * 100, order_id=order_id)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                # No answer, or one cut off mid-body by the kill: either way the till never heard back.
                lost.append(order)
                return
            assert reply.status_code == 201, reply.text
            answered.add(order_id)

        with ThreadPoolExecutor(max_workers=8) as pool:
            burst = [pool.submit(buy, order) for order in orders]
            deadline = time.monotonic() + 120
            while len(answered) < 40 and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(stack.pid, signal.SIGKILL)
            killed.set()
            for future in burst:
                future.result()
        assert 40 <= len(answered) < len(orders) and lost, "the kill came mid-burst, purchases in flight"
    stale = run_module("localstage.job", "reconcile", "--state-dir", str(tmp_path), timeout=60)
    assert stale.returncode == 1 and "The local stack is not running" in stale.stderr  # not a hang on its dead endpoint

    with running_stack(tmp_path) as stack:
        assert_every_members_books_balance(stack)
        for member in members:
            earned = {e["ref"] for e in ledger(stack, member.token) if e["kind"] == "earn"}
            assert {order_id for m, order_id in orders if m is member and order_id in answered} <= earned
        # The till retries what it never heard back about: each counts once, whether or not it had landed.
        for member, order_id in lost:
            retried = purchase(stack, member_id=member.member_id, amount=PURCHASE_POINTS * 100, order_id=order_id)
            assert retried.status_code in (200, 201), retried.text
        kept = answered | {order_id for _, order_id in lost}
        for member in members:
            mine = sum(1 for m, order_id in orders if m is member and order_id in kept)
            assert me(stack, member.token)["points"]["balance"] == WELCOME_POINTS + PURCHASE_POINTS * mine
        assert_every_members_books_balance(stack)
