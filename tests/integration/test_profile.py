"""The member's own profile: PATCH /v1/me, email and phone changes, the completion bonus, the export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.store import keys
from chalicelib.store.models import BaseItem, LedgerEntry, Member, VerificationCode
from tests.integration.conftest import MERCHANT, bearer
from tests.support.outbox import last_code, messages

ADDRESS = {"country": "CN", "province": "上海市", "city": "上海市", "district": "静安区", "street": "南京西路1266号", "postal_code": "200040"}


def _patch(api, token: str, body: Any, **kw: Any):
    return api.request("PATCH", "/v1/me", json_body=body, headers=bearer(token), **kw)


def _me(api, token: str) -> dict[str, Any]:
    reply = api.get("/v1/me", headers=bearer(token))
    assert reply.status == 200, reply.text
    return reply.json()


def _ledger(api, token: str) -> list[dict[str, Any]]:
    return api.get("/v1/me/ledger?limit=100", headers=bearer(token)).json()["items"]


def _assert_problem(reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    body = reply.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


def _expire(pk: str, sk: str) -> None:
    """Move a stored code's expiry into the past (as if its five minutes had passed)."""
    code = VerificationCode.get(pk, sk, consistent_read=True)
    code.update(actions=[VerificationCode.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])


def _unthrottle(pk: str, sk: str) -> None:
    """Let the resend interval pass."""
    BaseItem(pk, sk).delete()


def _emails_to(outbox: str, to: str) -> list[dict[str, Any]]:
    return [m for m in messages(outbox) if m["to"] == to]


# --- PATCH /v1/me ---------------------------------------------------------------------------


def test_given_a_member_when_patching_the_profile_then_the_fields_change_and_read_back_unchanged(api, members):
    token, _ = members.verified()
    reply = _patch(
        api,
        token,
        {
            "name": "欧阳娜娜",
            "gender": "female",
            "address": ADDRESS,
            "preferences": ["coffee", "desserts"],
            "tags": ["student"],
            "consents": {"push": True},
        },
    )
    assert reply.status == 200, reply.text
    me = _me(api, token)
    assert me == reply.json()
    assert me["name"] == "欧阳娜娜"
    assert me["gender"] == "female"
    assert me["address"] == ADDRESS
    assert (me["preferences"], me["tags"]) == (["coffee", "desserts"], ["student"])
    assert me["consents"] == {"sms_marketing": False, "email_marketing": False, "push": True}


def test_given_a_partial_patch_then_only_the_named_fields_and_consent_flags_change(api, members):
    token, _ = members.verified(gender="male", consents={"sms_marketing": True, "email_marketing": True})
    _patch(api, token, {"tags": ["parent"]})
    reply = _patch(api, token, {"consents": {"email_marketing": False}})
    me = reply.json()
    assert me["gender"] == "male" and me["tags"] == ["parent"] and me["name"] == "张伟"
    assert me["consents"] == {"sms_marketing": True, "email_marketing": False, "push": False}


def test_given_null_for_clearable_fields_then_they_are_cleared(api, members):
    token, _ = members.verified(gender="other")
    _patch(api, token, {"address": ADDRESS, "tags": ["student"], "preferences": ["tea"]})
    me = _patch(api, token, {"gender": None, "address": None, "tags": None, "preferences": []}).json()
    assert (me["gender"], me["address"], me["tags"], me["preferences"]) == (None, None, [], [])


