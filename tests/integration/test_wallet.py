"""Stored value (储值): top-ups, payments, payment refunds and the member's statement,
as merchants and members see them; replays, conflicts, bad input and faults."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from chalicelib.domain.rules import TopupBonus
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.members import member_id_for_phone
from chalicelib.store.models import Member
from chalicelib.store.models_wallet import Wallet, WalletEntry
from tests.integration.conftest import MERCHANT, bearer
from tests.integration.test_faults import _clients, _lost_answer, inject, throttled, transaction_conflict
from tests.support.rules import set_rules

# --- helpers -----------------------------------------------------------------------


def topup(api, topup_id: str, amount: Any, currency: str = "CNY", **who: Any):
    return api.post("/v1/wallet/topups", {"topup_id": topup_id, "amount": amount, "currency": currency, **who}, headers=MERCHANT)


def pay(api, payment_id: str, amount: Any, currency: str = "CNY", **who: Any):
    return api.post("/v1/wallet/payments", {"payment_id": payment_id, "amount": amount, "currency": currency, **who}, headers=MERCHANT)


def refund(api, payment_id: str, refund_id: str, amount: Any):
    return api.post(f"/v1/wallet/payments/{payment_id}/refunds", {"refund_id": refund_id, "amount": amount}, headers=MERCHANT)


def statement(api, token: str) -> dict[str, Any]:
    """The whole statement, following next_cursor two entries at a time."""
    first = api.get("/v1/me/wallet?limit=2", headers=bearer(token))
    assert first.status == 200, first.text
    page = first.json()
    result = {"balance": page["balance"], "currency": page["currency"], "items": list(page["items"])}
    while page["next_cursor"]:
        reply = api.get(f"/v1/me/wallet?limit=2&cursor={page['next_cursor']}", headers=bearer(token))
        assert reply.status == 200, reply.text
        page = reply.json()
        assert page["balance"] == result["balance"]
        result["items"] += page["items"]
    return result


def stored_balance(member_id: str) -> int:
    """The wallet as stored, after checking that its entries add up to it."""
    try:
        balance = int(Wallet.get(keys.member_pk(member_id), keys.WALLET_SK, consistent_read=True).balance)
    except Wallet.DoesNotExist:
        balance = 0
    entries = list(WalletEntry.query(keys.member_pk(member_id), WalletEntry.sk.startswith(keys.WALLET_ENTRY_PREFIX), consistent_read=True))
    assert sum(int(e.amount) for e in entries) == balance
    assert all(int(e.balance_after) >= 0 for e in entries)
    return balance


def set_status(member_id: str, status: str) -> None:
    Member.get(keys.member_pk(member_id), keys.PROFILE).update(actions=[Member.status.set(status)])


def use_rules(aws, **changes: Any) -> None:
    set_rules(aws, **changes)


def assert_problem(reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    body = reply.json()
    assert body["code"] == code
    return body


@pytest.fixture
def member(members):
    """A signed-in member: (token, member_id, phone)."""
    token, body = members.verified()
    return token, body["member"]["member_id"], body["member"]["phone"]


@pytest.fixture
def funded(api, member):
    """A signed-in member with 100.00 in the wallet."""
    _token, _member_id, phone = member
    assert topup(api, "t-fund", 10000, phone=phone).status == 201
    return member


# --- top-ups -----------------------------------------------------------------------


def test_given_a_member_when_a_merchant_tops_up_then_the_wallet_holds_the_money_and_the_statement_shows_it(api, member):
    token, member_id, phone = member

    reply = topup(api, "t-1", 20000, phone=phone, store_id="sh-01")

    assert reply.status == 201
    assert reply.json() == {"topup_id": "t-1", "member_id": member_id, "amount": 20000, "bonus": 0, "balance": 20000, "currency": "CNY"}
    wallet = statement(api, token)
    assert (wallet["balance"], wallet["currency"]) == (20000, "CNY")
    [entry] = wallet["items"]
    assert (entry["kind"], entry["amount"], entry["balance_after"], entry["ref"]) == ("topup", 20000, 20000, "t-1")
    assert entry["created_at"].endswith("+00:00") and entry["entry_id"]
    assert stored_balance(member_id) == 20000


def test_given_money_in_the_wallet_then_points_are_untouched_and_the_member_view_is_unchanged(api, member):
    token, _member_id, phone = member
    topup(api, "t-1", 50000, phone=phone)
    pay(api, "p-1", 20000, phone=phone)
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert me["points"]["balance"] == 100  # the welcome points only: money never earns or mixes with points here
    assert [e["kind"] for e in api.get("/v1/me/ledger", headers=bearer(token)).json()["items"]] == ["bonus"]


def test_given_bonus_tiers_when_topping_up_then_the_best_tier_the_amount_reaches_adds_its_bonus_as_its_own_entry(api, aws, member):
    use_rules(aws, topup_bonuses=(TopupBonus(min_amount=50000, bonus=5000), TopupBonus(min_amount=100000, bonus=12000)))
    token, member_id, phone = member

    below = topup(api, "t-1", 49999, phone=phone)
    first_tier = topup(api, "t-2", 50000, phone=phone)
    best_tier = topup(api, "t-3", 150000, phone=phone)

    assert [r.json()["bonus"] for r in (below, first_tier, best_tier)] == [0, 5000, 12000]
    assert best_tier.json()["balance"] == 49999 + 55000 + 162000
    items = statement(api, token)["items"]
    assert [(e["kind"], e["amount"], e["ref"]) for e in items[:2]] == [("bonus", 12000, "t-3"), ("topup", 150000, "t-3")]
    assert [e["balance_after"] for e in items[:2]] == [266999, 254999]
    assert stored_balance(member_id) == 266999


def test_given_no_bonus_rules_by_default_then_a_large_top_up_gets_no_bonus(api, member):
    assert topup(api, "t-1", 50000, member_id=member[1]).json()["bonus"] == 0


def test_given_the_same_topup_twice_then_200_with_the_identical_body_marked_replayed_and_nothing_credited_twice(api, member):
    _token, member_id, phone = member
    first = topup(api, "t-1", 10000, phone=phone)
    again = topup(api, "t-1", 10000, phone=phone.removeprefix("+86"))  # national form: the same request

    assert (first.status, again.status) == (201, 200)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert stored_balance(member_id) == 10000


def test_given_a_topup_id_reused_with_another_amount_then_409_idempotency_conflict_and_nothing_changes(api, member):
    _, member_id, phone = member
    topup(api, "t-1", 10000, phone=phone)
    assert_problem(topup(api, "t-1", 99999, phone=phone), 409, "idempotency_conflict")
    assert_problem(topup(api, "t-1", 10000, member_id=member_id), 409, "idempotency_conflict")  # another body
    assert stored_balance(member_id) == 10000


def test_given_a_bonus_rule_changed_after_a_topup_then_its_replay_still_answers_the_bonus_it_got(api, aws, member):
    use_rules(aws, topup_bonuses=(TopupBonus(min_amount=50000, bonus=5000),))
    _, member_id, phone = member
    first = topup(api, "t-1", 50000, phone=phone)
    use_rules(aws, topup_bonuses=())
    assert topup(api, "t-1", 50000, phone=phone).json() == first.json()
    assert stored_balance(member_id) == 55000


def test_given_an_unknown_phone_or_member_id_then_404_and_no_member_is_enrolled_through_the_wallet(api, members):
    phone = members.phone()
    assert_problem(topup(api, "t-1", 10000, phone=phone), 404, "not_found")
    assert_problem(topup(api, "t-2", 10000, member_id="mbr_0000000000000000"), 404, "not_found")
    assert member_id_for_phone(phone) is None
    # the top-up id was not used up by the refusal
    _, _body = members.verified(phone)
    assert topup(api, "t-1", 10000, phone=phone).status == 201


def test_given_a_pending_member_enrolled_by_a_purchase_then_the_top_up_waits_in_their_wallet_until_they_sign_up(api, members, outbox_path):
    from tests.support.outbox import last_code

    phone = members.phone()
    assert members.purchase("o-1", 1000, phone=phone).status == 201
    assert topup(api, "t-1", 30000, phone=phone).status == 201
    members.signed_up(phone)
    token = api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)}).json()["access_token"]
    assert statement(api, token)["balance"] == 30000


# --- payments ----------------------------------------------------------------------


def test_given_money_in_the_wallet_when_the_member_pays_then_it_is_debited_once_with_a_negative_entry(api, funded):
    token, member_id, phone = funded

    reply = pay(api, "p-1", 2550, phone=phone, store_id="sh-01")

    assert reply.status == 201
    assert reply.json() == {"payment_id": "p-1", "member_id": member_id, "amount": 2550, "balance": 7450}
    newest = statement(api, token)["items"][0]
    assert (newest["kind"], newest["amount"], newest["balance_after"], newest["ref"]) == ("payment", -2550, 7450, "p-1")
    assert stored_balance(member_id) == 7450


def test_given_a_payment_of_exactly_the_balance_then_it_succeeds_and_one_minor_unit_more_is_insufficient_funds(api, funded):
    _, member_id, _phone = funded
    assert pay(api, "p-1", 10000, member_id=member_id).json()["balance"] == 0
    problem = assert_problem(pay(api, "p-2", 1, member_id=member_id), 409, "insufficient_funds")
    assert "0" in problem["detail"]
    assert stored_balance(member_id) == 0


def test_given_a_payment_over_the_balance_then_409_insufficient_funds_and_nothing_changes(api, funded):
    token, member_id, phone = funded
    assert_problem(pay(api, "p-1", 10001, phone=phone), 409, "insufficient_funds")
    assert stored_balance(member_id) == 10000
    assert len(statement(api, token)["items"]) == 1
    # the refused payment id is free to use once the money is there
    assert pay(api, "p-1", 10000, phone=phone).status == 201


def test_given_a_member_who_never_topped_up_then_a_payment_is_insufficient_funds(api, member):
    _, member_id, phone = member
    assert_problem(pay(api, "p-1", 1, phone=phone), 409, "insufficient_funds")
    assert stored_balance(member_id) == 0


def test_given_the_same_payment_twice_then_200_with_the_identical_body_even_after_the_money_is_gone(api, funded):
    _, member_id, phone = funded
    first = pay(api, "p-1", 10000, phone=phone)
    again = pay(api, "p-1", 10000, phone=phone)
    assert (first.status, again.status) == (201, 200)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert stored_balance(member_id) == 0


def test_given_a_payment_id_reused_with_another_body_then_409_idempotency_conflict_and_nothing_changes(api, funded):
    _, member_id, phone = funded
    pay(api, "p-1", 1000, phone=phone)
    assert_problem(pay(api, "p-1", 2000, phone=phone), 409, "idempotency_conflict")
    assert_problem(pay(api, "p-1", 1000, phone=phone, store_id="other-store"), 409, "idempotency_conflict")
    assert stored_balance(member_id) == 9000


def test_given_the_same_id_used_for_a_topup_and_a_payment_then_they_are_separate_operations(api, funded):
    _, member_id, phone = funded
    assert pay(api, "x-1", 1000, phone=phone).status == 201
    assert topup(api, "x-1", 500, phone=phone).status == 201
    assert stored_balance(member_id) == 9500


def test_given_another_payment_lands_between_read_and_commit_then_the_retry_sees_it_and_refuses_rather_than_overdraw(api, aws, funded):
    """The wallet write is conditioned on the version read: a stale read never commits."""
    _, member_id, phone = funded
    raw = aws.client("dynamodb")
    table = get_settings().table_name

    def concurrent_payment() -> None:  # another till takes 60.00 just before our commit
        raw.update_item(
            TableName=table,
            Key={"pk": {"S": keys.member_pk(member_id)}, "sk": {"S": keys.WALLET_SK}},
            UpdateExpression="SET balance = balance - :amount, version = version + :one",
            ExpressionAttributeValues={":amount": {"N": "6000"}, ":one": {"N": "1"}},
        )

    with inject("TransactWriteItems", lambda: concurrent_payment(), times=1):
        reply = pay(api, "p-1", 5000, phone=phone)

    assert_problem(reply, 409, "insufficient_funds")
    assert int(Wallet.get(keys.member_pk(member_id), keys.WALLET_SK).balance) == 4000  # not 4000 - 5000


# --- member states -------------------------------------------------------------------


def test_given_a_frozen_member_then_top_ups_and_payments_are_403_member_frozen_but_a_refund_still_comes_back(api, funded):
    _, member_id, phone = funded
    assert pay(api, "p-1", 3000, phone=phone).status == 201
    set_status(member_id, "frozen")

    assert_problem(topup(api, "t-2", 1000, phone=phone), 403, "member_frozen")
    assert_problem(pay(api, "p-2", 1000, phone=phone), 403, "member_frozen")
    assert stored_balance(member_id) == 7000
    assert refund(api, "p-1", "r-1", 3000).json()["balance"] == 10000
    assert stored_balance(member_id) == 10000


def test_given_a_closed_member_then_every_wallet_write_is_409_member_closed_and_the_statement_401(api, funded):
    token, member_id, phone = funded
    assert pay(api, "p-1", 3000, phone=phone).status == 201
    set_status(member_id, "closed")

    assert_problem(topup(api, "t-2", 1000, member_id=member_id), 409, "member_closed")
    assert_problem(pay(api, "p-2", 1000, member_id=member_id), 409, "member_closed")
    assert_problem(refund(api, "p-1", "r-1", 1000), 409, "member_closed")
    assert_problem(api.get("/v1/me/wallet", headers=bearer(token)), 401, "unauthorized")
    assert stored_balance(member_id) == 7000


def test_given_a_member_frozen_after_the_read_then_the_payment_does_not_commit(api, aws, funded):
    """The member's status is checked inside the transaction, not only before it."""
    _, member_id, phone = funded

    with inject("TransactWriteItems", lambda: set_status(member_id, "frozen"), times=1):
        reply = pay(api, "p-1", 1000, phone=phone)

    assert_problem(reply, 403, "member_frozen")
    assert stored_balance(member_id) == 10000


