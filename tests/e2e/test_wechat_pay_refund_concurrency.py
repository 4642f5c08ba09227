"""Refunds of WeChat Pay top-ups against the running local stack and its fake WeChat Pay: many
operators' refund requests for one order at once make one refund, and the fake's refund
notification sent many times at once settles it once."""

from __future__ import annotations

from typing import Any

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