def test_given_repeated_choices_then_each_is_kept_once_in_order(api, members):
    token, _ = members.verified()
    assert _patch(api, token, {"preferences": ["tea", "coffee", "tea"]}).json()["preferences"] == ["tea", "coffee"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"name": "  "}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"birthday": "2999-01-01"}, "birthday"),
        ({"birthday": "1990-02-30"}, "birthday"),
        ({"gender": "unknown"}, "gender"),
        ({"address": {"city": "上海市"}}, "address.street"),
        ({"address": {"city": "上海市", "street": "南京西路", "postal_code": "!!"}}, "address.postal_code"),
        ({"address": {"city": "上海市", "street": "南京西路", "floor": 3}}, "address.floor"),
        ({"preferences": ["Coffee!"]}, "preferences.0"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"consents": {"sms_marketing": "yes"}}, "consents.sms_marketing"),
        ({"consents": {"push": None}}, "consents.push"),
        ({"consents": None}, "consents"),
        ({"phone": "13800138001"}, "phone"),
        ({"status": "active"}, "status"),
        ({"points": {"balance": 1_000_000}}, "points"),
    ],
)
def test_given_invalid_profile_fields_then_400_naming_the_field_and_nothing_changes(api, members, body, field):
    token, _ = members.verified()
    before = _me(api, token)
    reply = _patch(api, token, {"tags": ["student"], **body})
    problem = _assert_problem(reply, 400, "validation_error")
    assert field in [e["field"] for e in problem["errors"]]
    assert _me(api, token) == before


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'"name"'])
def test_given_a_body_that_is_not_a_json_object_then_400_and_nothing_changes(api, members, raw):
    token, _ = members.verified()
    before = _me(api, token)
    reply = api.request("PATCH", "/v1/me", body=raw, headers=bearer(token))
    _assert_problem(reply, 400, "validation_error")
    assert _me(api, token) == before


def test_given_no_token_or_a_bad_one_then_401_for_every_profile_route(api, members):
    token, _ = members.verified()
    for method, path in [
        ("PATCH", "/v1/me"),
        ("DELETE", "/v1/me"),
        ("GET", "/v1/me/export"),
        ("POST", "/v1/me/phone"),
        ("POST", "/v1/me/email/verify"),
    ]:
        for headers in ({}, bearer(token[:-3] + "abc")):
            reply = api.request(method, path, json_body={}, headers=headers)
            _assert_problem(reply, 401, "unauthorized")
    assert _me(api, token)["status"] == "active"


# --- birthday: once by the member, then only by an operator ----------------------------------


def test_given_no_birthday_when_the_member_sets_one_then_it_is_kept_and_the_birthday_gift_follows_it(api, members):
    from localstage.job import run
    from tests.integration.test_jobs import born_today, today

    token, _ = members.verified()
    assert _me(api, token)["birthday"] is None
    assert _patch(api, token, {"birthday": None}).status == 200  # a form sending "no birthday" back
    assert _patch(api, token, {"birthday": born_today()}).json()["birthday"] == born_today()
    assert run("birthday-bonus", today().isoformat(), False)["points_moved"] == 200
    assert _me(api, token)["points"]["balance"] == 300


@pytest.mark.parametrize("attempt", ["1991-03-04", None])
def test_given_a_birthday_set_when_the_member_changes_or_removes_it_then_409_birthday_locked_and_nothing_changes(api, members, attempt):
    token, _ = members.verified()
    _patch(api, token, {"birthday": "1990-05-18"})
    before = _me(api, token)
    reply = _patch(api, token, {"birthday": attempt, "name": "李娜"})
    _assert_problem(reply, 409, "birthday_locked")
    assert _me(api, token) == before


def test_given_a_birthday_from_signup_then_the_member_cannot_move_it_but_may_send_it_back_unchanged(api, members):
    token, _ = members.verified(birthday="1990-05-18")
    _assert_problem(_patch(api, token, {"birthday": "1990-05-19"}), 409, "birthday_locked")
    same = _patch(api, token, {"birthday": "1990-05-18", "name": "李娜"})
    assert same.status == 200 and same.json()["name"] == "李娜" and same.json()["birthday"] == "1990-05-18"


def test_given_a_locked_birthday_when_an_operator_corrects_it_then_it_changes_and_the_member_still_cannot(api, members):
    from chalicelib.usecases.profile import correct_birthday

    token, body = members.verified(birthday="1990-05-18")
    corrected = correct_birthday(body["member"]["member_id"], "1990-08-15", actor="operator:alice")
    assert corrected.birthday == "1990-08-15"
    assert _me(api, token)["birthday"] == "1990-08-15"
    _assert_problem(_patch(api, token, {"birthday": "1990-05-18"}), 409, "birthday_locked")


