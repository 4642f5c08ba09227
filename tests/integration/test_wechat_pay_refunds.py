"""Operators refund paid WeChat Pay top-ups through WeChat Pay, and list payment anomalies: the
API in-process under moto against the fake WeChat Pay on loopback (localstage/wechat_pay_fake.py),
which checks our signed refund request and signs and encrypts its refund notification."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.rules import TopupBonus
from chalicelib.settings import get_settings
from localstage.bootstrap import fake_wechat_pay_secret_name
from localstage.wechat_pay_fake import FakeKeys, FakeWeChatPay
from tests.conftest import WECHAT_PAY_FAKE_PORT
from tests.integration import test_business_events
from tests.integration.conftest import MERCHANT, bearer
from tests.integration.test_wallet import assert_problem, statement, stored_balance, use_rules
from tests.integration.test_wechat_pay import deliver, order, status_of, wechat_member

REFUND_NOTIFICATIONS = "/v1/wechat-pay/refund-notifications"
# The table's stream pumped to the bus, and a tap on the bus (tests/integration/test_business_events.py)
pump = test_business_events.pump
bus_tap = test_business_events.bus_tap


@pytest.fixture
def wxpay(aws: Any) -> Iterator[FakeWeChatPay]:
    raw = aws.client("secretsmanager").get_secret_value(SecretId=fake_wechat_pay_secret_name(get_settings()))["SecretString"]
    server = FakeWeChatPay(FakeKeys.from_json(raw), port=WECHAT_PAY_FAKE_PORT).start()
    yield server
    server.stop()


@pytest.fixture
def paid(api, wechat, wxpay) -> tuple[str, str, str]:
    """A member signed in with WeChat who topped up ¥500.00 (and got ¥50.00 bonus), paid in WeChat:
    (token, member_id, out_trade_no)."""
    token, member_id = wechat_member(api)
    out_trade_no = order(api, token, 50000)["out_trade_no"]
    assert deliver(api, wxpay.notification(out_trade_no)).status == 204
    assert stored_balance(member_id) == 55000
    return token, member_id, out_trade_no


@pytest.fixture(autouse=True)
def _bonus_rules(aws) -> None:
    use_rules(aws, topup_bonuses=(TopupBonus(min_amount=50000, bonus=5000),))


def refund(api, out_trade_no: str, key: str = "rf-1", reason: str = "顾客要求退款"):
    return api.post(f"/v1/admin/wechat-pay/topups/{out_trade_no}/refunds", {"reason": reason}, headers={"Idempotency-Key": key})


def deliver_refund(api, notification: tuple[dict[str, str], str]):
    headers, body = notification
    return api.request("POST", REFUND_NOTIFICATIONS, body=body.encode(), headers=dict(headers))


def entries(api, token: str) -> list[tuple[str, int]]:
    return [(e["kind"], e["amount"]) for e in statement(api, token)["items"]]


def test_given_a_paid_top_up_when_an_operator_refunds_it_then_the_money_and_bonus_leave_the_wallet_and_wechat_pay_pays_it_back(api, wxpay, paid):
    token, member_id, out_trade_no = paid

    reply = refund(api, out_trade_no)

    assert reply.status == 201, reply.text
    body = reply.json()
    assert (body["status"], body["amount"], body["bonus"], body["member_id"]) == ("processing", 50000, 5000, member_id)
    assert body["refund_id"] == wxpay.refunds[body["out_refund_no"]].refund_id
    assert (wxpay.refunds[body["out_refund_no"]].refund, wxpay.refunds[body["out_refund_no"]].total) == (50000, 50000)
    assert wxpay.refunds[body["out_refund_no"]].notify_url.endswith(REFUND_NOTIFICATIONS)
    # Held at once: the money cannot be spent while WeChat Pay pays it back
    assert stored_balance(member_id) == 0
    assert entries(api, token)[:2] == [("bonus_clawback", -5000), ("topup_refund", -50000)]
    assert status_of(api, token, out_trade_no)["status"] == "refunding"
    audit = api.get(f"/v1/admin/audit?member_id={member_id}").json()["items"]
    refunds_audited = [(e["action"], e["ref"], e["reason"]) for e in audit if e["action"].startswith("wechat_pay")]
    assert refunds_audited == [("wechat_pay.refund", out_trade_no, "顾客要求退款")]

    # WeChat Pay's notification settles it, once however often it comes
    notification = wxpay.refund_notification(body["out_refund_no"])
    assert [deliver_refund(api, notification).status for _ in range(3)] == [204, 204, 204]
    assert status_of(api, token, out_trade_no)["status"] == "refunded"
    assert stored_balance(member_id) == 0
    assert len(entries(api, token)) == 4
    again = refund(api, out_trade_no)
    assert again.status == 200 and again.json()["status"] == "succeeded" and again.json()["out_refund_no"] == body["out_refund_no"]
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_given_an_unknown_or_unpaid_order_then_404_or_409_and_nothing_is_asked_of_wechat_pay(api, wechat, wxpay):
    token, member_id = wechat_member(api)
    unpaid = order(api, token, 50000)["out_trade_no"]

    assert_problem(refund(api, "WX20260101000000ABCDEF123456"), 404, "not_found")
    assert_problem(refund(api, "not-an-order!"), 404, "not_found")
    assert_problem(refund(api, unpaid), 409, "order_not_paid")

    assert wxpay.refunds == {}
    assert status_of(api, token, unpaid)["status"] == "created"
    assert [e["action"] for e in api.get(f"/v1/admin/audit?member_id={member_id}").json()["items"]] == ["member.wechat.bind"]


def test_given_a_refunded_order_when_refunding_it_again_under_another_key_then_409_already_refunded_and_nothing_more_leaves(api, wxpay, paid):
    token, member_id, out_trade_no = paid
    first = refund(api, out_trade_no, key="rf-1").json()

    assert_problem(refund(api, out_trade_no, key="rf-2"), 409, "already_refunded")
    wxpay.end_refund(first["out_refund_no"])
    assert_problem(refund(api, out_trade_no, key="rf-3"), 409, "already_refunded")

    assert list(wxpay.refunds) == [first["out_refund_no"]]
    assert stored_balance(member_id) == 0 and len(entries(api, token)) == 4


def test_given_the_same_key_with_another_reason_then_409_idempotency_conflict(api, wxpay, paid):
    _, _, out_trade_no = paid
    assert refund(api, out_trade_no, key="rf-1", reason="one").status == 201
    assert_problem(refund(api, out_trade_no, key="rf-1", reason="another"), 409, "idempotency_conflict")


def test_given_the_wallet_no_longer_holds_the_top_up_and_its_bonus_then_409_insufficient_funds_and_nothing_changes(api, wxpay, paid):
    token, member_id, out_trade_no = paid
    spent = api.post("/v1/wallet/payments", {"payment_id": "PAY-1", "amount": 5001, "currency": "CNY", "member_id": member_id}, headers=MERCHANT)
    assert spent.status == 201, spent.text

    body = assert_problem(refund(api, out_trade_no), 409, "insufficient_funds")

    assert "55000" in body["detail"]  # the top-up and its bonus
    assert stored_balance(member_id) == 49999
    assert status_of(api, token, out_trade_no)["status"] == "paid"
    assert wxpay.refunds == {}


def test_given_wechat_pay_refusing_the_refund_then_the_held_money_comes_back_and_the_order_can_be_refunded_later(api, wxpay, paid):
    token, member_id, out_trade_no = paid
    wxpay.fail_next_refund = (403, "NOT_ENOUGH")

    reply = refund(api, out_trade_no, key="rf-1")

    assert reply.status == 201, reply.text
    assert (reply.json()["status"], reply.json()["failure"]) == ("failed", "NOT_ENOUGH")
    assert stored_balance(member_id) == 55000
    assert entries(api, token)[:3] == [("refund_returned", 55000), ("bonus_clawback", -5000), ("topup_refund", -50000)]
    assert status_of(api, token, out_trade_no)["status"] == "paid"
    # The same request again is the same (failed) refund; a new one is a new refund
    assert refund(api, out_trade_no, key="rf-1").json()["status"] == "failed"
    assert refund(api, out_trade_no, key="rf-2").json()["status"] == "processing"
    assert stored_balance(member_id) == 0


def test_given_wechat_pay_not_answering_then_502_the_money_stays_held_and_the_same_request_again_completes_it(api, wxpay, paid):
    token, member_id, out_trade_no = paid
    wxpay.fail_next_refund = (500, "SYSTEM_ERROR")

    assert_problem(refund(api, out_trade_no), 502, "payment_provider_error")
    assert stored_balance(member_id) == 0
    assert status_of(api, token, out_trade_no)["status"] == "refunding"

    again = refund(api, out_trade_no)
    assert again.status == 200 and again.json()["status"] == "processing"
    assert len(wxpay.refunds) == 1


def test_given_a_refusal_wechat_pay_did_not_sign_or_a_rate_limit_then_502_and_the_money_stays_held_never_paid_twice(api, wxpay, paid):
    from dataclasses import replace

    from chalicelib.domain.wechat_pay import new_key_pair

    token, member_id, out_trade_no = paid
    genuine = wxpay.keys
    wxpay.keys = replace(genuine, platform_private_key=new_key_pair()[0])  # a man in the middle says "refused"
    wxpay.fail_next_refund = (403, "NOT_ENOUGH")
    assert_problem(refund(api, out_trade_no), 502, "payment_provider_error")
    wxpay.keys = genuine
    wxpay.fail_next_refund = (429, "FREQUENCY_LIMITED")
    assert_problem(refund(api, out_trade_no), 502, "payment_provider_error")

    assert stored_balance(member_id) == 0  # held, not given back: WeChat Pay may be paying it
    assert status_of(api, token, out_trade_no)["status"] == "refunding"
    assert refund(api, out_trade_no).json()["status"] == "processing"


def test_given_a_refund_notification_that_the_refund_failed_then_the_money_comes_back_once(api, wxpay, paid):
    token, member_id, out_trade_no = paid
    body = refund(api, out_trade_no).json()

    notification = wxpay.refund_notification(body["out_refund_no"], status="ABNORMAL")
    assert deliver_refund(api, notification).status == 204
    assert deliver_refund(api, notification).status == 204
    assert deliver_refund(api, wxpay.refund_notification(body["out_refund_no"], status="SUCCESS")).status == 204  # too late: settled

    assert stored_balance(member_id) == 55000
    assert [k for k, _ in entries(api, token)].count("refund_returned") == 1
    assert status_of(api, token, out_trade_no)["status"] == "paid"
    assert refund(api, out_trade_no).json()["status"] == "failed"


def test_given_a_forged_or_late_refund_notification_then_401_and_nothing_settles(api, wxpay, paid):
    token, member_id, out_trade_no = paid
    body = refund(api, out_trade_no).json()

    assert_problem(deliver_refund(api, wxpay.refund_notification(body["out_refund_no"], forge=True)), 401, "invalid_signature")
    assert_problem(deliver_refund(api, wxpay.refund_notification(body["out_refund_no"], age_seconds=301)), 401, "invalid_signature")

    assert status_of(api, token, out_trade_no)["status"] == "refunding"
    assert refund(api, out_trade_no).json()["status"] == "processing"
    assert stored_balance(member_id) == 0


def test_given_a_refund_notification_of_a_refund_we_do_not_know_then_it_is_acknowledged_and_changes_nothing(api, wxpay, paid):
    token, member_id, out_trade_no = paid
    body = refund(api, out_trade_no).json()
    headers, text = wxpay.refund_notification(body["out_refund_no"], status="ABNORMAL")
    from localstage.wechat_pay_fake import FakeRefund

    wxpay.refunds["RFUNKNOWN"] = FakeRefund("RFUNKNOWN", out_trade_no, 50000, 50000, "", "5000")
    assert deliver_refund(api, wxpay.refund_notification("RFUNKNOWN", status="ABNORMAL")).status == 204
    assert stored_balance(member_id) == 0
    assert status_of(api, token, out_trade_no)["status"] == "refunding"
    assert deliver_refund(api, (headers, text)).status == 204
    assert stored_balance(member_id) == 55000


def test_given_no_idempotency_key_or_no_reason_then_400_naming_it_and_nothing_is_held(api, wxpay, paid):
    _, member_id, out_trade_no = paid
    path = f"/v1/admin/wechat-pay/topups/{out_trade_no}/refunds"

    missing_key = assert_problem(api.post(path, {"reason": "x"}), 400, "validation_error")
    missing_reason = assert_problem(api.post(path, {}, headers={"Idempotency-Key": "k"}), 400, "validation_error")

    assert [e["field"] for e in missing_key["errors"]] == ["Idempotency-Key"]
    assert [e["field"] for e in missing_reason["errors"]] == ["reason"]
    assert stored_balance(member_id) == 55000 and wxpay.refunds == {}


def test_a_refund_publishes_wallet_refunded_on_commit_and_a_refused_one_wallet_refund_returned(api, wxpay, paid, pump, bus_tap):
    _, member_id, out_trade_no = paid
    pump.pump()
    bus_tap()  # the sign-in's and the top-up's events
    assert_problem(refund(api, "WX20260101000000ABCDEF123456"), 404, "not_found")
    pump.pump()
    assert bus_tap() == []  # refused: nothing committed, nothing published

    body = refund(api, out_trade_no).json()
    pump.pump()
    refunded = [(e["type"], e["data"]["amount"], e["data"]["ref"], e["data"]["member_id"]) for e in bus_tap() if e["type"].startswith("wallet.")]
    assert sorted(refunded) == [("wallet.refunded", -50000, out_trade_no, member_id), ("wallet.refunded", -5000, out_trade_no, member_id)]

    assert deliver_refund(api, wxpay.refund_notification(body["out_refund_no"], status="CLOSED")).status == 204
    pump.pump()
    returned = [(e["type"], e["data"]["amount"], e["data"]["balance_after"]) for e in bus_tap() if e["type"].startswith("wallet.")]
    assert returned == [("wallet.refund_returned", 55000, 55000)]


# --- anomalies -------------------------------------------------------------------------------------


def test_given_payment_anomalies_then_operators_list_them_paged_with_ids_and_amounts_only(api, wechat, wxpay):
    token, _ = wechat_member(api)
    mismatched = order(api, token, 10000)["out_trade_no"]
    twice = order(api, token, 20000)["out_trade_no"]
    assert deliver(api, wxpay.notification(mismatched, amount=1)).status == 204
    assert deliver(api, wxpay.notification(mismatched, amount=1)).status == 204  # the same anomaly: listed once
    assert deliver(api, wxpay.notification(twice)).status == 204
    assert deliver(api, wxpay.notification(twice, transaction_id="4200000000000000000000000002")).status == 204

    first = api.get("/v1/admin/wechat-pay/anomalies?limit=1")
    assert first.status == 200, first.text
    rest = api.get(f"/v1/admin/wechat-pay/anomalies?limit=5&cursor={first.json()['next_cursor']}").json()

    items = first.json()["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert [(a["out_trade_no"], a["reason"], a["order_amount"], a["notified_amount"]) for a in items] == [
        (mismatched, "amount_mismatch", 10000, 1),
        (twice, "already_paid", 20000, 20000),
    ]
    assert set(items[0]) == {
        "anomaly_id",
        "source",
        "out_trade_no",
        "sub_mchid",
        "transaction_id",
        "reason",
        "order_amount",
        "notified_amount",
        "created_at",
        "status",
        "settlement",
    }
    assert {(a["source"], a["sub_mchid"], a["status"], a["settlement"]) for a in items} == {("topup", None, "open", None)}
    assert_problem(api.get("/v1/admin/wechat-pay/anomalies?cursor=bogus!"), 400, "validation_error")
    assert_problem(api.get("/v1/admin/wechat-pay/anomalies?limit=0"), 400, "validation_error")


def anomalies(api, status: str | None = None) -> list[dict[str, Any]]:
    """Every anomaly listed (all, or only `open` or `settled` ones), page after page of one."""
    found: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(20):
        reply = api.get(f"/v1/admin/wechat-pay/anomalies?limit=1{f'&status={status}' if status else ''}{f'&cursor={cursor}' if cursor else ''}")
        assert reply.status == 200, reply.text
        found += reply.json()["items"]
        cursor = reply.json()["next_cursor"]
        if not cursor:
            return found
    raise AssertionError("the list never ended")


def settle(api, anomaly_id: str, **body: Any):
    return api.post(f"/v1/admin/wechat-pay/anomalies/{anomaly_id}/settle", {"reason": "商户平台已原路退回", **body})


def settlement_audits(api) -> list[dict[str, Any]]:
    """The settlements audited today and yesterday (program time): a test may cross midnight."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    found = []
    for day in (today - timedelta(days=1), today):
        reply = api.get(f"/v1/admin/audit?day={day.isoformat()}&limit=100")
        assert reply.status == 200, reply.text
        found += [e for e in reply.json()["items"] if e["action"] == "wechat_pay.anomaly.settle"]
    return found