# --- refunds of payments ---------------------------------------------------------------


def test_given_a_payment_then_partial_refunds_credit_back_until_they_reach_the_payment_and_no_further(api, funded):
    token, member_id, phone = funded
    pay(api, "p-1", 6000, phone=phone)

    first = refund(api, "p-1", "r-1", 2000)
    second = refund(api, "p-1", "r-2", 4000)
    over = refund(api, "p-1", "r-3", 1)

    assert first.status == second.status == 201
    assert first.json() == {"refund_id": "r-1", "payment_id": "p-1", "amount": 2000, "balance": 6000}
    assert second.json()["balance"] == 10000
    assert_problem(over, 409, "refund_exceeds_purchase")
    items = statement(api, token)["items"]
    assert [(e["kind"], e["amount"], e["ref"]) for e in items[:2]] == [("refund", 4000, "p-1"), ("refund", 2000, "p-1")]
    assert stored_balance(member_id) == 10000


def test_given_one_refund_larger_than_the_payment_then_409_and_nothing_changes(api, funded):
    _, member_id, phone = funded
    pay(api, "p-1", 6000, phone=phone)
    assert_problem(refund(api, "p-1", "r-1", 6001), 409, "refund_exceeds_purchase")
    assert stored_balance(member_id) == 4000


def test_given_the_same_refund_twice_then_200_identical_and_credited_once_even_when_the_payment_is_fully_refunded(api, funded):
    _, member_id, phone = funded
    pay(api, "p-1", 6000, phone=phone)
    first = refund(api, "p-1", "r-1", 6000)
    again = refund(api, "p-1", "r-1", 6000)
    assert (first.status, again.status) == (201, 200)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert_problem(refund(api, "p-1", "r-1", 5000), 409, "idempotency_conflict")
    assert stored_balance(member_id) == 10000