# --- email: pending until its code comes back ------------------------------------------------


def test_given_a_new_email_then_it_is_pending_until_the_code_sent_to_it_is_entered(api, members, outbox_path):
    token, _ = members.verified(email="old@example.com")
    reply = _patch(api, token, {"email": "new@example.cn"})
    assert reply.status == 200
    assert (reply.json()["email"], reply.json()["pending_email"]) == ("old@example.com", "new@example.cn")
    sent = _emails_to(outbox_path, "new@example.cn")
    assert [(m["channel"], m["kind"]) for m in sent] == [("email", "verification_code")]
    code = last_code(outbox_path, "new@example.cn")

    verified = api.post("/v1/me/email/verify", {"code": code}, headers=bearer(token))
    assert verified.status == 200, verified.text
    assert (verified.json()["email"], verified.json()["pending_email"]) == ("new@example.cn", None)
    assert _me(api, token)["email"] == "new@example.cn"
    # single use
    _assert_problem(api.post("/v1/me/email/verify", {"code": code}, headers=bearer(token)), 401, "invalid_code")


def test_given_a_wrong_or_expired_email_code_then_401_invalid_code_and_the_email_is_unchanged(api, members, outbox_path):
    token, body = members.verified(email="old@example.com")
    _patch(api, token, {"email": "new@example.cn"})
    code = last_code(outbox_path, "new@example.cn")
    wrong = "000000" if code != "000000" else "111111"
    _assert_problem(api.post("/v1/me/email/verify", {"code": wrong}, headers=bearer(token)), 401, "invalid_code")
    _expire(keys.member_pk(body["member"]["member_id"]), keys.change_sk("email"))
    _assert_problem(api.post("/v1/me/email/verify", {"code": code}, headers=bearer(token)), 401, "invalid_code")
    assert _me(api, token)["email"] == "old@example.com"


def test_given_no_pending_email_then_any_code_is_invalid(api, members):
    token, _ = members.verified(email="old@example.com")
    _assert_problem(api.post("/v1/me/email/verify", {"code": "123456"}, headers=bearer(token)), 401, "invalid_code")


def test_given_five_wrong_email_codes_then_429_even_for_the_right_code(api, members, outbox_path):
    token, _ = members.verified()
    _patch(api, token, {"email": "new@example.cn"})
    code = last_code(outbox_path, "new@example.cn")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        _assert_problem(api.post("/v1/me/email/verify", {"code": wrong}, headers=bearer(token)), 401, "invalid_code")
    locked = api.post("/v1/me/email/verify", {"code": code}, headers=bearer(token))
    _assert_problem(locked, 429, "too_many_attempts")
    assert int(locked.headers["Retry-After"]) > 0
    assert _me(api, token)["email"] is None


def test_given_an_email_code_just_sent_when_patching_a_new_email_again_then_429_and_nothing_in_that_patch_changes(api, members, outbox_path):
    token, body = members.verified()
    _patch(api, token, {"email": "first@example.cn"})
    again = _patch(api, token, {"email": "second@example.cn", "name": "李娜"})
    _assert_problem(again, 429, "too_many_attempts")
    me = _me(api, token)
    assert (me["name"], me["pending_email"]) == ("张伟", "first@example.cn")
    assert _emails_to(outbox_path, "second@example.cn") == []
    # once the interval has passed, asking again sends a new code (the old one no longer works)
    old_code = last_code(outbox_path, "first@example.cn")
    _unthrottle(keys.member_pk(body["member"]["member_id"]), keys.change_sent_sk("email"))
    assert _patch(api, token, {"email": "second@example.cn"}).json()["pending_email"] == "second@example.cn"
    if old_code != last_code(outbox_path, "second@example.cn"):
        _assert_problem(api.post("/v1/me/email/verify", {"code": old_code}, headers=bearer(token)), 401, "invalid_code")
    ok = api.post("/v1/me/email/verify", {"code": last_code(outbox_path, "second@example.cn")}, headers=bearer(token))
    assert ok.json()["email"] == "second@example.cn"