def test_given_open_anomalies_when_an_operator_settles_one_then_it_is_settled_once_audited_and_only_the_other_stays_open(api, wechat, wxpay):
    token, member_id = wechat_member(api)
    mismatched = order(api, token, 10000)["out_trade_no"]
    twice = order(api, token, 20000)["out_trade_no"]
    assert deliver(api, wxpay.notification(mismatched, amount=1)).status == 204
    assert deliver(api, wxpay.notification(twice)).status == 204
    assert deliver(api, wxpay.notification(twice, transaction_id="4200000000000000000000000002")).status == 204
    first, second = anomalies(api, "open")
    assert (first["out_trade_no"], second["out_trade_no"]) == (mismatched, twice)

    settled = settle(api, second["anomaly_id"], resolution="refunded_by_hand", reference="50300000000000000001")

    assert settled.status == 200, settled.text
    body = settled.json()
    assert {k: body[k] for k in ("transaction_id", "status")} == {"transaction_id": second["transaction_id"], "status": "settled"}
    assert (body["settlement"]["resolution"], body["settlement"]["reference"]) == ("refunded_by_hand", "50300000000000000001")
    assert [a["anomaly_id"] for a in anomalies(api, "open")] == [first["anomaly_id"]]
    assert anomalies(api, "settled") == [body]
    assert [a["status"] for a in anomalies(api)] == ["open", "settled"]
    # Audited, with the operator's reason; settling moved no money.
    [audit] = settlement_audits(api)
    assert (audit["target"], audit["reason"]) == ({"type": "wechat_pay_anomaly", "id": second["transaction_id"]}, "商户平台已原路退回")
    assert audit["after"] == {"status": "settled", "resolution": "refunded_by_hand", "reference": "50300000000000000001"}
    assert stored_balance(member_id) == 20000  # the one credited payment, as before

    # The same settlement again (its answer was lost): the anomaly as it is, no second audit entry.
    again = settle(api, second["anomaly_id"], resolution="refunded_by_hand", reference="50300000000000000001")
    assert (again.status, again.json()) == (200, body)
    # Another settlement of it: refused, nothing changes.
    other = settle(api, second["anomaly_id"], resolution="no_action")
    assert_problem(other, 409, "invalid_state")
    assert "settled before" in other.json()["detail"]
    assert anomalies(api, "settled") == [body] and len(settlement_audits(api)) == 1

    # The other one needs no reference.
    no_reference = settle(api, first["anomaly_id"], resolution="no_action")
    assert no_reference.status == 200, no_reference.text
    assert no_reference.json()["settlement"]["reference"] is None
    assert anomalies(api, "open") == []


