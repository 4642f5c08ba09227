"""Pay-to-join (支付即会员) through the API, in-process under moto: the fake WeChat Pay signs and
encrypts a store's payment notification (service-provider mode) and it is handed to the API as
WeChat Pay would POST it; the fake WeChat gives the openids and proves phones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.members import get_member
from chalicelib.store.models import BaseItem, LedgerEntry
from chalicelib.store.pay_to_join import anomaly_of, holding_member_id
from localstage.bootstrap import fake_wechat_pay_secret_name
from localstage.wechat_fake import openid_for
from localstage.wechat_pay_fake import FakeKeys, FakeWeChatPay
from tests.conftest import WECHAT_PAY_FAKE_PORT
from tests.integration.conftest import MERCHANT, bearer
from tests.integration.test_wallet import assert_problem, set_status, use_rules
from tests.support.outbox import last_code

NOTIFICATIONS = "/v1/wechat-pay/notifications"
MINI = get_settings().wechat_mini_program_appid
STORE_MCHID, STORE_ID = "1900000109", "store-1"


@pytest.fixture
def fake(aws: Any) -> Iterator[FakeWeChatPay]:
    raw = aws.client("secretsmanager").get_secret_value(SecretId=fake_wechat_pay_secret_name(get_settings()))["SecretString"]
    server = FakeWeChatPay(FakeKeys.from_json(raw), port=WECHAT_PAY_FAKE_PORT, store_appid=MINI).start()
    yield server
    server.stop()


@pytest.fixture
def mapped(aws: Any) -> None:
    """The operator mapped the store's WeChat Pay sub-merchant id to its store."""
    use_rules(aws, wechat_pay_stores={STORE_MCHID: STORE_ID})


def deliver(api, notification: tuple[dict[str, str], str, str]):
    headers, body, _ = notification
    return api.request("POST", NOTIFICATIONS, body=body.encode(), headers=dict(headers))


def pay(api, fake: FakeWeChatPay, openid: str, amount: int, **options: Any) -> str:
    """The payer paid at the store; the notification is answered 204. The transaction id."""
    notification = fake.store_notification(options.pop("sub_mchid", STORE_MCHID), openid, amount, **options)
    reply = deliver(api, notification)
    assert reply.status == 204, reply.text
    return notification[2]


def ticket(api, user: str, n: int) -> str:
    reply = api.post("/v1/wechat/sessions", {"code": f"{user}.{n}", "app": "mini_program"})
    assert reply.status == 200, reply.text
    assert reply.json()["status"] == "phone_required", reply.json()
    return str(reply.json()["wechat_ticket"])


def bind_with_wechat_phone(api, user: str, n: int, national: str) -> dict[str, Any]:
    reply = api.post("/v1/wechat/bindings", {"wechat_ticket": ticket(api, user, n), "phone_code": f"phone-{national}"})
    assert reply.status == 200, reply.text
    return reply.json()


def ledger(api, token: str) -> list[tuple[str, int, str]]:
    reply = api.get("/v1/me/ledger?limit=100", headers=bearer(token))
    assert reply.status == 200, reply.text
    return [(e["kind"], e["points"], e["ref"]) for e in reply.json()["items"]]


def holding_entries(member_id: str) -> list[tuple[str, int]]:
    entries = LedgerEntry.query(keys.member_pk(member_id), LedgerEntry.sk.startswith(keys.LEDGER_PREFIX), consistent_read=True)
    return sorted((e.kind, int(e.points)) for e in entries)


def test_given_a_bound_member_when_they_pay_at_a_mapped_store_then_they_earn_as_a_purchase_once_per_transaction(api, wechat, fake, mapped):
    signed_in = bind_with_wechat_phone(api, "ann", 1, "13900000201")
    token, before = signed_in["access_token"], signed_in["member"]["points"]["balance"]
    openid = openid_for("ann", MINI)

    notification = fake.store_notification(STORE_MCHID, openid, 12800)
    answers = [deliver(api, notification).status for _ in range(3)]
    txid = notification[2]
    # WeChat Pay's retry is a new notification (new nonce, time) for the same transaction
    again = deliver(api, fake.store_notification(STORE_MCHID, openid, 12800, transaction_id=txid))

    assert answers == [204, 204, 204] and again.status == 204
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert me["points"]["balance"] == before + 128  # the program's base earn rate, as a till's report of 128.00
    assert ledger(api, token)[0] == ("earn", 128, txid)
    assert [k for k, _, ref in ledger(api, token) if ref == txid] == ["earn"]