def test_given_an_email_when_it_is_removed_then_it_goes_at_once_and_a_pending_change_is_cancelled(api, members, outbox_path):
    token, body = members.verified(email="old@example.com")
    phone = body["member"]["phone"]
    _patch(api, token, {"email": "new@example.cn"})
    code = last_code(outbox_path, "new@example.cn")
    me = _patch(api, token, {"email": None}).json()
    assert (me["email"], me["pending_email"], me["email_verified"]) == (None, None, False)
    _assert_problem(api.post("/v1/me/email/verify", {"code": code}, headers=bearer(token)), 401, "invalid_code")
    # sign-in codes can no longer go by email: asking for one sends nothing anywhere
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()
    sent = len(messages(outbox_path))
    assert api.post("/v1/auth/code", {"phone": phone, "channel": "email"}).status == 202
    assert len(messages(outbox_path)) == sent


# --- the profile-completion bonus ------------------------------------------------------------


def test_given_the_optional_fields_first_all_filled_then_50_bonus_points_once_and_never_again(api, members, outbox_path):
    token, _ = members.verified(birthday="1990-05-18")
    _patch(api, token, {"gender": "female", "address": ADDRESS})
    assert _me(api, token)["points"]["balance"] == 100  # no email yet: not complete
    _patch(api, token, {"email": "nana@example.cn"})
    assert _me(api, token)["points"]["balance"] == 100  # pending: not yet the member's email
    me = api.post("/v1/me/email/verify", {"code": last_code(outbox_path, "nana@example.cn")}, headers=bearer(token)).json()
    assert me["profile_completed"] is True
    assert me["points"]["balance"] == 150
    bonus = _ledger(api, token)[0]
    assert (bonus["kind"], bonus["points"], bonus["balance_after"], bonus["ref"]) == ("bonus", 50, 150, "profile_completion")

    # emptying and refilling the profile earns nothing more
    _patch(api, token, {"gender": None})
    _patch(api, token, {"gender": "female"})
    assert _me(api, token)["points"]["balance"] == 150
    assert sum(e["points"] for e in _ledger(api, token)) == 150


def test_given_a_profile_completed_in_one_patch_then_the_bonus_comes_with_it(api, members):
    token, _ = members.verified(email="nana@example.cn", birthday="1990-05-18")
    me = _patch(api, token, {"gender": "undisclosed", "address": ADDRESS}).json()
    assert me["points"]["balance"] == 150 and me["profile_completed"] is True


def test_given_a_frozen_member_then_the_profile_changes_but_the_bonus_waits(api, members):
    token, body = members.verified(email="nana@example.cn", birthday="1990-05-18")
    member_id = body["member"]["member_id"]
    Member.get(keys.member_pk(member_id), keys.PROFILE).update(actions=[Member.status.set("frozen")])
    me = _patch(api, token, {"gender": "female", "address": ADDRESS}).json()
    assert (me["gender"], me["points"]["balance"], me["profile_completed"]) == ("female", 100, False)


# --- phone: a code to the new phone; uniqueness by the table ---------------------------------