def test_given_an_unknown_payment_then_refund_404_and_a_malformed_payment_id_400(api, funded):
    assert_problem(refund(api, "no-such-payment", "r-1", 100), 404, "not_found")
    assert_problem(refund(api, "%20bad%20id", "r-1", 100), 400, "validation_error")


def test_given_a_refused_payment_then_there_is_nothing_to_refund(api, funded):
    _, member_id, phone = funded
    pay(api, "p-1", 999999, phone=phone)
    assert_problem(refund(api, "p-1", "r-1", 100), 404, "not_found")
    assert stored_balance(member_id) == 10000


# --- currencies ------------------------------------------------------------------------


def test_given_a_currency_the_program_does_not_accept_then_400_on_currency_and_nothing_changes(api, funded):
    _, member_id, phone = funded
    for reply in (topup(api, "t-2", 1000, "USD", phone=phone), pay(api, "p-1", 1000, "USD", phone=phone)):
        body = assert_problem(reply, 400, "validation_error")
        assert [e["field"] for e in body["errors"]] == ["currency"]
    assert stored_balance(member_id) == 10000


def test_given_two_program_currencies_then_the_wallet_keeps_the_currency_of_its_first_top_up(api, aws, funded):
    use_rules(aws, currencies=("CNY", "HKD"))
    token, member_id, phone = funded
    body = assert_problem(topup(api, "t-2", 1000, "HKD", phone=phone), 400, "validation_error")
    assert "CNY" in body["errors"][0]["message"]
    assert_problem(pay(api, "p-1", 1000, "HKD", phone=phone), 400, "validation_error")
    assert statement(api, token)["currency"] == "CNY"
    assert stored_balance(member_id) == 10000