def test_given_an_unbound_payer_then_a_pending_holding_keeps_the_points_and_proving_a_new_phone_makes_them_the_members(api, wechat, fake, mapped):
    openid = openid_for("bea", MINI)
    first = pay(api, fake, openid, 5000)
    pay(api, fake, openid, 3000)

    holding = holding_member_id(MINI, openid)
    assert holding is not None
    held = get_member(holding)
    assert held is not None and (held.status, int(held.balance), held.phone) == ("pending", 80, "")
    # An openid alone is no member: WeChat sign-in still asks for a phone, no token is issued
    ticket(api, "bea", 1)

    joined = bind_with_wechat_phone(api, "bea", 2, "13900000202")

    assert joined["member"]["status"] == "active"
    assert joined["member"]["points"]["balance"] == 100 + 80  # welcome points + the pay-to-join points
    token = joined["access_token"]
    assert ("transfer_in", 80, f"pay-to-join:{holding}") in ledger(api, token)
    assert holding_entries(holding) == [("earn", 30), ("earn", 50), ("transfer_out", -80)]
    retired = get_member(holding)
    assert retired is not None and (retired.status, int(retired.balance)) == ("closed", 0)
    assert holding_member_id(MINI, openid) is None
    # Later payments earn straight to the member; a replay of an old one earns nothing more
    pay(api, fake, openid, 1000)
    pay(api, fake, openid, 5000, transaction_id=first)
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == 190
    # Signing in again moves nothing twice
    again = api.post("/v1/wechat/sessions", {"code": "bea.3", "app": "mini_program"}).json()
    assert again["status"] == "signed_in" and again["member"]["points"]["balance"] == 190


def test_given_an_unbound_payer_when_the_phone_is_an_existing_members_then_the_points_move_to_that_member_once(api, members, wechat, fake, mapped):
    token, verified = members.verified()
    member_id, phone = verified["member"]["member_id"], verified["member"]["phone"]
    before = api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"]
    openid = openid_for("cai", MINI)
    pay(api, fake, openid, 20000)
    holding = holding_member_id(MINI, openid)

    joined = bind_with_wechat_phone(api, "cai", 1, phone.removeprefix("+86"))

    assert joined["member"]["member_id"] == member_id
    assert joined["member"]["points"]["balance"] == before + 200
    assert ("transfer_in", 200, f"pay-to-join:{holding}") in ledger(api, token)
    signed_in = api.post("/v1/wechat/sessions", {"code": "cai.2", "app": "mini_program"}).json()
    assert signed_in["status"] == "signed_in" and signed_in["member"]["member_id"] == member_id
    assert signed_in["member"]["points"]["balance"] == before + 200
    assert holding_entries(str(holding)) == [("earn", 200), ("transfer_out", -200)]
    assert_books_balance()


def test_given_a_joined_holding_when_the_store_refunds_its_purchase_then_the_points_come_back_from_the_member(api, wechat, fake, mapped):
    openid = openid_for("gus", MINI)
    txid = pay(api, fake, openid, 6000)
    pay(api, fake, openid, 2000)
    holding = str(holding_member_id(MINI, openid))
    joined = bind_with_wechat_phone(api, "gus", 1, "13900000208")
    token, before = joined["access_token"], joined["member"]["points"]["balance"]
    assert before == 100 + 80

    refund = api.post(f"/v1/purchases/{txid}/refunds", {"refund_id": "gus-r1", "amount": 6000}, headers=MERCHANT)
    again = api.post(f"/v1/purchases/{txid}/refunds", {"refund_id": "gus-r1", "amount": 6000}, headers=MERCHANT)

    assert refund.status == 201, refund.text
    assert (refund.json()["points_reversed"], refund.json()["balance"]) == (60, before - 60)
    assert again.status == 200 and again.json() == refund.json()
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == before - 60
    assert ("refund", -60, txid) in ledger(api, token)
    # The closed holding is left as it was: nothing taken from it, nothing owed by it
    assert holding_entries(holding) == [("earn", 20), ("earn", 60), ("transfer_out", -80)]
    retired = get_member(holding)
    assert retired is not None and (retired.status, int(retired.balance)) == ("closed", 0)
    assert_books_balance()