def test_given_a_new_phone_when_its_code_is_entered_then_the_membership_moves_to_it(api, members, outbox_path):
    token, body = members.verified()
    old = body["member"]["phone"]
    new = members.phone()
    reply = api.post("/v1/me/phone", {"phone": new.removeprefix("+86")}, headers=bearer(token))
    assert (reply.status, reply.json()) == (202, {"verification": {"channel": "sms", "expires_in": 300}})
    code = last_code(outbox_path, new)

    moved = api.post("/v1/me/phone/verify", {"phone": new, "code": code}, headers=bearer(token))
    assert moved.status == 200, moved.text
    assert moved.json()["phone"] == new and moved.json()["member_id"] == body["member"]["member_id"]
    assert [m["kind"] for m in _emails_to(outbox_path, old)][-1] == "phone_changed"

    # the till finds the member by the new phone, and signing in works with it
    assert members.purchase("o-1", 1000, phone=new).json()["member_id"] == body["member"]["member_id"]
    _unthrottle(keys.phone_pk(new), keys.SENT)  # as if a minute had passed
    assert api.post("/v1/auth/code", {"phone": new}).status == 202
    assert api.post("/v1/auth/verify", {"phone": new, "code": last_code(outbox_path, new)}).json()["member"]["points"]["balance"] == 110
    # the old phone is free: signing up with it makes a new member
    _unthrottle(keys.phone_pk(old), keys.SENT)
    other = members.verified(phone=old)[1]["member"]
    assert other["member_id"] != body["member"]["member_id"] and other["points"]["balance"] == 100


def test_given_a_phone_of_another_member_then_the_request_looks_the_same_and_the_verify_is_409_phone_taken(api, members, outbox_path):
    token, body = members.verified()
    _, other = members.verified()
    taken, free = other["member"]["phone"], members.phone()
    BaseItem(keys.phone_pk(taken), keys.SENT).delete()  # the other member's own signup code went out moments ago
    to_taken = api.post("/v1/me/phone", {"phone": taken}, headers=bearer(token))
    to_free = api.post("/v1/me/phone", {"phone": free}, headers=bearer(token))
    assert (to_taken.status, to_taken.json()) == (to_free.status, to_free.json())  # no enumeration

    # the free phone's code was sent last and replaced the first: ask for the taken one again
    BaseItem(keys.phone_pk(taken), keys.SENT).delete()
    api.post("/v1/me/phone", {"phone": taken}, headers=bearer(token))
    reply = api.post("/v1/me/phone/verify", {"phone": taken, "code": last_code(outbox_path, taken)}, headers=bearer(token))
    _assert_problem(reply, 409, "phone_taken")
    assert _me(api, token)["phone"] == body["member"]["phone"]
    assert members.purchase("o-1", 1000, phone=taken).json()["member_id"] == other["member"]["member_id"]


def test_given_the_new_phone_taken_after_the_code_was_sent_then_the_table_refuses_the_move(api, members, outbox_path):
    token, body = members.verified()
    new = members.phone()
    api.post("/v1/me/phone", {"phone": new}, headers=bearer(token))
    code = last_code(outbox_path, new)
    members.purchase("o-1", 1000, phone=new)  # a till enrols someone else with that phone meanwhile
    _assert_problem(api.post("/v1/me/phone/verify", {"phone": new, "code": code}, headers=bearer(token)), 409, "phone_taken")
    assert _me(api, token)["phone"] == body["member"]["phone"]


def test_given_wrong_expired_or_mismatched_phone_codes_then_401_invalid_code_and_the_phone_is_unchanged(api, members, outbox_path):
    token, body = members.verified()
    new, elsewhere = members.phone(), members.phone()
    api.post("/v1/me/phone", {"phone": new}, headers=bearer(token))
    code = last_code(outbox_path, new)
    wrong = "000000" if code != "000000" else "111111"
    for attempt in ({"phone": new, "code": wrong}, {"phone": elsewhere, "code": code}):
        _assert_problem(api.post("/v1/me/phone/verify", attempt, headers=bearer(token)), 401, "invalid_code")
    _expire(keys.member_pk(body["member"]["member_id"]), keys.change_sk("phone"))
    _assert_problem(api.post("/v1/me/phone/verify", {"phone": new, "code": code}, headers=bearer(token)), 401, "invalid_code")
    assert _me(api, token)["phone"] == body["member"]["phone"]