@pytest.mark.parametrize(
    "body",
    [
        {"resolution": "refunded", "reason": "x"},  # not one of the three
        {"resolution": "no_action", "reason": ""},
        {"resolution": "no_action", "reason": "x", "reference": "bad reference"},
        {"resolution": "no_action", "reason": "x", "amount": 1},  # unknown field
        {"reason": "x"},
    ],
)
def test_given_a_bad_settlement_then_400_and_the_anomaly_stays_open(api, wechat, wxpay, body):
    token, _ = wechat_member(api)
    assert deliver(api, wxpay.notification(order(api, token, 10000)["out_trade_no"], amount=1)).status == 204
    [anomaly] = anomalies(api)

    reply = api.post(f"/v1/admin/wechat-pay/anomalies/{anomaly['anomaly_id']}/settle", body)

    assert_problem(reply, 400, "validation_error")
    assert anomalies(api, "open") == [anomaly] and settlement_audits(api) == []


def test_given_an_anomaly_id_the_api_never_gave_out_then_404_and_a_bad_status_filter_400(api, wechat, wxpay):
    token, _ = wechat_member(api)
    assert deliver(api, wxpay.notification(order(api, token, 10000)["out_trade_no"], amount=1)).status == 204
    [anomaly] = anomalies(api)
    unknown = base64.urlsafe_b64encode(b"AT#2026-01-01T00:00:00+00:00#4200000000000000000000000009").decode().rstrip("=")
    for anomaly_id in (unknown, "bogus!", "QVQj", anomaly["anomaly_id"] + "x"):
        assert_problem(settle(api, anomaly_id, resolution="no_action"), 404, "not_found")
    assert_problem(api.get("/v1/admin/wechat-pay/anomalies?status=closed"), 400, "validation_error")
    assert anomalies(api, "open") == [anomaly] and settlement_audits(api) == []


