"""Tokens stop working when the member signs out or the membership closes (issue 10). The
authorizer checks the token alone; every member route refuses a closed membership or a
signed-out token on its own member read (usecases/sessions.py), at once: even while API
Gateway still serves its cached answer of the authorizer (`gateway_cache` below)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from chalice.app import ChaliceAuthorizer

from chalicelib.domain import tokens
from chalicelib.store import keys
from chalicelib.store.models import BaseItem, Member
from chalicelib.store.parameters import signing_key
from tests.integration.conftest import bearer
from tests.support.outbox import last_code

MEMBER_READS = ["/v1/me", "/v1/me/ledger", "/v1/me/wallet", "/v1/me/coupons", "/v1/me/feedback", "/v1/me/export"]

# Every route behind the member token, with a body it accepts (validation comes first): a new
# member route must be added here (test_every_member_route_is_listed_here_and_admits_its_session).
MEMBER_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/me", None),
    ("GET", "/v1/me/ledger", None),
    ("GET", "/v1/me/wallet", None),
    ("GET", "/v1/me/coupons", None),
    ("GET", "/v1/me/feedback", None),
    ("GET", "/v1/me/export", None),
    ("POST", "/v1/me/redemptions", {"reward_id": "coffee"}),
    ("POST", "/v1/me/memberships", {"plan_id": "plus"}),
    ("POST", "/v1/me/memberships/{membership_id}/refunds", None),
    ("POST", "/v1/me/wallet/wechat-topups", {"amount": 100}),
    ("GET", "/v1/me/wallet/wechat-topups/{out_trade_no}", None),
    ("PATCH", "/v1/me", {"name": "王芳"}),
    ("POST", "/v1/me/email/verify", {"code": "123456"}),
    ("POST", "/v1/me/phone", {"phone": "+8613900139000"}),
    ("POST", "/v1/me/phone/verify", {"phone": "+8613900139000", "code": "123456"}),
    ("POST", "/v1/me/feedback", {"category": "service", "text": "很好"}),
    ("DELETE", "/v1/me", None),
    ("POST", "/v1/me/sign-out", None),
    ("GET", "/v1/me/check-ins", None),
    ("POST", "/v1/me/check-ins", None),
    ("POST", "/v1/me/product-codes", {"code": "7KQ2-M9XD-4TPR-HB3C"}),
    ("GET", "/v1/me/surveys", None),
    ("GET", "/v1/me/surveys/{survey_id}", None),
    ("POST", "/v1/me/surveys/{survey_id}/responses", {"answers": {"score": 4}}),
    ("POST", "/v1/me/transfers", {"to_phone": "+8613900139000", "points": 1}),
    ("GET", "/v1/me/transfers/allowance", None),
    ("POST", "/v1/me/devices", {"platform": "apns", "token": "a" * 64}),
    ("DELETE", "/v1/me/devices/{device_id}", None),
    ("GET", "/v1/me/wechat", None),
    ("DELETE", "/v1/me/wechat", None),
    ("POST", "/v1/me/wechat/subscriptions", {"accepted": []}),
    ("DELETE", "/v1/me/wechat/subscriptions", None),
]


@pytest.fixture
def gateway_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """API Gateway's cache of the authorizer's answer per token (30 s when deployed), emulated
    for the whole test: the authorizer runs once per token, later requests get its first answer."""
    answers: dict[str, Any] = {}
    authorize = ChaliceAuthorizer.__call__

    def cached(self: ChaliceAuthorizer, event: dict[str, Any], context: Any) -> dict[str, Any]:
        token = event.get("authorizationToken") or ""
        if token not in answers:
            answers[token] = authorize(self, event, context)
        return copy.deepcopy(answers[token])

    monkeypatch.setattr(ChaliceAuthorizer, "__call__", cached)
    yield answers


def _call(api, method: str, path: str, body: dict[str, Any] | None, token: str):
    path = (
        path.replace("{membership_id}", "msp_0123456789abcdef")
        .replace("{survey_id}", "sv_17960673607169bab333c")
        .replace("{device_id}", "dev_0123456789abcdef01234567")
    )
    return api.request(method, path, json_body=body, headers={**bearer(token), "Idempotency-Key": "k-session"})


def _refused(reply) -> None:
    assert reply.status == 401, reply.text
    assert reply.json()["code"] == "unauthorized"


def test_given_a_member_who_signs_out_then_every_token_issued_before_stops_working_and_a_new_sign_in_works(api, members, outbox_path):
    token, body = members.verified()
    phone = body["member"]["phone"]
    signed_out = api.post("/v1/me/sign-out", headers=bearer(token))
    assert (signed_out.status, signed_out.text) == (204, "")
    for path in MEMBER_READS:
        _refused(api.get(path, headers=bearer(token)))
    _refused(api.post("/v1/me/sign-out", headers=bearer(token)))
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()
    api.post("/v1/auth/code", {"phone": phone})
    fresh = api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)}).json()["access_token"]
    assert api.get("/v1/me", headers=bearer(fresh)).json()["member_id"] == body["member"]["member_id"]


def test_given_an_operator_closes_a_membership_then_its_tokens_are_refused_on_every_route(api, members):
    token, body = members.verified()
    closed = api.post(f"/v1/admin/members/{body['member']['member_id']}/close", {"reason": "asked by phone"})
    assert closed.status == 200, closed.text
    for path in MEMBER_READS:
        _refused(api.get(path, headers=bearer(token)))


def test_given_a_frozen_member_then_they_still_read_but_may_not_spend(api, members):
    token, body = members.verified()
    api.post(f"/v1/admin/members/{body['member']['member_id']}/freeze", {"reason": "suspicious activity"})
    me = api.get("/v1/me", headers=bearer(token))
    assert (me.status, me.json()["status"]) == (200, "frozen")
    redeemed = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k-1"})
    assert (redeemed.status, redeemed.json()["code"]) == (403, "member_frozen")


def test_given_a_token_of_an_older_epoch_or_one_made_without_our_key_then_it_is_refused(api, members):
    _, body = members.verified()
    member_id = body["member"]["member_id"]
    now = datetime.now(UTC)
    older = tokens.issue_access_token(signing_key(), member_id, now, 900, epoch=0)
    assert api.get("/v1/me", headers=bearer(older)).status == 200  # the current epoch is 0
    Member.get(keys.member_pk(member_id), keys.PROFILE).update(actions=[Member.token_epoch.set(3)])
    _refused(api.get("/v1/me", headers=bearer(older)))
    current = tokens.issue_access_token(signing_key(), member_id, now, 900, epoch=3)
    assert api.get("/v1/me", headers=bearer(current)).status == 200
    claims = jwt.decode(current, signing_key(), algorithms=["HS256"], audience=tokens.AUDIENCE)
    forged = jwt.encode({**claims, "ep": 3}, b"x" * 48, algorithm="HS256")
    _refused(api.get("/v1/me", headers=bearer(forged)))


def _signed_token(member_id: str, **epoch: object) -> str:
    """A token signed with our key, valid for five minutes, with the `ep` claim given (or none)."""
    now = datetime.now(UTC)
    claims = {
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "sub": member_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        **epoch,
    }
    return jwt.encode(claims, signing_key(), algorithm="HS256")


@pytest.mark.parametrize("epoch", [-1, "3", True, 1.5])
def test_given_a_token_whose_epoch_is_not_a_small_integer_then_it_is_refused(api, members, epoch):
    _, body = members.verified()
    _refused(api.get("/v1/me", headers=bearer(_signed_token(body["member"]["member_id"], ep=epoch))))


def test_given_a_token_from_before_epochs_then_it_belongs_to_the_first_epoch(api, members):
    _, body = members.verified()
    assert api.get("/v1/me", headers=bearer(_signed_token(body["member"]["member_id"]))).status == 200


def test_given_a_closed_membership_restored_by_an_operator_then_the_tokens_from_before_stay_refused(api, members, outbox_path):
    token, body = members.verified()
    assert api.request("DELETE", "/v1/me", headers=bearer(token)).status == 200
    restored = api.post(f"/v1/admin/members/{body['member']['member_id']}/restore", {"reason": "asked to come back"})
    assert restored.status == 200, restored.text
    _refused(api.get("/v1/me", headers=bearer(token)))
    phone = body["member"]["phone"]
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()
    api.post("/v1/auth/code", {"phone": phone})
    fresh = api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)}).json()["access_token"]
    assert api.get("/v1/me", headers=bearer(fresh)).json()["status"] == "active"


def test_every_member_route_is_listed_here_and_admits_its_session():
    from app import app

    behind_token = {
        (method, path)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if entry.authorizer is not None and entry.authorizer.name == "member_token"
    }
    assert behind_token == {(method, path) for method, path, _ in MEMBER_ROUTES}
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            if (method, path) in behind_token:
                assert getattr(entry.view_function, "member_route", False), f"{method} {path} is not declared with member_route"


@pytest.mark.parametrize(("method", "path", "body"), MEMBER_ROUTES, ids=[f"{m} {p}" for m, p, _ in MEMBER_ROUTES])
def test_given_a_member_who_signed_out_while_the_gateway_still_caches_the_token_then_every_member_route_answers_401(
    api, members, gateway_cache, method, path, body
):
    token, _ = members.verified()
    assert api.get("/v1/me", headers=bearer(token)).status == 200  # the gateway now holds the authorizer's answer
    assert api.post("/v1/me/sign-out", headers=bearer(token)).status == 204
    _refused(_call(api, method, path, body, token))
    assert len(gateway_cache) == 1  # the authorizer ran once: the refusal is the route's own


@pytest.mark.parametrize(("method", "path", "body"), MEMBER_ROUTES, ids=[f"{m} {p}" for m, p, _ in MEMBER_ROUTES])
def test_given_a_membership_closed_by_an_operator_while_the_gateway_still_caches_the_token_then_every_member_route_answers_401(
    api, members, gateway_cache, method, path, body
):
    token, reply = members.verified()
    assert api.get("/v1/me", headers=bearer(token)).status == 200
    closed = api.post(f"/v1/admin/members/{reply['member']['member_id']}/close", {"reason": "asked by phone"})
    assert closed.status == 200, closed.text
    _refused(_call(api, method, path, body, token))


def test_given_a_signed_out_token_then_a_later_ledger_page_is_refused_too(api, members, gateway_cache):
    token, _ = members.verified()
    first = api.get("/v1/me/ledger?limit=1", headers=bearer(token))
    assert first.status == 200, first.text
    cursor = first.json()["next_cursor"] or "x"
    assert api.post("/v1/me/sign-out", headers=bearer(token)).status == 204
    _refused(api.get(f"/v1/me/ledger?limit=1&cursor={cursor}", headers=bearer(token)))


def test_the_authorizer_answers_from_the_token_alone_and_passes_its_epoch_to_the_route(api, members, gateway_cache):
    token, _ = members.verified()
    assert api.get("/v1/me", headers=bearer(token)).status == 200
    (answer,) = gateway_cache.values()
    assert answer["context"] == {"epoch": "0"}
    assert api.post("/v1/me/sign-out", headers=bearer(token)).status == 204
    fresh = tokens.issue_access_token(signing_key(), answer["principalId"], datetime.now(UTC), 900, epoch=1)
    assert api.get("/v1/me", headers=bearer(fresh)).status == 200
    assert gateway_cache[f"Bearer {fresh}"]["context"] == {"epoch": "1"}
