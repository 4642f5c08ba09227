"""Bad input: a clear problem+json answer, never a 500, and nothing changes."""

import json

import pytest

from chalicelib.store.models import BaseItem
from tests.integration.conftest import MERCHANT, bearer


def _items():
    return sorted((i.pk, i.sk) for i in BaseItem.scan())


def _assert_problem(reply, status, code):
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    body = reply.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"] and body["detail"] and body["type"]
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12345", "name": "张伟"}, "phone"),
        ({"phone": "13800138000"}, "name"),
        ({"phone": "13800138000", "name": "   "}, "name"),
        ({"phone": "13800138000", "name": "张伟", "email": "not-an-email"}, "email"),
        ({"phone": "13800138000", "name": "张伟", "birthday": "2999-01-01"}, "birthday"),
        ({"phone": "13800138000", "name": "张伟", "birthday": "1990-02-30"}, "birthday"),
        ({"phone": "13800138000", "name": "张伟", "birthday": 0}, "birthday"),  # a number is not read as a Unix time
        ({"phone": "13800138000", "name": "张伟", "gender": "unknown"}, "gender"),
        ({"phone": "13800138000", "name": "张伟", "extra": 1}, "extra"),
        ({"phone": 13800138000, "name": "张伟"}, "phone"),
        ({"phone": "13800138000", "name": "张伟", "consents": {"sms_marketing": "yes"}}, "consents.sms_marketing"),
    ],
)
def test_given_invalid_signup_fields_then_400_naming_the_field_and_nothing_is_stored(api, body, field):
    before = _items()
    problem = _assert_problem(api.post("/v1/signup", body), 400, "validation_error")
    assert field in [e["field"] for e in problem["errors"]]
    assert _items() == before


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b"\xff\xfe", b"", b'"text"'])
def test_given_malformed_json_then_400_validation_error(api, raw):
    _assert_problem(api.request("POST", "/v1/signup", body=raw), 400, "validation_error")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -100}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"amount": "12850"}, "amount"),
        ({"amount": True}, "amount"),
        ({"currency": "USD"}, "currency"),
        ({"currency": "cny"}, "currency"),
        ({"order_id": ""}, "order_id"),
        ({"occurred_at": "2026-11-22T10:00:00"}, "occurred_at"),
        ({"phone": "not a phone"}, "phone"),
    ],
)
def test_given_invalid_purchase_fields_then_400_and_no_points(api, members, change, field):
    phone = members.phone()
    before = _items()
    body = {"order_id": "o-1", "phone": phone, "amount": 12850, "currency": "CNY", **change}
    problem = _assert_problem(api.post("/v1/purchases", body, headers=MERCHANT), 400, "validation_error")
    assert any(e["field"].startswith(field) or e["field"] == "body" for e in problem["errors"])
    assert _items() == before


def test_given_both_phone_and_member_id_then_400(api, members):
    body = {"order_id": "o-1", "phone": members.phone(), "member_id": "mbr_x", "amount": 100, "currency": "CNY"}
    _assert_problem(api.post("/v1/purchases", body, headers=MERCHANT), 400, "validation_error")


def test_given_a_huge_body_then_413_before_anything_is_parsed(api):
    huge = json.dumps({"phone": "13800138000", "name": "x" * 70_000}).encode()
    _assert_problem(api.request("POST", "/v1/signup", body=huge), 413, "payload_too_large")


def test_given_a_non_json_content_type_then_415(api):
    reply = api.request("POST", "/v1/signup", body=b"phone=1", headers={"content-type": "application/x-www-form-urlencoded"})
    _assert_problem(reply, 415, "unsupported_media_type")


def test_given_a_wrong_method_then_405_with_allow(api):
    reply = api.request("GET", "/v1/signup")
    _assert_problem(reply, 405, "method_not_allowed")
    assert "POST" in reply.headers["Allow"]


def test_given_an_unknown_route_then_404(api):
    _assert_problem(api.get("/v1/nothing-here"), 404, "not_found")


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"x-api-key": ""}])
def test_given_no_or_a_wrong_merchant_key_then_401_and_nothing_awarded(api, members, headers):
    before = _items()
    body = {"order_id": "o-1", "phone": members.phone(), "amount": 100, "currency": "CNY"}
    _assert_problem(api.post("/v1/purchases", body, headers=headers), 401, "unauthorized")
    assert _items() == before


@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer not.a.token", "Basic abc", "bearer "])
def test_given_no_or_a_broken_token_then_401(api, auth):
    headers = {"authorization": auth} if auth is not None else {}
    _assert_problem(api.get("/v1/me", headers=headers), 401, "unauthorized")


def test_given_a_tampered_token_then_401(api, members):
    token, _ = members.verified()
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    _assert_problem(api.get("/v1/me", headers=bearer(tampered)), 401, "unauthorized")


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "cursor=%%%", "cursor=UFJPRklMRQ"])
def test_given_bad_list_parameters_then_400(api, members, query):
    token, _ = members.verified()
    _assert_problem(api.get(f"/v1/me/ledger?{query}", headers=bearer(token)), 400, "validation_error")


def test_given_a_redemption_without_idempotency_key_then_400(api, members):
    token, _ = members.verified()
    _assert_problem(api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers=bearer(token)), 400, "validation_error")


def test_given_an_unknown_reward_then_404_and_no_points_spent(api, members):
    token, _ = members.verified()
    reply = api.post("/v1/me/redemptions", {"reward_id": "unicorn"}, headers={**bearer(token), "Idempotency-Key": "k1"})
    _assert_problem(reply, 404, "not_found")
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == 100


