"""Refunds of WeChat Pay top-ups against the running local stack and its fake WeChat Pay: many
operators' refund requests for one order at once make one refund, the fake's refund
notification sent many times at once settles it once, and operators settling one payment
anomaly at once settle it once."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.factories import TIMEOUT, bearer
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error
from tests.e2e.test_wechat_pay_concurrency import bound_member_order, fake_url, wallet

pytestmark = pytest.mark.e2e


def paid_order(stack: Any, amount: int) -> tuple[Any, str]:
    member, out_trade_no = bound_member_order(stack, amount)
    paid = requests.post(f"{fake_url(stack)}/fake/pay/{out_trade_no}", json={}, timeout=4 * TIMEOUT)
    assert paid.json()["answers"] == [204], paid.text
    return member, out_trade_no


def test_given_one_paid_top_up_when_12_refunds_race_then_one_refund_is_made_and_its_notifications_settle_it_once(stack):
    member, out_trade_no = paid_order(stack, 6600)
    path = stack.url(f"/v1/admin/wechat-pay/topups/{out_trade_no}/refunds")

    def refund(key: str) -> Any:
        return lambda: requests.post(path, json={"reason": "退款"}, headers={"Idempotency-Key": key}, timeout=8 * TIMEOUT)

    # Eight operators with their own keys, and one operator's request sent four times at once
    replies = all_at_once([refund(f"op-{n}") for n in range(8)] + [refund("op-same") for _ in range(4)])

    assert_no_server_error(replies)
    made = [r for r in replies if r.status_code == 201]
    assert len(made) == 1, [(r.status_code, r.text[:120]) for r in replies]
    refused = [r for r in replies if r.status_code == 409]
    assert all(r.json()["code"] == "already_refunded" for r in refused)
    assert {r.status_code for r in replies} <= {200, 201, 409}
    out_refund_no = made[0].json()["out_refund_no"]
    assert {r.json()["out_refund_no"] for r in replies if r.status_code == 200} <= {out_refund_no}
    statement = wallet(stack, member.token)
    assert statement["balance"] == 0
    assert [(e["kind"], e["amount"]) for e in statement["items"]] == [("topup_refund", -6600), ("topup", 6600)]

    def notify() -> requests.Response:
        return requests.post(f"{fake_url(stack)}/fake/refund/{out_refund_no}", json={"status": "ABNORMAL"}, timeout=8 * TIMEOUT)

    notified = all_at_once([notify for _ in range(8)])

    assert all(r.json()["answers"] == [204] for r in notified), [r.text for r in notified]
    statement = wallet(stack, member.token)
    assert statement["balance"] == 6600  # given back once
    assert [e["kind"] for e in statement["items"]].count("refund_returned") == 1
    status = requests.get(stack.url(f"/v1/me/wallet/wechat-topups/{out_trade_no}"), headers=bearer(member.token), timeout=TIMEOUT)
    assert status.json()["status"] == "paid"


def open_anomalies(stack: Any) -> list[dict[str, Any]]:
    """Every open anomaly of the stack (oldest first), following the cursor to the end."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"status": "open", "limit": 100}
    while True:
        page = requests.get(stack.url("/v1/admin/wechat-pay/anomalies"), params=params, timeout=TIMEOUT).json()
        found += page["items"]
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


def test_given_one_anomaly_when_12_operators_settle_it_at_once_in_different_ways_then_one_settlement_wins_and_is_audited_once(stack):
    _, out_trade_no = bound_member_order(stack, 3300)
    mismatched = requests.post(f"{fake_url(stack)}/fake/pay/{out_trade_no}", json={"amount": 1}, timeout=4 * TIMEOUT)
    assert mismatched.json()["answers"] == [204], mismatched.text
    [anomaly] = [a for a in open_anomalies(stack) if a["out_trade_no"] == out_trade_no]
    path = stack.url(f"/v1/admin/wechat-pay/anomalies/{anomaly['anomaly_id']}/settle")
    ways = [("refunded_by_hand", "5030001"), ("credited_by_hand", None), ("no_action", None), ("refunded_by_hand", "5030002")]

    def settle(resolution: str, reference: str | None) -> Any:
        body = {"resolution": resolution, "reason": "并发结算", **({"reference": reference} if reference else {})}
        return lambda: requests.post(path, json=body, timeout=8 * TIMEOUT)

    replies = all_at_once([settle(*way) for way in ways for _ in range(3)])

    assert_no_server_error(replies)
    won = [r.json() for r in replies if r.status_code == 200]
    assert won and all(body == won[0] for body in won), [(r.status_code, r.text[:120]) for r in replies]
    winner = (won[0]["settlement"]["resolution"], won[0]["settlement"]["reference"])
    assert len(won) == 3  # the winning way's three copies: the same settlement answers as it is
    assert all(r.json()["code"] == "invalid_state" for r in replies if r.status_code != 200)
    day = datetime.fromisoformat(won[0]["settlement"]["settled_at"]).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    audit = requests.get(stack.url("/v1/admin/audit"), params={"day": day, "limit": 100}, timeout=TIMEOUT).json()["items"]
    settled = [e for e in audit if e["action"] == "wechat_pay.anomaly.settle" and e["target"]["id"] == anomaly["transaction_id"]]
    assert [(e["after"]["resolution"], e["after"]["reference"]) for e in settled] == [winner]