def test_given_a_refund_not_settled_yet_then_the_membership_cannot_close_until_wechat_pay_settles_it(api, wxpay, paid):
    token, member_id, out_trade_no = paid
    body = refund(api, out_trade_no).json()
    assert stored_balance(member_id) == 0  # all of it held: an empty wallet, but not settled

    refused = close(api, token)

    assert_problem(refused, 409, "invalid_state")
    assert "refund" in refused.json()["detail"]
    assert api.get("/v1/me", headers=bearer(token)).json()["status"] == "active"
    # WeChat Pay refuses it: the money is back in the wallet, which must be emptied first
    assert deliver_refund(api, wxpay.refund_notification(body["out_refund_no"], status="ABNORMAL")).status == 204
    assert stored_balance(member_id) == 55000
    assert_problem(close(api, token), 409, "invalid_state")
    # Refunded again, and this time paid back: the membership may close
    again = refund(api, out_trade_no, key="rf-2").json()
    assert deliver_refund(api, wxpay.refund_notification(again["out_refund_no"])).status == 204
    closed = close(api, token)
    assert closed.status == 200, closed.text


def close(api, token: str):
    return api.request("DELETE", "/v1/me", json_body=None, headers=bearer(token))


def test_given_a_refund_held_before_the_wallet_counted_holds_when_it_fails_then_the_others_stay_held(api, wxpay, paid):
    from chalicelib.store import keys
    from chalicelib.store.models_wallet import Wallet
    from chalicelib.store.models_wechat_pay import WeChatPayRefund

    token, member_id, first = paid
    second = order(api, token, 50000)["out_trade_no"]
    assert deliver(api, wxpay.notification(second)).status == 204
    old = refund(api, first, key="rf-old").json()
    # As a refund held by the version before `held` was kept: not counted in the wallet
    legacy = next(WeChatPayRefund.scan(WeChatPayRefund.out_refund_no == old["out_refund_no"]))
    legacy.update(actions=[WeChatPayRefund.held_in_wallet.remove()])
    Wallet.get(keys.member_pk(member_id), keys.WALLET_SK).update(actions=[Wallet.held.set(0)])
    new = refund(api, second, key="rf-new").json()

    assert deliver_refund(api, wxpay.refund_notification(old["out_refund_no"], status="ABNORMAL")).status == 204

    wallet = Wallet.get(keys.member_pk(member_id), keys.WALLET_SK, consistent_read=True)
    assert int(wallet.held or 0) == 55000  # the new refund's, still unsettled
    assert deliver_refund(api, wxpay.refund_notification(new["out_refund_no"])).status == 204
    assert int(Wallet.get(keys.member_pk(member_id), keys.WALLET_SK, consistent_read=True).held or 0) == 0