def test_given_a_holding_that_joined_with_points_still_held_when_both_purchases_are_refunded_then_each_comes_back_from_where_it_is(
    api, aws, wechat, fake, mapped
):
    from chalicelib.domain.rules import PendingHold

    openid = openid_for("ida", MINI)
    spendable = pay(api, fake, openid, 5000)
    use_rules(aws, wechat_pay_stores={STORE_MCHID: STORE_ID}, pending_points=(PendingHold(channel="store", hold_days=7),))
    held = pay(api, fake, openid, 3000)
    holding = str(holding_member_id(MINI, openid))
    joined = bind_with_wechat_phone(api, "ida", 1, "13900000210")
    token = joined["access_token"]
    assert joined["member"]["points"]["balance"] == 100 + 50  # the 30 still held stay on the holding
    assert holding_member_id(MINI, openid) == holding

    first = api.post(f"/v1/purchases/{spendable}/refunds", {"refund_id": "ida-r1", "amount": 5000}, headers=MERCHANT)
    second = api.post(f"/v1/purchases/{held}/refunds", {"refund_id": "ida-r2", "amount": 3000}, headers=MERCHANT)

    assert first.status == 201, first.text
    assert (first.json()["points_reversed"], first.json()["balance"]) == (50, 100)  # from the member it moved to
    assert second.status == 201, second.text
    assert second.json()["points_reversed"] == 30
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == 100
    assert ("refund", -50, spendable) in ledger(api, token)
    assert not [e for e in ledger(api, token) if e[2] == held]  # cancelled where it was held
    assert holding_entries(holding) == [("earn", 50), ("earn_pending", 0), ("pending_cancelled", 0), ("transfer_out", -50)]
    remaining = get_member(holding)
    assert remaining is not None and (int(remaining.balance), int(remaining.pending_points or 0)) == (0, 0)
    assert_books_balance()


def test_given_a_forged_or_old_notification_then_401_and_no_holding_and_no_points(api, wechat, fake, mapped):
    openid = openid_for("dan", MINI)
    assert_problem(deliver(api, fake.store_notification(STORE_MCHID, openid, 5000, forge=True)), 401, "invalid_signature")
    assert_problem(deliver(api, fake.store_notification(STORE_MCHID, openid, 5000, age_seconds=301)), 401, "invalid_signature")
    assert holding_member_id(MINI, openid) is None


def test_given_an_unmapped_merchant_a_zero_amount_or_a_refund_state_then_204_and_nothing_earned(api, wechat, fake, mapped):
    openid = openid_for("eve", MINI)
    unmapped = pay(api, fake, openid, 5000, sub_mchid="1900000999")
    zero = pay(api, fake, openid, 0)
    refund = pay(api, fake, openid, 5000, trade_state="REFUND")

    assert holding_member_id(MINI, openid) is None
    anomaly = anomaly_of(unmapped)
    assert anomaly is not None and (anomaly.reason, anomaly.sub_mchid, int(anomaly.amount)) == ("unmapped_merchant", "1900000999", 5000)
    assert anomaly_of(zero) is None and anomaly_of(refund) is None
    other_app = pay(api, fake, openid, 5000, appid="wx00000000000other")
    assert (anomaly_of(other_app) or pytest.fail("no anomaly")).reason == "unknown_appid"
    assert holding_member_id(MINI, openid) is None
    pay(api, fake, openid, 5000, sub_mchid="1900000999", transaction_id=unmapped)  # WeChat Pay's retry: listed once

    listed = api.get("/v1/admin/wechat-pay/anomalies").json()["items"]  # the operators' list
    assert [(a["source"], a["transaction_id"], a["sub_mchid"], a["reason"], a["notified_amount"], a["out_trade_no"]) for a in listed] == [
        ("store_payment", unmapped, "1900000999", "unmapped_merchant", 5000, None),
        ("store_payment", other_app, STORE_MCHID, "unknown_appid", 5000, None),
    ]


def test_given_a_mapping_that_is_not_a_sub_merchant_id_to_a_store_id_then_the_rules_are_refused_and_unchanged(api):
    current = api.get("/v1/admin/rules").json()["rules"]
    for bad in ({"wechat_pay_stores": {"not-digits": "store-1"}}, {"wechat_pay_stores": {"1900000109": "store one"}}, {"wechat_pay_stores": ["x"]}):
        reply = api.request("PUT", "/v1/admin/rules", json_body={"rules": {**current, **bad}, "reason": "test"})
        assert_problem(reply, 400, "validation_error")
    assert api.get("/v1/admin/rules").json()["rules"] == current


