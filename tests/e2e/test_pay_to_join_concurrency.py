"""Pay-to-join against the running local stack: the fake WeChat Pay SENDS a store's signed,
encrypted payment notifications over HTTP (`POST /fake/store-payments`), many at once; the fake
WeChat proves the payer's phone. Whatever races, a transaction earns once and an openid has one
holding, whose points join the member once."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests

from tests.e2e.factories import TIMEOUT, bearer, new_phone
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e

STORE_MCHID, STORE_ID = "1900000209", "store-e2e"


def stack_url(stack: Any, name: str) -> str:
    return str(json.loads((stack.state_dir / "stack.json").read_text())[name])


def map_store(stack: Any) -> None:
    rules = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
    rules["wechat_pay_stores"] = {**rules.get("wechat_pay_stores", {}), STORE_MCHID: STORE_ID}
    reply = requests.put(stack.url("/v1/admin/rules"), json={"rules": rules, "reason": "Pay-to-join: map the store"}, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text


def openid_of(stack: Any, user: str) -> str:
    from chalicelib.settings import get_settings
    from localstage.wechat_fake import openid_for

    return openid_for(user, get_settings().wechat_mini_program_appid)


def store_payment(stack: Any, openid: str, amount: int, **options: Any) -> requests.Response:
    body = {"sub_mchid": STORE_MCHID, "openid": openid, "amount": amount, **options}
    return requests.post(f"{stack_url(stack, 'wechat_pay')}/fake/store-payments", json=body, timeout=8 * TIMEOUT)


def bind(stack: Any, user: str) -> dict[str, Any]:
    """The payer signs in with WeChat and proves a new phone (getPhoneNumber)."""
    session = requests.post(stack.url("/v1/wechat/sessions"), json={"code": f"{user}.1"}, timeout=TIMEOUT)
    assert session.status_code == 200 and session.json()["status"] == "phone_required", session.text
    national = new_phone().removeprefix("+86")
    reply = requests.post(
        stack.url("/v1/wechat/bindings"), json={"wechat_ticket": session.json()["wechat_ticket"], "phone_code": f"phone-{national}"}, timeout=TIMEOUT
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_given_one_store_payment_notified_12_times_at_once_for_an_unbound_payer_then_it_earns_once_and_joins_once(stack):
    map_store(stack)
    user = f"p2j{secrets.token_hex(4)}"
    txid = f"4200{secrets.randbelow(10**24):024d}"

    replies = all_at_once([lambda: store_payment(stack, openid_of(stack, user), 6600, transaction_id=txid) for _ in range(12)])

    assert_no_server_error(replies)
    assert [r.json()["answers"] for r in replies] == [[204]] * 12
    joined = bind(stack, user)
    assert joined["member"]["points"]["balance"] == 100 + 66  # welcome + the payment, once
    items = requests.get(stack.url("/v1/me/ledger"), headers=bearer(joined["access_token"]), timeout=TIMEOUT).json()["items"]
    assert [(e["kind"], e["points"]) for e in items if e["kind"] in ("transfer_in", "earn")] == [("transfer_in", 66)]


def test_given_12_different_store_payments_at_once_for_one_unbound_payer_then_one_holding_keeps_them_all(stack):
    map_store(stack)
    user = f"p2j{secrets.token_hex(4)}"
    openid = openid_of(stack, user)

    replies = all_at_once([lambda: store_payment(stack, openid, 1000) for _ in range(12)])

    assert_no_server_error(replies)
    assert [r.json()["answers"] for r in replies] == [[204]] * 12
    assert len({r.json()["transaction_id"] for r in replies}) == 12
    joined = bind(stack, user)
    assert joined["member"]["points"]["balance"] == 100 + 12 * 10
    # the same payments sent again after the join earn nothing more
    paid = [r.json()["transaction_id"] for r in replies]
    again = all_at_once([lambda txid=txid: store_payment(stack, openid, 1000, transaction_id=txid) for txid in paid])
    assert_no_server_error(again)
    me = requests.get(stack.url("/v1/me"), headers=bearer(joined["access_token"]), timeout=TIMEOUT).json()
    assert me["points"]["balance"] == 100 + 12 * 10
