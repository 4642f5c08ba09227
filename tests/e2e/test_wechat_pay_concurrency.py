"""WeChat Pay against the running local stack and its fake WeChat Pay (localstage/wechat_pay_fake.py):
the fake SENDS signed, encrypted notifications over HTTP to the stack; the same payment notified
many times at once is credited once; a forged one is refused; each one sent is in the outbox."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests

from tests.e2e.factories import TIMEOUT, SignedInMember, bearer, new_phone
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e


def fake_url(stack: Any) -> str:
    return str(json.loads((stack.state_dir / "stack.json").read_text())["wechat_pay"])


def wechat_member(stack: Any) -> SignedInMember:
    """A member made by WeChat sign-in in the mini-program, against the stage's fake of WeChat
    (code2Session, then getPhoneNumber): the openid top-ups are paid from is bound."""
    session = requests.post(stack.url("/v1/wechat/sessions"), json={"code": f"payer{secrets.token_hex(6)}.1", "app": "mini_program"}, timeout=TIMEOUT)
    assert session.status_code == 200, session.text
    phone = new_phone()
    bound = requests.post(
        stack.url("/v1/wechat/bindings"), json={"wechat_ticket": session.json()["wechat_ticket"], "phone_code": f"phone-{phone[3:]}"}, timeout=TIMEOUT
    )
    assert bound.status_code == 200, bound.text
    body = bound.json()
    return SignedInMember(phone=phone, member_id=body["member"]["member_id"], token=body["access_token"], signed_in=body)


def bound_member_order(stack: Any, amount: int) -> tuple[Any, str]:
    member = wechat_member(stack)
    created = requests.post(stack.url("/v1/me/wallet/wechat-topups"), json={"amount": amount}, headers=bearer(member.token), timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    return member, created.json()["out_trade_no"]


def wallet(stack: Any, token: str) -> dict[str, Any]:
    reply = requests.get(stack.url("/v1/me/wallet"), headers=bearer(token), timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_given_one_payment_notified_12_times_at_once_then_the_wallet_is_credited_exactly_once(stack):
    member, out_trade_no = bound_member_order(stack, 8800)

    def notify() -> requests.Response:
        return requests.post(f"{fake_url(stack)}/fake/pay/{out_trade_no}", json={}, timeout=8 * TIMEOUT)

    replies = all_at_once([notify for _ in range(12)])

    assert_no_server_error(replies)
    answers = [r.json()["answers"] for r in replies]
    assert all(a == [204] for a in answers), answers
    assert len({r.json()["transaction_id"] for r in replies}) == 1
    statement = wallet(stack, member.token)
    assert statement["balance"] == 8800
    assert [(e["kind"], e["amount"]) for e in statement["items"]] == [("topup", 8800)]
    status = requests.get(stack.url(f"/v1/me/wallet/wechat-topups/{out_trade_no}"), headers=bearer(member.token), timeout=TIMEOUT)
    assert status.json()["status"] == "paid"
    sent = [json.loads(line) for line in stack.outbox.read_text(encoding="utf-8").splitlines()]
    assert sum(1 for m in sent if m["channel"] == "wechat-pay" and out_trade_no in m["body"]) == 12


def test_given_a_forged_or_late_notification_sent_over_http_then_it_is_refused_and_a_real_one_then_credits(stack):
    member, out_trade_no = bound_member_order(stack, 500)
    pay = f"{fake_url(stack)}/fake/pay/{out_trade_no}"

    forged = requests.post(pay, json={"forge": True}, timeout=TIMEOUT).json()["answers"]
    late = requests.post(pay, json={"age_seconds": 600}, timeout=TIMEOUT).json()["answers"]
    other_amount = requests.post(pay, json={"amount": 1}, timeout=TIMEOUT).json()["answers"]

    assert (forged, late, other_amount) == ([401], [401], [204])
    assert wallet(stack, member.token)["balance"] == 0
    assert requests.post(pay, json={"times": 2}, timeout=TIMEOUT).json()["answers"] == [204, 204]
    assert wallet(stack, member.token)["balance"] == 500
