"""Paid membership plans under concurrency, against the running local stack: purchases of a plan
for one member at once each extend it by exactly one period (a distinct payment is a distinct
purchase), the same payment sent many times at once is one purchase, wallet purchases racing on
one wallet succeed exactly as far as the money goes; and the `membership-plans` job run the way
an operator runs it (`make job`) ends the plan."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.factories import TIMEOUT, assert_problem, bearer, merchant_headers, signed_in_member
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error
from tests.support.stack import run_job

pytestmark = pytest.mark.e2e

MONTH = {
    "id": "e2e-month",
    "name": "E2E monthly",
    "fee": 1500,
    "currency": "CNY",
    "period_days": 30,
    "tier": "silver",
    "refund_window_days": 3,
    "reminder_days_before_end": 0,
}
RACE_TIMEOUT = 8 * TIMEOUT


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


@pytest.fixture(scope="module")
def month_plan(stack: Any) -> None:
    """The plan in the running stack's rules, as an operator would put it there."""
    rules = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
    rules["plans"] = [p for p in rules.get("plans", []) if p["id"] != MONTH["id"]] + [MONTH]
    reply = requests.put(stack.url("/v1/admin/rules"), json={"rules": rules, "reason": "e2e membership plan"}, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text


def till(stack: Any, member_id: str, payment_id: str) -> requests.Response:
    body = {"payment_id": payment_id, "member_id": member_id, "plan_id": MONTH["id"]}
    return requests.post(stack.url("/v1/memberships"), json=body, headers=merchant_headers(), timeout=RACE_TIMEOUT)


def me(stack: Any, token: str) -> dict[str, Any]:
    reply = requests.get(stack.url("/v1/me"), headers=bearer(token), timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.json()


def plan_kinds(stack: Any, token: str) -> list[str]:
    items = requests.get(stack.url("/v1/me/ledger"), params={"limit": 100}, headers=bearer(token), timeout=TIMEOUT).json()["items"]
    return [e["kind"] for e in reversed(items) if e["kind"].startswith("plan_")]


def test_given_ten_payments_for_one_member_at_once_then_each_extends_the_plan_by_exactly_one_period(stack, month_plan):
    member = signed_in_member(stack)
    payments = [f"PLAN-{uuid.uuid4().hex}" for _ in range(10)]

    replies = all_at_once([lambda p=p: till(stack, member.member_id, p) for p in payments], workers=10)

    assert_no_server_error(replies)
    assert [r.status_code for r in replies] == [201] * 10, [r.text[:200] for r in replies if r.status_code != 201]
    bodies = [r.json() for r in replies]
    periods = sorted((b["period"]["starts_on"], b["period"]["ends_on"]) for b in bodies)
    expected = [((today() + timedelta(days=30 * n)).isoformat(), (today() + timedelta(days=30 * n + 29)).isoformat()) for n in range(10)]
    assert periods == expected  # no period paid twice, none lost: back to back from today
    assert sorted(b["kind"] for b in bodies) == ["renewed"] * 9 + ["started"]
    view = me(stack, member.token)
    assert view["plan"]["ends_on"] == (today() + timedelta(days=299)).isoformat() and view["tier"] == "silver"
    assert sorted(plan_kinds(stack, member.token)) == ["plan_renewed"] * 9 + ["plan_started"]


def test_given_one_payment_sent_ten_times_at_once_then_it_is_one_purchase(stack, month_plan):
    member = signed_in_member(stack)
    payment = f"PLAN-{uuid.uuid4().hex}"

    replies = all_at_once([lambda: till(stack, member.member_id, payment) for _ in range(10)], workers=10)

    assert_no_server_error(replies)
    assert sorted(r.status_code for r in replies) == [200] * 9 + [201]
    assert len({r.text for r in replies}) == 1  # every answer is the one purchase's
    assert me(stack, member.token)["plan"]["ends_on"] == (today() + timedelta(days=29)).isoformat()
    assert plan_kinds(stack, member.token) == ["plan_started"]


def test_given_a_wallet_for_three_fees_when_eight_wallet_purchases_race_then_exactly_three_succeed(stack, month_plan):
    member = signed_in_member(stack)
    topup = {"topup_id": f"TU-{uuid.uuid4().hex}", "member_id": member.member_id, "amount": 3 * MONTH["fee"], "currency": "CNY"}
    assert requests.post(stack.url("/v1/wallet/topups"), json=topup, headers=merchant_headers(), timeout=TIMEOUT).status_code == 201

    def buy(key: str) -> requests.Response:
        headers = {**bearer(member.token), "Idempotency-Key": key}
        return requests.post(stack.url("/v1/me/memberships"), json={"plan_id": MONTH["id"]}, headers=headers, timeout=RACE_TIMEOUT)

    replies = all_at_once([lambda k=k: buy(k) for k in (uuid.uuid4().hex for _ in range(8))], workers=8)

    assert_no_server_error(replies)
    assert sorted(r.status_code for r in replies) == [201] * 3 + [409] * 5
    for refused in (r for r in replies if r.status_code == 409):
        assert_problem(refused, 409, "insufficient_funds")
    wallet = requests.get(stack.url("/v1/me/wallet"), headers=bearer(member.token), timeout=TIMEOUT).json()
    assert wallet["balance"] == 0 and sum(e["amount"] for e in wallet["items"]) == 0
    assert me(stack, member.token)["plan"]["ends_on"] == (today() + timedelta(days=89)).isoformat()
    assert sorted(plan_kinds(stack, member.token)) == ["plan_renewed"] * 2 + ["plan_started"]


def test_given_a_plan_when_make_job_runs_the_day_after_its_end_then_it_lapses_once(stack, month_plan):
    member = signed_in_member(stack)
    assert till(stack, member.member_id, f"PLAN-{uuid.uuid4().hex}").status_code == 201
    day_after = (today() + timedelta(days=30)).isoformat()

    status, summary, stderr = run_job(stack, "membership-plans", day_after)

    assert status == 0, stderr[-2000:]
    assert summary["members_affected"] >= 1
    view = me(stack, member.token)
    assert view["plan"] is None and view["tier"] == "member"
    assert plan_kinds(stack, member.token) == ["plan_started", "plan_lapsed"]
    again_status, _, _ = run_job(stack, "membership-plans", day_after)
    assert again_status == 0 and plan_kinds(stack, member.token) == ["plan_started", "plan_lapsed"]
