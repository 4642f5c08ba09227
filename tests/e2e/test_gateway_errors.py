"""What a client gets when the request itself is wrong: a missing or forged
token, an unknown route, a bad merchant key, an oversized or unreadable body,
the wrong media type or method. Always a problem+json answer with a stable
code, never a 5xx, and the server keeps serving."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from tests.e2e.factories import (
    TIMEOUT,
    assert_problem,
    bearer,
    merchant_headers,
    new_order_id,
    new_phone,
    purchase,
    signed_in_member,
    signup,
)

pytestmark = pytest.mark.e2e

BODY_LIMIT = 64 * 1024


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64url_json(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def get_me(stack, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(stack.url("/v1/me"), headers=headers or {}, timeout=TIMEOUT)


@pytest.fixture
def member(stack):
    return signed_in_member(stack)


def test_given_a_valid_token_when_reading_me_then_200(stack, member):
    """The control for the refusals below: the untouched token is accepted."""
    reply = get_me(stack, bearer(member.token))
    assert reply.status_code == 200, reply.text
    assert reply.json()["member_id"] == member.member_id


def test_given_no_token_when_reading_me_then_401_unauthorized(stack):
    assert_problem(get_me(stack), 401, "unauthorized")


def test_given_a_token_with_a_flipped_signature_character_when_reading_me_then_401(stack, member):
    header, payload, signature = member.token.split(".")
    # The first character carries six signature bits (the last one may only carry padding bits).
    flipped = ("B" if signature[0] != "B" else "C") + signature[1:]

    reply = get_me(stack, bearer(f"{header}.{payload}.{flipped}"))

    assert_problem(reply, 401, "unauthorized")


def test_given_a_token_whose_payload_names_another_member_when_reading_me_then_401(stack, member):
    other = signed_in_member(stack)
    header, _, signature = member.token.split(".")
    forged_payload = b64url_json({**claims_of(member.token), "sub": other.member_id})

    reply = get_me(stack, bearer(f"{header}.{forged_payload}.{signature}"))

    assert_problem(reply, 401, "unauthorized")


def test_given_an_unsigned_alg_none_token_when_reading_me_then_401(stack, member):
    unsigned_header = b64url_json({"alg": "none", "typ": "JWT"})
    payload = member.token.split(".")[1]  # the member's genuine claims, unexpired

    for token in (f"{unsigned_header}.{payload}.", f"{unsigned_header}.{payload}"):
        assert_problem(get_me(stack, bearer(token)), 401, "unauthorized")


def test_given_a_path_no_route_serves_when_requesting_it_then_404_not_found(stack):
    assert_problem(requests.get(stack.url("/v1/no-such-thing"), timeout=TIMEOUT), 404, "not_found")
    assert_problem(requests.post(stack.url("/v1/no-such-thing"), json={}, timeout=TIMEOUT), 404, "not_found")


def test_given_a_wrong_or_missing_merchant_key_when_reporting_a_purchase_then_401_and_nothing_is_recorded(stack, member):
    order = {"order_id": new_order_id(), "member_id": member.member_id, "amount": 10000, "currency": "CNY"}

    wrong = requests.post(stack.url("/v1/purchases"), json=order, headers=merchant_headers("not-the-key"), timeout=TIMEOUT)
    missing = requests.post(stack.url("/v1/purchases"), json=order, timeout=TIMEOUT)

    assert_problem(wrong, 401, "unauthorized")
    assert_problem(missing, 401, "unauthorized")
    # The refused order was not recorded: with the right key it is new (201, not a 200 replay).
    accepted = purchase(stack, **order)
    assert accepted.status_code == 201, accepted.text


def test_given_a_body_over_64_kib_when_posting_it_then_413_payload_too_large_and_the_server_keeps_serving(stack):
    phone = new_phone()
    oversized = json.dumps({"phone": phone, "name": "张" * (BODY_LIMIT // 3 + 1000)}).encode()
    assert len(oversized) > BODY_LIMIT

    reply = requests.post(stack.url("/v1/signup"), data=oversized, headers={"Content-Type": "application/json"}, timeout=TIMEOUT)

    assert_problem(reply, 413, "payload_too_large")
    assert requests.get(stack.url("/v1/health"), timeout=TIMEOUT).status_code == 200
    assert signup(stack, phone).status_code == 202  # the refused signup sent nothing and throttled nothing


def test_given_malformed_json_when_signing_up_then_400_validation_error_with_an_errors_list(stack):
    reply = requests.post(
        stack.url("/v1/signup"),
        data=b'{"phone": "+8613912345678", "name": ',
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )

    body = assert_problem(reply, 400, "validation_error")
    assert isinstance(body.get("errors"), list) and body["errors"], body
    for error in body["errors"]:
        assert isinstance(error["field"], str) and error["field"]
        assert isinstance(error["message"], str) and error["message"]


def test_given_a_text_plain_body_when_signing_up_then_415_unsupported_media_type(stack):
    reply = requests.post(
        stack.url("/v1/signup"),
        data=json.dumps({"phone": new_phone(), "name": "张伟"}).encode(),
        headers={"Content-Type": "text/plain"},
        timeout=TIMEOUT,
    )

    assert_problem(reply, 415, "unsupported_media_type")


def test_given_the_signup_route_when_using_put_then_405_method_not_allowed(stack):
    reply = requests.put(stack.url("/v1/signup"), json={"phone": new_phone(), "name": "张伟"}, timeout=TIMEOUT)

    assert_problem(reply, 405, "method_not_allowed")