# --- strict input (issue 10) -----------------------------------------------------------------

# Every list a member or an operator pages through.
MEMBER_LISTS = ["/v1/me/ledger", "/v1/me/wallet", "/v1/me/coupons", "/v1/me/feedback"]
OPERATOR_LISTS = ["/v1/admin/audit?day=2026-11-30&", "/v1/admin/feedback?", "/v1/admin/merchant-keys?", "/v1/admin/rewards?"]
NOT_ASCII_DIGITS = ["%C2%B2", "%D9%A3", "%EF%BC%93", "1" * 4301, "+5", "5%20", "0x10"]


@pytest.mark.parametrize("limit", NOT_ASCII_DIGITS)
def test_given_a_limit_that_is_not_plain_ascii_digits_then_every_list_answers_400(api, members, limit):
    token, _ = members.verified()
    for path in MEMBER_LISTS:
        _assert_problem(api.get(f"{path}?limit={limit}", headers=bearer(token)), 400, "validation_error")
    for path in OPERATOR_LISTS:
        _assert_problem(api.get(f"{path}limit={limit}"), 400, "validation_error")


def test_given_a_cursor_longer_than_any_the_api_gives_then_400(api, members):
    token, _ = members.verified()
    _assert_problem(api.get(f"/v1/me/ledger?cursor={'A' * 2000}", headers=bearer(token)), 400, "validation_error")


def test_given_a_key_given_twice_then_400_naming_it_and_nothing_is_awarded(api, members):
    phone = members.phone()
    before = _items()
    raw = f'{{"order_id":"o-1","phone":"{phone}","amount":1,"amount":1000000,"currency":"CNY"}}'.encode()
    problem = _assert_problem(api.request("POST", "/v1/purchases", body=raw, headers=MERCHANT), 400, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["amount"]
    nested = b'{"phone":"13800138000","name":"a","consents":{"push":true,"push":false}}'
    _assert_problem(api.request("POST", "/v1/signup", body=nested), 400, "validation_error")
    assert _items() == before


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/plain;charset=UTF-8", "multipart/form-data; boundary=x", "application/jsonx"])
def test_given_a_body_without_a_json_content_type_then_415_and_nothing_is_stored(api, content_type):
    before = _items()
    body = json.dumps({"phone": "13800138000", "name": "张伟"}).encode()
    _assert_problem(api.request("POST", "/v1/signup", body=body, headers={"content-type": content_type}), 415, "unsupported_media_type")
    assert _items() == before


def test_given_json_content_types_with_a_charset_or_in_capitals_then_they_are_read(api, members):
    for content_type in ("application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"):
        body = json.dumps({"phone": members.phone(), "name": "张伟"}).encode()
        assert api.request("POST", "/v1/signup", body=body, headers={"content-type": content_type}).status == 202, content_type


@pytest.mark.parametrize(
    "name",
    [
        "\u200b\u200b",  # zero-width spaces only
        "\u3000 \u00a0",  # ideographic, plain and no-break spaces
        "\ufeff\u2060",  # BOM, word joiner
        "\u3164",  # Hangul filler, which renders as nothing
        "张\u202e伟",  # right-to-left override
        "Anna\u2066x\u2069",  # directional isolate
        "a\x85b",  # a C1 control
    ],
)
def test_given_a_name_with_nothing_visible_or_a_bidi_override_then_400_and_nothing_is_stored(api, name):
    before = _items()
    problem = _assert_problem(api.post("/v1/signup", {"phone": "13800138000", "name": name}), 400, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["name"]
    assert _items() == before


def test_given_a_name_in_decomposed_form_then_it_is_stored_composed(api, members):
    token, _ = members.verified(name="Zoe\u0301 Ame\u0301lie")  # e + combining acute
    assert api.get("/v1/me", headers=bearer(token)).json()["name"] == "Zo\u00e9 Am\u00e9lie"


def test_given_feedback_of_only_invisible_characters_then_400(api, members):
    token, _ = members.verified()
    reply = api.post("/v1/me/feedback", {"category": "store", "text": "\u200b\n\u200b"}, headers=bearer(token))
    _assert_problem(reply, 400, "validation_error")


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00", "2000-01-01T00:00:00+08:00"])
def test_given_a_purchase_time_no_till_could_report_then_400_and_no_points(api, members, occurred_at):
    before = _items()
    body = {"order_id": "o-1", "phone": members.phone(), "amount": 100, "currency": "CNY", "occurred_at": occurred_at}
    problem = _assert_problem(api.post("/v1/purchases", body, headers=MERCHANT), 400, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["occurred_at"]
    assert _items() == before


def test_given_a_purchase_reported_a_day_late_then_it_is_accepted(api, members):
    from datetime import UTC, datetime, timedelta

    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {"order_id": "o-late", "phone": members.phone(), "amount": 100, "currency": "CNY", "occurred_at": yesterday}
    assert api.post("/v1/purchases", body, headers=MERCHANT).status == 201


@pytest.mark.parametrize("order_id", ["%C2%B2", "o%201", "%D9%A3", "o" * 129])
def test_given_an_order_id_outside_the_pattern_in_the_path_then_400(api, order_id):
    _assert_problem(api.post(f"/v1/purchases/{order_id}/refunds", {"refund_id": "r-1", "amount": 1}, headers=MERCHANT), 400, "validation_error")