# --- bad input -------------------------------------------------------------------------

BAD_BODIES = [
    pytest.param({"amount": 0}, "amount", id="zero"),
    pytest.param({"amount": -500}, "amount", id="negative"),
    pytest.param({"amount": 10.5}, "amount", id="float"),
    pytest.param({"amount": "100"}, "amount", id="string"),
    pytest.param({"amount": True}, "amount", id="boolean"),
    pytest.param({"amount": 10**13}, "amount", id="too-large"),
    pytest.param({"amount": None}, "amount", id="null"),
    pytest.param({"currency": "cny"}, "currency", id="lowercase-currency"),
    pytest.param({"currency": None}, "currency", id="null-currency"),
    pytest.param({"phone": "not-a-phone"}, "phone", id="bad-phone"),
    pytest.param({"store_id": "有 空格"}, "store_id", id="bad-store-id"),
    pytest.param({"extra": 1}, "extra", id="unknown-field"),
]


@pytest.mark.parametrize(("change", "field"), BAD_BODIES)
@pytest.mark.parametrize("operation", ["topup", "payment"])
def test_given_bad_input_then_400_validation_error_names_the_field_and_nothing_changes(api, funded, operation, change, field):
    _, member_id, phone = funded
    id_field, path = ("topup_id", "/v1/wallet/topups") if operation == "topup" else ("payment_id", "/v1/wallet/payments")
    body = {id_field: "x-1", "phone": phone, "amount": 1000, "currency": "CNY", **change}

    reply = api.post(path, body, headers=MERCHANT)

    problem = assert_problem(reply, 400, "validation_error")
    assert field in [e["field"] for e in problem["errors"]], problem
    assert stored_balance(member_id) == 10000


