"""Operator-assisted recovery of a lost phone (issue 13 item 3): a member without a confirmed email
asks the store; an operator moves the membership to a new phone (POST /v1/admin/members/{id}/phone,
audited with the reason), and the move completes only when the member signs in on the new phone
with the code texted to it. The old phone is then released; nobody takes a phone they cannot prove."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from chalicelib.store import keys
from chalicelib.store.models import Member, SendThrottle, VerificationCode
from tests.integration.conftest import bearer
from tests.support.outbox import last_code, messages

WHY = {"reason": "工单 #5120: lost phone, ID checked at the counter"}
OPERATOR = {"X-Operator": "li.na"}


def _move(api, member_id, phone, reason=WHY["reason"]):
    return api.post(f"/v1/admin/members/{member_id}/phone", {"phone": phone, "reason": reason}, headers=OPERATOR)


def _problem(reply, status, code):
    assert (reply.status, reply.json()["code"]) == (status, code), reply.text


def _audit(api, member_id):
    return api.get(f"/v1/admin/audit?member_id={member_id}").json()["items"]


def _found_by_phone(api, phone):
    return [m["member_id"] for m in api.get(f"/v1/admin/members?phone={phone}").json()["items"]]


def _sign_in(api, phone, code):
    return api.post("/v1/auth/verify", {"phone": phone, "code": code})


def test_given_a_member_without_email_when_an_operator_moves_them_and_they_prove_the_new_phone_then_it_is_theirs_and_the_old_one_is_released(
    api, members, outbox_path, caplog
):
    caplog.set_level(logging.DEBUG, logger="huiyuan")
    # Given a member with no email, who lost their phone
    old_token, body = members.verified()
    member_id, old_phone = body["member"]["member_id"], body["member"]["phone"]
    new_phone = members.phone()

    # When an operator moves the membership to the new phone
    moved = _move(api, member_id, new_phone.removeprefix("+86"))  # a national number, as typed at the counter
    assert moved.status == 202, moved.text
    assert moved.json() == {
        "member_id": member_id,
        "moving_to_phone": new_phone,
        "audit_id": moved.json()["audit_id"],
        "verification": {"channel": "sms", "expires_in": 300},
    }
    code = last_code(outbox_path, new_phone)

    # Then, until the new phone is proven, nothing has moved: the old phone and its tokens still work
    assert api.get("/v1/me", headers=bearer(old_token)).json()["phone"] == old_phone
    assert _found_by_phone(api, old_phone) == [member_id] and _found_by_phone(api, new_phone) == []

    # When the member signs in on the new phone with the code texted to it
    signed_in = _sign_in(api, new_phone, code)

    # Then the membership is theirs on the new phone, with its points
    assert signed_in.status == 200, signed_in.text
    member = signed_in.json()["member"]
    assert (member["member_id"], member["phone"], member["points"]["balance"]) == (member_id, new_phone, 100)
    assert api.get("/v1/me", headers=bearer(signed_in.json()["access_token"])).json()["phone"] == new_phone
    # And every earlier token has ended
    assert api.get("/v1/me", headers=bearer(old_token)).status == 401
    # And the old phone is released: it signs nobody in (no code goes to it), and is no member's
    assert _found_by_phone(api, old_phone) == [] and _found_by_phone(api, new_phone) == [member_id]
    sent_before = len(messages(outbox_path))
    assert api.post("/v1/auth/code", {"phone": old_phone}).status == 202
    assert not [m for m in messages(outbox_path)[sent_before:] if m["to"] == old_phone]
    _problem(_sign_in(api, old_phone, code), 401, "invalid_code")
    # The old phone was told (in case it was not the member), and the code works once only
    assert [m["kind"] for m in messages(outbox_path) if m["to"] == old_phone][-1] == "phone_changed"
    _problem(_sign_in(api, new_phone, code), 401, "invalid_code")

    # And both steps are audited: who asked and why, then the member's proof; phones only by their last four digits
    completed, requested = _audit(api, member_id)[:2]
    assert (requested["action"], requested["actor"], requested["reason"]) == ("member.phone_move.request", "local-operator:li.na", WHY["reason"])
    assert requested["audit_id"] == moved.json()["audit_id"]
    assert requested["after"] == {"phone": "…" + old_phone[-4:], "moving_to_phone": "…" + new_phone[-4:]}
    assert (completed["action"], completed["actor"]) == ("member.phone_move.complete", "member")
    assert completed["after"] == {"phone": "…" + new_phone[-4:], "moving_to_phone": None}
    trail = json.dumps([requested, completed], ensure_ascii=False)
    for phone in (old_phone, new_phone, old_phone[3:], new_phone[3:]):
        assert phone not in trail and phone not in caplog.text


def test_given_a_phone_that_is_another_member_s_then_the_move_is_refused_and_nothing_is_taken_or_sent(api, members, outbox_path):
    _, body = members.verified()
    member_id = body["member"]["member_id"]
    _, other = members.verified()
    taken = other["member"]["phone"]
    sent_before = len(messages(outbox_path))

    _problem(_move(api, member_id, taken), 409, "phone_taken")

    assert _found_by_phone(api, taken) == [other["member"]["member_id"]]
    assert not [m for m in messages(outbox_path)[sent_before:] if m["to"] == taken]
    assert [e["action"] for e in _audit(api, member_id)] == []


def test_given_a_closed_frozen_or_never_activated_member_or_a_bad_request_then_the_move_is_refused_and_not_audited(api, members):
    _, body = members.verified()
    member_id, phone = body["member"]["member_id"], body["member"]["phone"]
    _problem(_move(api, member_id, phone), 400, "validation_error")  # already its phone
    _problem(api.post(f"/v1/admin/members/{member_id}/phone", {"phone": members.phone()}), 400, "validation_error")  # no reason
    _problem(_move(api, member_id, "12"), 400, "validation_error")
    _problem(_move(api, "mbr_0000000000000000", members.phone()), 404, "not_found")

    assert api.post(f"/v1/admin/members/{member_id}/freeze", WHY).status == 200
    _problem(_move(api, member_id, members.phone()), 403, "member_frozen")
    assert api.post(f"/v1/admin/members/{member_id}/close", WHY).status == 200
    _problem(_move(api, member_id, members.phone()), 409, "member_closed")
    assert [e["action"] for e in _audit(api, member_id)] == ["member.close", "member.freeze"]

    # A member the till enrolled never proved any phone: there is nothing to recover
    pending_phone = members.phone()
    assert members.purchase("o-1", 1000, phone=pending_phone).status == 201
    pending_id = _found_by_phone(api, pending_phone)[0]
    _problem(_move(api, pending_id, members.phone()), 409, "invalid_state")


def test_given_a_second_move_then_it_replaces_the_first_whose_code_no_longer_moves_anything(api, members, outbox_path):
    old_token, body = members.verified()
    member_id = body["member"]["member_id"]
    first, second = members.phone(), members.phone()
    assert _move(api, member_id, first).status == 202
    first_code = last_code(outbox_path, first)
    assert _move(api, member_id, second, "工单 #5120: the member gave the wrong number").status == 202

    _problem(_sign_in(api, first, first_code), 401, "invalid_code")
    assert api.get("/v1/me", headers=bearer(old_token)).status == 200  # nothing moved
    assert _sign_in(api, second, last_code(outbox_path, second)).json()["member"]["phone"] == second
    assert _found_by_phone(api, first) == []


def test_given_a_move_whose_code_expired_then_it_moves_nothing_and_the_operator_asks_again(api, members, outbox_path):
    old_token, body = members.verified()
    member_id, old_phone = body["member"]["member_id"], body["member"]["phone"]
    new_phone = members.phone()
    assert _move(api, member_id, new_phone).status == 202
    code = last_code(outbox_path, new_phone)
    # The code's time passes (TTL deletion lags in DynamoDB: the expiry on the item is what counts)
    item = VerificationCode.get(keys.phone_pk(new_phone), keys.CODE)
    item.update(actions=[VerificationCode.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])

    _problem(_sign_in(api, new_phone, code), 401, "invalid_code")
    assert api.get("/v1/me", headers=bearer(old_token)).json()["phone"] == old_phone
    assert _found_by_phone(api, new_phone) == []


def test_given_somebody_signs_up_on_the_new_phone_before_the_member_proves_it_then_the_move_is_void_and_refused_when_asked_again(
    api, members, outbox_path
):
    old_token, body = members.verified()
    member_id = body["member"]["member_id"]
    new_phone = members.phone()
    assert _move(api, member_id, new_phone).status == 202
    move_code = last_code(outbox_path, new_phone)
    # A minute later, whoever holds the new phone signs up on it (their own code replaces the move's)
    marker = SendThrottle.get(keys.phone_pk(new_phone), keys.SENT)
    marker.update(actions=[SendThrottle.sent_at.set(datetime.now(UTC) - timedelta(minutes=2))])
    members.signed_up(new_phone, name="王芳")

    _problem(_sign_in(api, new_phone, move_code), 401, "invalid_code")
    assert Member.get(keys.member_pk(member_id), keys.PROFILE).phone == body["member"]["phone"]
    assert api.get("/v1/me", headers=bearer(old_token)).status == 200
    _problem(_move(api, member_id, new_phone), 409, "phone_taken")


def test_given_a_move_voided_by_a_signup_then_the_operator_moves_the_member_to_another_phone_and_the_signup_keeps_its_code(api, members, outbox_path):
    _, body = members.verified()
    member_id = body["member"]["member_id"]
    taken, other = members.phone(), members.phone()
    assert _move(api, member_id, taken).status == 202
    marker = SendThrottle.get(keys.phone_pk(taken), keys.SENT)
    marker.update(actions=[SendThrottle.sent_at.set(datetime.now(UTC) - timedelta(minutes=2))])
    members.signed_up(taken, name="王芳")  # not yet verified: the phone's code is now the signup's
    signup_code = last_code(outbox_path, taken)

    assert _move(api, member_id, other).status == 202
    assert _sign_in(api, other, last_code(outbox_path, other)).json()["member"]["phone"] == other
    assert _sign_in(api, taken, signup_code).json()["member"]["name"] == "王芳"


def _a_minute_later(phone):
    """The phone's resend interval (60 s, as for any code to it) has passed."""
    marker = SendThrottle.get(keys.phone_pk(phone), keys.SENT)
    marker.update(actions=[SendThrottle.sent_at.set(datetime.now(UTC) - timedelta(minutes=2))])