def test_given_the_till_reports_the_transaction_id_as_its_order_id_then_the_payment_earns_once_either_way(api, wechat, fake, mapped):
    signed_in = bind_with_wechat_phone(api, "fay", 1, "13900000206")
    token, phone = signed_in["access_token"], signed_in["member"]["phone"]
    before = signed_in["member"]["points"]["balance"]
    openid = openid_for("fay", MINI)
    till = {"phone": phone, "amount": 10000, "currency": "CNY"}

    # The till first, then WeChat Pay's notification of the same transaction
    _, _, first = notification = fake.store_notification(STORE_MCHID, openid, 10000)
    assert api.post("/v1/purchases", {"order_id": first, **till}, headers=MERCHANT).status == 201
    assert deliver(api, notification).status == 204
    # WeChat Pay's notification first, then the till
    second = pay(api, fake, openid, 10000)
    late_till = api.post("/v1/purchases", {"order_id": second, **till}, headers=MERCHANT)

    assert_problem(late_till, 409, "idempotency_conflict")
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == before + 200


def test_given_an_unbound_payer_when_proving_an_existing_members_phone_by_sms_code_then_the_points_join_that_member(
    api, members, wechat, fake, mapped, outbox_path
):
    token, verified = members.verified()
    member_id, phone = verified["member"]["member_id"], verified["member"]["phone"]
    before = api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"]
    openid = openid_for("gus", MINI)
    pay(api, fake, openid, 4000)
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()  # the resend interval, not under test here
    assert api.post("/v1/auth/code", {"phone": phone}).status == 202
    wrong = api.post("/v1/wechat/bindings", {"wechat_ticket": ticket(api, "gus", 1), "phone": phone, "code": "000000"})
    assert wrong.status == 401
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == before  # a rejected proof moves nothing

    reply = api.post("/v1/wechat/bindings", {"wechat_ticket": ticket(api, "gus", 2), "phone": phone, "code": last_code(outbox_path, phone)})

    assert reply.status == 200, reply.text
    assert reply.json()["member"]["member_id"] == member_id
    assert reply.json()["member"]["points"]["balance"] == before + 40
    assert holding_member_id(MINI, openid) is None


def test_given_a_bound_member_who_is_frozen_then_the_payment_earns_nothing_and_is_kept_for_operators(api, wechat, fake, mapped):
    signed_in = bind_with_wechat_phone(api, "hal", 1, "13900000208")
    member_id, before = signed_in["member"]["member_id"], signed_in["member"]["points"]["balance"]
    set_status(member_id, "frozen")

    txid = pay(api, fake, openid_for("hal", MINI), 5000)

    assert (anomaly_of(txid) or pytest.fail("no anomaly")).reason == "member_may_not_earn"
    frozen = get_member(member_id)
    assert frozen is not None and int(frozen.balance) == before
    assert holding_member_id(MINI, openid_for("hal", MINI)) is None


def test_given_store_purchases_held_for_a_return_window_then_the_held_points_join_at_a_sign_in_after_their_release(api, aws, wechat, fake):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from chalicelib.domain.rules import PendingHold
    from localstage.job import run

    use_rules(aws, wechat_pay_stores={STORE_MCHID: STORE_ID}, pending_points=(PendingHold(channel="store", hold_days=7),))
    openid = openid_for("ivy", MINI)
    pay(api, fake, openid, 5000)
    holding = holding_member_id(MINI, openid)

    joined = bind_with_wechat_phone(api, "ivy", 1, "13900000209")

    assert joined["member"]["points"]["balance"] == 100  # nothing spendable moved: the 50 are still held
    assert holding_member_id(MINI, openid) == holding
    release_day = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=7)
    assert run("release-pending-points", release_day.isoformat(), False)["members_affected"] == 1
    again = api.post("/v1/wechat/sessions", {"code": "ivy.2", "app": "mini_program"}).json()
    assert again["status"] == "signed_in" and again["member"]["points"]["balance"] == 150
    assert holding_member_id(MINI, openid) is None
    assert holding_entries(str(holding)) == [("earn_pending", 0), ("points_available", 50), ("transfer_out", -50)]
    assert_books_balance()


def assert_books_balance() -> None:
    """The reconcile job finds every member's ledger adding up to its balance (holdings included)."""
    from chalicelib.store.unit_of_work import connection
    from chalicelib.usecases.reconcile import reconcile_table

    report = reconcile_table(connection().client, get_settings().table_name)
    assert report.drifting == {} and report.unsettled == []