def test_given_an_amount_written_with_a_zero_fraction_then_it_is_that_integer(api, funded):
    """JSON has one number type, and JSON Schema's integer includes 1000.0: the API agrees."""
    _, member_id, phone = funded
    raw = f'{{"payment_id":"p-1","phone":"{phone}","amount":1000.0,"currency":"CNY"}}'.encode()
    reply = api.request("POST", "/v1/wallet/payments", body=raw, headers=MERCHANT)
    assert (reply.status, reply.json()["amount"], reply.json()["balance"]) == (201, 1000, 9000)
    assert stored_balance(member_id) == 9000


@pytest.mark.parametrize("operation", ["topup", "payment"])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"amount": 1000, "currency": "CNY", "phone": "+8613900000001"}, id="missing-id"),
        pytest.param({"x_id": "x-1", "currency": "CNY", "phone": "+8613900000001"}, id="missing-amount"),
        pytest.param({"x_id": "x-1", "amount": 1000, "phone": "+8613900000001"}, id="missing-currency"),
        pytest.param({"x_id": "x-1", "amount": 1000, "currency": "CNY"}, id="no-member"),
        pytest.param({"x_id": "x-1", "amount": 1000, "currency": "CNY", "phone": "+8613900000001", "member_id": "mbr_1"}, id="two-members"),
        pytest.param({"x_id": "../etc", "amount": 1000, "currency": "CNY", "phone": "+8613900000001"}, id="bad-id"),
        pytest.param([], id="not-an-object"),
    ],
)
def test_given_missing_or_malformed_fields_then_400_validation_error(api, operation, body):
    id_field, path = ("topup_id", "/v1/wallet/topups") if operation == "topup" else ("payment_id", "/v1/wallet/payments")
    if isinstance(body, dict) and "x_id" in body:
        body = {id_field: body.pop("x_id"), **body}
    problem = assert_problem(api.post(path, body, headers=MERCHANT), 400, "validation_error")
    assert problem["errors"]