def test_given_a_pending_move_whose_sms_was_lost_when_the_member_asks_for_a_code_on_the_new_phone_then_a_fresh_one_completes_it(
    api, members, outbox_path
):
    old_token, body = members.verified()
    member_id = body["member"]["member_id"]
    new_phone, nobodys = members.phone(), members.phone()
    assert _move(api, member_id, new_phone).status == 202
    lost = last_code(outbox_path, new_phone)
    deadline = VerificationCode.get(keys.phone_pk(new_phone), keys.CODE).expires_at

    # Asking again at once is refused as for any phone (one code a minute)
    _problem(api.post("/v1/auth/code", {"phone": new_phone}), 429, "too_many_attempts")
    _a_minute_later(new_phone)
    # When the member asks for a sign-in code on the new phone
    asked = api.post("/v1/auth/code", {"phone": new_phone})

    # Then the answer is the one any phone gets (nobody learns a move is pending)
    assert (asked.status, asked.json()) == (202, api.post("/v1/auth/code", {"phone": nobodys}).json())
    # And a fresh code for the move went to the new phone, with the move's deadline, not a later one
    fresh = last_code(outbox_path, new_phone)
    assert fresh != lost
    assert [m["kind"] for m in messages(outbox_path) if m["to"] == new_phone] == ["verification_code", "verification_code"]
    assert VerificationCode.get(keys.phone_pk(new_phone), keys.CODE).expires_at == deadline
    assert not [m for m in messages(outbox_path) if m["to"] == nobodys]
    # And the lost code no longer works; the fresh one completes the move
    _problem(_sign_in(api, new_phone, lost), 401, "invalid_code")
    signed_in = _sign_in(api, new_phone, fresh)
    assert signed_in.status == 200, signed_in.text
    assert signed_in.json()["member"]["phone"] == new_phone
    assert api.get("/v1/me", headers=bearer(old_token)).status == 401


def test_given_a_move_whose_code_expired_then_asking_for_a_code_sends_nothing_and_the_operator_asks_again(api, members, outbox_path):
    old_token, body = members.verified()
    member_id = body["member"]["member_id"]
    new_phone = members.phone()
    assert _move(api, member_id, new_phone).status == 202
    item = VerificationCode.get(keys.phone_pk(new_phone), keys.CODE)
    item.update(actions=[VerificationCode.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])
    _a_minute_later(new_phone)
    sent_before = len(messages(outbox_path))

    assert api.post("/v1/auth/code", {"phone": new_phone}).status == 202

    assert messages(outbox_path)[sent_before:] == []
    assert api.get("/v1/me", headers=bearer(old_token)).status == 200
    # The operator asks again: a new move, a new code
    _a_minute_later(new_phone)
    assert _move(api, member_id, new_phone).status == 202
    assert _sign_in(api, new_phone, last_code(outbox_path, new_phone)).json()["member"]["phone"] == new_phone