def test_given_five_wrong_phone_codes_then_429_even_for_the_right_code(api, members, outbox_path):
    token, body = members.verified()
    new = members.phone()
    api.post("/v1/me/phone", {"phone": new}, headers=bearer(token))
    code = last_code(outbox_path, new)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        api.post("/v1/me/phone/verify", {"phone": new, "code": wrong}, headers=bearer(token))
    _assert_problem(api.post("/v1/me/phone/verify", {"phone": new, "code": code}, headers=bearer(token)), 429, "too_many_attempts")
    assert _me(api, token)["phone"] == body["member"]["phone"]


@pytest.mark.parametrize(("body", "field"), [({"phone": "12345"}, "phone"), ({}, "phone"), ({"phone": "13800138000", "x": 1}, "x")])
def test_given_an_invalid_phone_change_request_then_400_and_no_code_is_sent(api, members, outbox_path, body, field):
    token, _ = members.verified()
    sent = len(messages(outbox_path))
    problem = _assert_problem(api.post("/v1/me/phone", body, headers=bearer(token)), 400, "validation_error")
    assert field in [e["field"] for e in problem["errors"]]
    assert len(messages(outbox_path)) == sent


def test_given_the_current_phone_or_a_second_request_within_a_minute_then_400_or_429(api, members):
    token, body = members.verified()
    _assert_problem(api.post("/v1/me/phone", {"phone": body["member"]["phone"]}, headers=bearer(token)), 400, "validation_error")
    new = members.phone()
    assert api.post("/v1/me/phone", {"phone": new}, headers=bearer(token)).status == 202
    _assert_problem(api.post("/v1/me/phone", {"phone": new}, headers=bearer(token)), 429, "too_many_attempts")


def test_given_a_bad_phone_verify_body_then_400(api, members):
    token, _ = members.verified()
    for body in ({"phone": "13800138000", "code": "12ab56"}, {"code": "123456"}, {"phone": "1", "code": "123456"}):
        _assert_problem(api.post("/v1/me/phone/verify", body, headers=bearer(token)), 400, "validation_error")


# --- closed accounts ---------------------------------------------------------------------------


def test_given_a_closed_membership_then_its_token_can_no_longer_change_or_export_anything(api, members):
    token, body = members.verified()
    assert api.request("DELETE", "/v1/me", headers=bearer(token)).status == 200
    for method, path, payload in [
        ("PATCH", "/v1/me", {"name": "李娜"}),
        ("POST", "/v1/me/phone", {"phone": members.phone()}),
        ("POST", "/v1/me/phone/verify", {"phone": members.phone(), "code": "123456"}),
        ("POST", "/v1/me/email/verify", {"code": "123456"}),
        ("GET", "/v1/me/export", None),
    ]:
        _assert_problem(api.request(method, path, json_body=payload, headers=bearer(token)), 401, "unauthorized")
    member = Member.get(keys.member_pk(body["member"]["member_id"]), keys.PROFILE)
    assert member.name == "张伟"


# --- GET /v1/me/export ----------------------------------------------------------------------


def test_given_an_active_member_then_the_export_holds_everything_stored_about_them_and_no_secrets(api, members, outbox_path):
    token, body = members.verified(email="nana@example.cn", birthday="1990-05-18", consents={"sms_marketing": True})
    member_id, phone = body["member"]["member_id"], body["member"]["phone"]
    _patch(api, token, {"gender": "female", "address": ADDRESS, "tags": ["student"]})
    members.purchase("o-1", 60000, phone=phone)
    api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k-1"})
    _patch(api, token, {"email": "new@example.cn"})

    reply = api.get("/v1/me/export", headers=bearer(token))
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Disposition"].startswith("attachment;")
    data = reply.json()
    me = data["member"]
    assert (me["member_id"], me["phone"], me["name"], me["email"], me["birthday"]) == (member_id, phone, "张伟", "nana@example.cn", "1990-05-18")
    assert me["address"] == ADDRESS and me["tags"] == ["student"] and me["consents"]["sms_marketing"] is True
    assert me["balance"] == 100 + 50 + 600 - 500
    assert [(e["kind"], e["points"]) for e in data["ledger"]] == [("redeem", -500), ("earn", 600), ("bonus", 50), ("bonus", 100)]
    assert [o["order_id"] for o in data["orders"]] == ["o-1"] and data["orders"][0]["amount"] == 60000
    assert [c["reward_id"] for c in data["coupons"]] == ["coffee"]
    assert len(data["redemptions"]) == 1
    # one lot this month: everything earned into it (the bonuses and the purchase), whatever was spent since
    assert [lot["earned"] for lot in data["points_lots"]] == [100 + 50 + 600]
    assert all(e["lot"] == data["points_lots"][0]["month"] for e in data["ledger"] if e["points"] > 0)
    assert data["pending_changes"][0]["change"] == "email" and data["pending_changes"][0]["target"] == "new@example.cn"
    text = reply.text
    for secret in ('"pk"', '"sk"', '"digest"', '"salt"', '"nonce"', '"version"', '"fingerprint"', '"write_token"', "MEMBER#", "PHONE#"):
        assert secret not in text, secret
    code = last_code(outbox_path, "new@example.cn")
    assert code not in text