@pytest.mark.parametrize("raw", [b"", b"{", b"null", b'{"refund_id": "r-1", "amount": 1.5}', b'{"refund_id": "r-1"}', b'{"amount": 100}'])
def test_given_a_bad_refund_body_then_400_validation_error_and_nothing_changes(api, funded, raw):
    _, member_id, phone = funded
    pay(api, "p-1", 1000, phone=phone)
    reply = api.request("POST", "/v1/wallet/payments/p-1/refunds", body=raw, headers=MERCHANT)
    assert_problem(reply, 400, "validation_error")
    assert stored_balance(member_id) == 9000


def test_given_no_or_a_wrong_merchant_key_then_401_and_nothing_changes(api, funded):
    _, member_id, phone = funded
    body = {"payment_id": "p-1", "phone": phone, "amount": 1000, "currency": "CNY"}
    assert_problem(api.post("/v1/wallet/payments", body), 401, "unauthorized")
    assert_problem(api.post("/v1/wallet/topups", {**body, "topup_id": "t-9"}, headers={"x-api-key": "wrong"}), 401, "unauthorized")
    assert_problem(api.post("/v1/wallet/payments/p-1/refunds", {"refund_id": "r", "amount": 1}), 401, "unauthorized")
    assert stored_balance(member_id) == 10000


# --- the statement -----------------------------------------------------------------------


def test_given_many_movements_then_the_statement_pages_newest_first_and_its_amounts_add_up_to_the_balance(api, funded):
    token, member_id, phone = funded
    for n in range(3):
        pay(api, f"p-{n}", 1000 + n, phone=phone)
    refund(api, "p-2", "r-1", 1002)
    topup(api, "t-2", 500, phone=phone)

    wallet = statement(api, token)

    assert [e["kind"] for e in wallet["items"]] == ["topup", "refund", "payment", "payment", "payment", "topup"]
    assert sum(e["amount"] for e in wallet["items"]) == wallet["balance"] == stored_balance(member_id) == 10000 - 3003 + 1002 + 500
    assert wallet["items"][0]["balance_after"] == wallet["balance"]
    assert len({e["entry_id"] for e in wallet["items"]}) == 6


def test_given_a_member_without_a_wallet_then_the_statement_is_an_empty_zero_balance(api, member):
    token, _, _ = member
    reply = api.get("/v1/me/wallet", headers=bearer(token))
    assert reply.status == 200
    assert reply.json() == {"balance": 0, "currency": "CNY", "items": [], "next_cursor": None}


