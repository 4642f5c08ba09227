"""WeChat Pay top-ups through the API, in-process under moto, against the fake WeChat Pay on
loopback (localstage/wechat_pay_fake.py) that checks our signatures and signs and encrypts its
notifications; each notification is handed to the API as WeChat Pay would POST it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.domain.rules import TopupBonus
from chalicelib.settings import get_settings
from chalicelib.store.wechat_pay import anomalies_of
from localstage.bootstrap import fake_wechat_pay_secret_name
from localstage.wechat_fake import openid_for
from localstage.wechat_pay_fake import FakeKeys, FakeWeChatPay
from tests.conftest import WECHAT_PAY_FAKE_PORT
from tests.integration.conftest import bearer
from tests.integration.test_wallet import assert_problem, statement, stored_balance, use_rules
from tests.support.outbox import last_code

NOTIFICATIONS = "/v1/wechat-pay/notifications"


@pytest.fixture
def fake(aws: Any) -> Iterator[FakeWeChatPay]:
    raw = aws.client("secretsmanager").get_secret_value(SecretId=fake_wechat_pay_secret_name(get_settings()))["SecretString"]
    server = FakeWeChatPay(FakeKeys.from_json(raw), port=WECHAT_PAY_FAKE_PORT).start()
    yield server
    server.stop()


def wechat_member(api, user: str | None = None) -> tuple[str, str]:
    """A member made by WeChat sign-in in the mini-program (code2Session, then getPhoneNumber
    against the fake of WeChat): (token, member_id), the openid bound."""
    user = user or f"payer{secrets.token_hex(4)}"
    session = api.post("/v1/wechat/sessions", {"code": f"{user}.1", "app": "mini_program"})
    assert session.status == 200, session.text
    phone_code = f"phone-138{secrets.randbelow(10**8):08d}"
    bound = api.post("/v1/wechat/bindings", {"wechat_ticket": session.json()["wechat_ticket"], "phone_code": phone_code})
    assert bound.status == 200, bound.text
    return bound.json()["access_token"], bound.json()["member"]["member_id"]


@pytest.fixture
def payer(api, wechat):
    """A member signed in with WeChat, so their mini-program openid is bound: (token, member_id)."""
    return wechat_member(api)


def order(api, token: str, amount: int) -> dict[str, Any]:
    reply = api.post("/v1/me/wallet/wechat-topups", {"amount": amount}, headers=bearer(token))
    assert reply.status == 201, reply.text
    return reply.json()


def deliver(api, notification: tuple[dict[str, str], str]):
    headers, body = notification
    return api.request("POST", NOTIFICATIONS, body=body.encode(), headers=dict(headers))


def status_of(api, token: str, out_trade_no: str) -> dict[str, Any]:
    reply = api.get(f"/v1/me/wallet/wechat-topups/{out_trade_no}", headers=bearer(token))
    assert reply.status == 200, reply.text
    return reply.json()


def test_given_a_bound_member_when_ordering_a_top_up_then_wechat_pay_has_the_order_and_the_app_gets_signed_payment_params(api, fake, wechat):
    token, _ = wechat_member(api, "erin")
    body = order(api, token, 30000)

    assert body["status"] == "created" and body["amount"] == 30000 and body["currency"] == "CNY"
    params = body["payment"]
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["signType"] == "RSA"
    assert params["package"] == f"prepay_id={fake.orders[body['out_trade_no']].prepay_id}"
    assert fake.orders[body["out_trade_no"]].amount == 30000
    # Paid from the openid WeChat sign-in bound, in the one mini-program sign-in uses
    mini = get_settings().wechat_mini_program_appid
    assert fake.orders[body["out_trade_no"]].openid == openid_for("erin", mini)
    assert fake.orders[body["out_trade_no"]].appid == params["appId"] == mini
    assert status_of(api, token, body["out_trade_no"])["status"] == "created"


def test_given_bonus_rules_when_wechat_pay_notifies_the_payment_then_the_wallet_is_credited_once_with_the_bonus(api, aws, fake, payer):
    use_rules(aws, topup_bonuses=(TopupBonus(min_amount=50000, bonus=5000),))
    token, member_id = payer
    out_trade_no = order(api, token, 50000)["out_trade_no"]

    notification = fake.notification(out_trade_no)
    first, again, third = deliver(api, notification), deliver(api, notification), deliver(api, fake.notification(out_trade_no))

    assert [first.status, again.status, third.status] == [204, 204, 204]
    assert stored_balance(member_id) == 55000
    kinds = [(e["kind"], e["amount"], e["ref"]) for e in statement(api, token)["items"]]
    assert kinds == [("bonus", 5000, out_trade_no), ("topup", 50000, out_trade_no)]
    paid = status_of(api, token, out_trade_no)
    assert paid["status"] == "paid" and paid["bonus"] == 5000
    assert paid["transaction_id"] == fake.orders[out_trade_no].transaction_id


def test_given_a_forged_signature_then_401_and_nothing_is_credited(api, fake, payer):
    token, member_id = payer
    out_trade_no = order(api, token, 10000)["out_trade_no"]

    assert_problem(deliver(api, fake.notification(out_trade_no, forge=True)), 401, "invalid_signature")
    headers, body = fake.notification(out_trade_no)
    tampered = body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" ')
    assert_problem(deliver(api, (headers, tampered)), 401, "invalid_signature")
    assert_problem(deliver(api, ({**headers, "Wechatpay-Serial": "PUB_KEY_ID_other"}, body)), 401, "invalid_signature")
    unsigned = {k: v for k, v in headers.items() if k != "Wechatpay-Signature"}
    assert_problem(deliver(api, (unsigned, body)), 401, "invalid_signature")

    assert stored_balance(member_id) == 0
    assert status_of(api, token, out_trade_no)["status"] == "created"


def test_given_a_notification_older_than_five_minutes_then_it_is_refused_even_with_a_good_signature(api, fake, payer):
    token, member_id = payer
    out_trade_no = order(api, token, 10000)["out_trade_no"]

    assert_problem(deliver(api, fake.notification(out_trade_no, age_seconds=301)), 401, "invalid_signature")
    assert stored_balance(member_id) == 0
    assert deliver(api, fake.notification(out_trade_no, age_seconds=200)).status == 204
    assert stored_balance(member_id) == 10000


def test_given_a_verified_payment_of_another_merchant_then_400_and_nothing_is_credited(api, fake, payer):
    from dataclasses import replace

    token, member_id = payer
    out_trade_no = order(api, token, 10000)["out_trade_no"]
    ours = fake.keys
    fake.keys = replace(ours, mchid="1900009999")  # signed and encrypted as WeChat Pay would, for another merchant

    assert_problem(deliver(api, fake.notification(out_trade_no)), 400, "validation_error")
    assert stored_balance(member_id) == 0 and status_of(api, token, out_trade_no)["status"] == "created"
    fake.keys = ours
    assert deliver(api, fake.notification(out_trade_no)).status == 204  # ours, then: credited
    assert stored_balance(member_id) == 10000


def test_given_a_resource_not_encrypted_with_our_apiv3_key_then_it_is_refused(api, fake, payer):
    from dataclasses import replace

    token, member_id = payer
    out_trade_no = order(api, token, 10000)["out_trade_no"]
    fake.keys = replace(fake.keys, apiv3_key="0" * 32)

    assert_problem(deliver(api, fake.notification(out_trade_no)), 401, "invalid_signature")
    assert stored_balance(member_id) == 0


def test_given_a_notified_amount_other_than_the_order_then_nothing_is_credited_and_operators_have_the_anomaly(api, fake, payer):
    token, member_id = payer
    out_trade_no = order(api, token, 10000)["out_trade_no"]

    reply = deliver(api, fake.notification(out_trade_no, amount=1))

    assert reply.status == 204  # handled: sending it again would not change the amount
    assert stored_balance(member_id) == 0
    assert status_of(api, token, out_trade_no)["status"] == "created"
    assert [(a.reason, int(a.order_amount), int(a.notified_amount)) for a in anomalies_of(out_trade_no)] == [("amount_mismatch", 10000, 1)]


def test_given_a_notification_before_the_order_is_written_then_it_is_answered_for_a_retry_and_credited_once_the_order_exists(api, aws, fake, payer):
    token, member_id = payer
    out_trade_no = order(api, token, 20000)["out_trade_no"]
    # As if WeChat Pay's notification overtook our write of the order: take the order away...
    dynamodb, table = aws.client("dynamodb"), get_settings().table_name
    written = dynamodb.get_item(TableName=table, Key=_order_key(out_trade_no), ConsistentRead=True)["Item"]
    dynamodb.delete_item(TableName=table, Key=_order_key(out_trade_no))
    notification = fake.notification(out_trade_no)

    assert_problem(deliver(api, notification), 404, "order_not_found")
    assert stored_balance(member_id) == 0

    dynamodb.put_item(TableName=table, Item=written)  # ...the write lands; WeChat Pay retries
    assert deliver(api, notification).status == 204
    assert stored_balance(member_id) == 20000


def _order_key(out_trade_no: str) -> dict[str, Any]:
    from chalicelib.store import table
    from chalicelib.store.wechat_pay import order_key

    pk, sk = order_key(out_trade_no)
    return {table.HASH_KEY: {"S": pk}, table.RANGE_KEY: {"S": sk}}


def test_given_a_second_transaction_for_a_paid_order_then_it_is_not_credited_and_is_kept_for_operators(api, fake, payer):
    token, member_id = payer
    out_trade_no = order(api, token, 10000)["out_trade_no"]
    assert deliver(api, fake.notification(out_trade_no)).status == 204

    assert deliver(api, fake.notification(out_trade_no, transaction_id="4200000000000000000000000001")).status == 204

    assert stored_balance(member_id) == 10000
    assert [a.reason for a in anomalies_of(out_trade_no)] == ["already_paid"]


def test_given_no_wechat_account_bound_then_409_and_no_order_is_made(api, fake, members, wechat):
    token, _ = members.verified()
    assert_problem(api.post("/v1/me/wallet/wechat-topups", {"amount": 100}, headers=bearer(token)), 409, "wechat_not_bound")
    assert fake.orders == {}


def test_given_a_member_who_unbound_wechat_or_bound_only_the_official_account_then_409_wechat_not_bound(
    api, fake, wechat, payer, members, outbox_path
):
    token, _ = payer
    assert api.request("DELETE", "/v1/me/wechat", headers=bearer(token)).status == 200
    assert_problem(api.post("/v1/me/wallet/wechat-topups", {"amount": 100}, headers=bearer(token)), 409, "wechat_not_bound")
    # An openid of the official account's pages is not one a mini-program order can be paid from
    session = api.post("/v1/wechat/sessions", {"code": "olive.1", "app": "official_account"})
    phone = members.signed_up()
    bound = api.post("/v1/wechat/bindings", {"wechat_ticket": session.json()["wechat_ticket"], "phone": phone, "code": last_code(outbox_path, phone)})
    assert bound.status == 200, bound.text
    official = bound.json()["access_token"]
    assert_problem(api.post("/v1/me/wallet/wechat-topups", {"amount": 100}, headers=bearer(official)), 409, "wechat_not_bound")
    assert fake.orders == {}


def test_given_wechat_pay_refusing_the_order_then_502_and_the_order_is_failed(api, fake, payer):
    token, _ = payer
    fake.fail_next_order = "SYSTEM_ERROR"
    assert_problem(api.post("/v1/me/wallet/wechat-topups", {"amount": 100}, headers=bearer(token)), 502, "payment_provider_error")


@pytest.mark.parametrize("amount", [0, -1, 1.5, "100", True, 5_000_001])
def test_given_a_bad_amount_then_400_naming_it(api, fake, payer, amount):
    token, _ = payer
    body = assert_problem(api.post("/v1/me/wallet/wechat-topups", {"amount": amount}, headers=bearer(token)), 400, "validation_error")
    assert any(e["field"] == "amount" for e in body["errors"])
    assert fake.orders == {}


def test_given_another_members_order_then_its_status_is_404(api, fake, payer, members):
    token, _ = payer
    out_trade_no = order(api, token, 100)["out_trade_no"]
    other, _ = members.verified()
    assert_problem(api.get(f"/v1/me/wallet/wechat-topups/{out_trade_no}", headers=bearer(other)), 404, "not_found")


def test_given_a_notification_that_is_not_json_or_not_a_payment_then_a_clear_error_and_nothing_changes(api, fake, payer):
    _token, member_id = payer
    headers = fake.signed_headers("not json")
    assert_problem(api.request("POST", NOTIFICATIONS, body=b"not json", headers=headers), 400, "validation_error")
    assert_problem(api.request("POST", NOTIFICATIONS, body=b"{}", headers={}), 401, "invalid_signature")
    assert stored_balance(member_id) == 0


def test_given_wechat_pay_answers_with_a_signature_that_is_not_its_platform_key_then_502_and_the_order_is_not_used(api, fake, payer):
    from dataclasses import replace

    from chalicelib.domain.wechat_pay import new_key_pair

    token, _ = payer
    fake.keys = replace(fake.keys, platform_private_key=new_key_pair()[0])  # a man in the middle
    assert_problem(api.post("/v1/me/wallet/wechat-topups", {"amount": 100}, headers=bearer(token)), 502, "payment_provider_error")


def test_given_wechat_pay_not_answering_then_502_payment_provider_error(api, aws, payer):
    token, _ = payer  # no fake listening: the connection is refused
    assert_problem(api.post("/v1/me/wallet/wechat-topups", {"amount": 100}, headers=bearer(token)), 502, "payment_provider_error")


def test_given_a_frozen_member_then_403_and_no_order_at_wechat_pay(api, fake, payer):
    from chalicelib.store import keys
    from chalicelib.store.models import Member

    token, member_id = payer
    Member.get(keys.member_pk(member_id), keys.PROFILE).update(actions=[Member.status.set("frozen")])
    assert_problem(api.post("/v1/me/wallet/wechat-topups", {"amount": 100}, headers=bearer(token)), 403, "member_frozen")
    assert fake.orders == {}