def test_given_another_members_token_then_the_export_is_theirs_not_mine(api, members):
    token, body = members.verified(name="甲")
    other_token, other = members.verified(name="乙")
    mine = api.get("/v1/me/export", headers=bearer(token)).json()
    theirs = api.get("/v1/me/export", headers=bearer(other_token)).json()
    assert mine["member"]["member_id"] == body["member"]["member_id"] and mine["member"]["name"] == "甲"
    assert theirs["member"]["member_id"] == other["member"]["member_id"]
    assert "甲" not in json.dumps(theirs, ensure_ascii=False)


def test_given_orders_of_the_member_then_only_they_are_exported(api, members):
    token, body = members.verified()
    _, other = members.verified()
    members.purchase("mine", 1000, phone=body["member"]["phone"])
    members.purchase("theirs", 1000, phone=other["member"]["phone"])
    api.post("/v1/purchases/mine/refunds", {"refund_id": "r-1", "amount": 500}, headers=MERCHANT)
    data = api.get("/v1/me/export", headers=bearer(token)).json()
    assert [(o["order_id"], o["refunded_amount"]) for o in data["orders"]] == [("mine", 500)]
    assert LedgerEntry.count(keys.member_pk(body["member"]["member_id"]), LedgerEntry.sk.startswith(keys.LEDGER_PREFIX)) == len(data["ledger"])


def test_given_profile_changes_exports_and_closure_then_no_log_line_holds_personal_data_or_codes(api, members, outbox_path, capfd, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="huiyuan")
    name, email, new_email, birthday = "欧阳娜娜", "nana.private@example.cn", "nana.next@example.cn", "1991-07-15"
    token, body = members.verified(name=name, email=email)
    phone, new_phone = body["member"]["phone"], members.phone()
    _patch(api, token, {"birthday": birthday, "gender": "female", "address": ADDRESS, "email": new_email})
    email_code = last_code(outbox_path, new_email)
    api.post("/v1/me/email/verify", {"code": "000000" if email_code != "000000" else "111111"}, headers=bearer(token))
    api.post("/v1/me/email/verify", {"code": email_code}, headers=bearer(token))
    api.post("/v1/me/phone", {"phone": new_phone}, headers=bearer(token))
    phone_code = last_code(outbox_path, new_phone)
    api.post("/v1/me/phone/verify", {"phone": new_phone, "code": phone_code}, headers=bearer(token))
    api.get("/v1/me/export", headers=bearer(token))
    api.request("DELETE", "/v1/me", headers=bearer(token))

    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "phone changed" in logged and "membership closed" in logged  # the logs were captured at all
    for value in (
        phone,
        new_phone,
        new_phone.removeprefix("+86"),
        name,
        email,
        new_email,
        birthday,
        ADDRESS["street"],
        email_code,
        phone_code,
        token,
    ):
        assert value not in logged, f"log leaked {value[:4]}..."