def test_given_a_member_the_statement_shows_only_their_own_wallet(api, members, funded):
    other_token, _ = members.verified()
    assert api.get("/v1/me/wallet", headers=bearer(other_token)).json()["balance"] == 0


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "cursor=not-a-cursor", "cursor=UFJPRklMRSNMRURHRVIjMQ"])
def test_given_a_bad_limit_or_cursor_then_400_validation_error(api, funded, query):
    token, _, _ = funded
    assert_problem(api.get(f"/v1/me/wallet?{query}", headers=bearer(token)), 400, "validation_error")


def test_given_no_token_then_the_statement_is_401(api):
    assert_problem(api.get("/v1/me/wallet"), 401, "unauthorized")


# --- faults ------------------------------------------------------------------------------


def test_given_transaction_conflicts_when_paying_then_it_is_retried_and_debited_once(api, funded):
    _, member_id, phone = funded
    with inject("TransactWriteItems", transaction_conflict, times=2) as injected:
        reply = pay(api, "p-1", 2500, phone=phone)
    assert injected[0] == 2
    assert reply.status == 201 and reply.json()["balance"] == 7500
    assert stored_balance(member_id) == 7500


def test_given_throttling_that_does_not_stop_then_503_retryable_nothing_written_and_the_retry_applies_once(api, funded):
    _, member_id, phone = funded
    with inject("TransactWriteItems", throttled, times=10_000):
        failed = topup(api, "t-2", 5000, phone=phone)
    body = assert_problem(failed, 503, "temporarily_unavailable")
    assert body["status"] == 503 and int(failed.headers["Retry-After"]) >= 1
    assert stored_balance(member_id) == 10000
    assert topup(api, "t-2", 5000, phone=phone).status == 201
    replay = topup(api, "t-2", 5000, phone=phone)
    assert replay.status == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert stored_balance(member_id) == 15000


def test_given_a_throttled_read_then_503_not_500(api, funded):
    _, _, phone = funded
    with inject("BatchGetItem", throttled, times=10_000):
        reply = pay(api, "p-1", 100, phone=phone)
    assert_problem(reply, 503, "temporarily_unavailable")


def test_given_a_payment_whose_commit_answer_is_lost_then_the_retry_answers_201_and_it_is_debited_once(api, funded):
    _, member_id, phone = funded
    handler, lost = _lost_answer("TransactWriteItems")
    for client in _clients():
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", handler, unique_id="lose-answer")
    try:
        reply = pay(api, "p-1", 4000, phone=phone)
    finally:
        for client in _clients():
            client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", unique_id="lose-answer")
    assert lost[0] == 1
    assert reply.status == 201
    assert reply.json()["balance"] == 6000
    assert stored_balance(member_id) == 6000


def test_given_a_refund_whose_commit_answer_is_lost_then_it_is_credited_once(api, funded):
    _, member_id, phone = funded
    pay(api, "p-1", 4000, phone=phone)
    handler, lost = _lost_answer("TransactWriteItems")
    for client in _clients():
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", handler, unique_id="lose-answer")
    try:
        reply = refund(api, "p-1", "r-1", 4000)
    finally:
        for client in _clients():
            client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", unique_id="lose-answer")
    assert lost[0] == 1
    assert reply.status == 201 and reply.json()["balance"] == 10000
    assert stored_balance(member_id) == 10000


# --- privacy -------------------------------------------------------------------------------


def test_given_wallet_operations_by_phone_then_no_log_line_holds_the_phone(api, members, capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="huiyuan")
    phone = "+8613912345679"
    members.verified(phone)
    capfd.readouterr()
    topup(api, "t-1", 10000, phone=phone.removeprefix("+86"))
    pay(api, "p-1", 1000, phone=phone)
    pay(api, "p-2", 99999, phone=phone)
    refund(api, "p-1", "r-1", 100)
    topup(api, "t-2", 100, phone="+8613700000000")
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "wallet topped up" in logged and "wallet payment" in logged
    for secret in (phone, phone.removeprefix("+86"), "13700000000", "local-dev-key"):
        assert secret not in logged
