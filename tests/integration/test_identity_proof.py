"""A phone is proven only by a code sent to it by SMS, an email only by a code sent to it,
and no answer tells who is a member (issue 10, ../shared/API.md)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.store import keys
from chalicelib.store.models import BaseItem, Member
from tests.integration.conftest import MERCHANT, bearer
from tests.support.outbox import last_code, messages

ADDRESS = {"city": "上海", "street": "南京西路1266号"}


def _member(phone: str) -> Member:
    guard = BaseItem.get(keys.phone_pk(phone), keys.GUARD)
    return Member.get(keys.member_pk(guard.member_id), keys.PROFILE)


def _sent_to(outbox: str, to: str) -> list[dict[str, Any]]:
    return [m for m in messages(outbox) if m["to"] == to]


def _unthrottle(phone: str) -> None:
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()


def test_given_a_stranger_signing_up_with_someone_elses_phone_and_their_own_email_then_they_get_nothing(api, members, outbox_path):
    victim = members.phone()
    # The stranger asks for the code by email: that option is gone, and the request is refused whole.
    refused = api.post("/v1/signup", {"phone": victim, "name": "Mallory", "email": "mallory@evil.example", "code_channel": "email"})
    assert (refused.status, refused.json()["errors"][0]["field"]) == (400, "code_channel")
    assert BaseItem.count(keys.phone_pk(victim)) == 0

    # Without it, the code goes to the phone by SMS, and nothing at all to the stranger's inbox.
    assert api.post("/v1/signup", {"phone": victim, "name": "Mallory", "email": "mallory@evil.example"}).status == 202
    assert [m["channel"] for m in _sent_to(outbox_path, victim)] == ["sms"]
    assert _sent_to(outbox_path, "mallory@evil.example") == []
    _unthrottle(victim)
    assert api.post("/v1/auth/code", {"phone": victim, "channel": "email"}).status == 202
    assert _sent_to(outbox_path, "mallory@evil.example") == []

    # The till credits the phone's (pending) membership, which nobody can sign in to without the SMS.
    assert members.purchase("o-1", 50000, phone=victim).status == 201
    pending = _member(victim)  # the stranger's signup changed nothing on it
    assert (pending.status, pending.name, pending.email, pending.pending_email, int(pending.balance)) == ("pending", None, None, None, 500)

    # The phone's owner signs up: their profile replaces the stranger's, and their SMS code activates it.
    _unthrottle(victim)
    assert api.post("/v1/signup", {"phone": victim, "name": "张伟"}).status == 202
    owner = api.post("/v1/auth/verify", {"phone": victim, "code": last_code(outbox_path, victim)}).json()
    me = owner["member"]
    assert (me["name"], me["status"], me["email"], me["pending_email"], me["points"]["balance"]) == ("张伟", "active", None, None, 600)
    assert _sent_to(outbox_path, "mallory@evil.example") == []


def test_given_a_signup_email_then_it_is_only_pending_until_the_code_sent_to_it_comes_back(api, members, outbox_path):
    token, body = members.verified(email="nana@example.cn", confirm_email=False)
    assert (body["member"]["email"], body["member"]["pending_email"], body["member"]["email_verified"]) == (None, "nana@example.cn", False)
    # activation sent the confirmation code to the email (and only then: the phone had to be proven first)
    assert [(m["channel"], m["kind"]) for m in _sent_to(outbox_path, "nana@example.cn")] == [("email", "verification_code")]
    confirmed = api.post("/v1/me/email/verify", {"code": last_code(outbox_path, "nana@example.cn")}, headers=bearer(token)).json()
    assert (confirmed["email"], confirmed["pending_email"], confirmed["email_verified"]) == ("nana@example.cn", None, True)


def test_given_an_unconfirmed_email_then_it_never_counts_for_the_completion_bonus(api, members, outbox_path):
    token, _ = members.verified(email="nana@example.cn", birthday="1990-05-18", confirm_email=False)
    me = api.request("PATCH", "/v1/me", json_body={"gender": "female", "address": ADDRESS}, headers=bearer(token)).json()
    assert (me["points"]["balance"], me["profile_completed"]) == (100, False)
    confirmed = api.post("/v1/me/email/verify", {"code": last_code(outbox_path, "nana@example.cn")}, headers=bearer(token)).json()
    assert (confirmed["points"]["balance"], confirmed["profile_completed"]) == (150, True)


def test_given_a_confirmed_email_and_a_proven_phone_then_sign_in_codes_can_go_by_email(api, members, outbox_path):
    _, body = members.verified(email="nana@example.cn")
    phone = body["member"]["phone"]
    _unthrottle(phone)
    reply = api.post("/v1/auth/code", {"phone": phone, "channel": "email"})
    assert (reply.status, reply.json()["verification"]["channel"]) == (202, "email")
    assert _sent_to(outbox_path, "nana@example.cn")[-1]["channel"] == "email"
    code = last_code(outbox_path, "nana@example.cn")
    signed_in = api.post("/v1/auth/verify", {"phone": phone, "code": code})
    assert signed_in.status == 200, signed_in.text
    assert signed_in.json()["member"]["member_id"] == body["member"]["member_id"]


def test_given_a_pending_email_then_asking_for_an_email_code_sends_nothing_anywhere(api, members, outbox_path):
    _, body = members.verified(email="nana@example.cn", confirm_email=False)
    phone = body["member"]["phone"]
    _unthrottle(phone)
    sent = len(messages(outbox_path))
    assert api.post("/v1/auth/code", {"phone": phone, "channel": "email"}).json()["verification"]["channel"] == "email"
    assert len(messages(outbox_path)) == sent


def _legacy_email_member(members, outbox_path) -> tuple[str, str]:
    """A member activated, before phones had to be proven, through an email code: as the
    table holds such members (code_channel email, no proof of the phone, an email nobody confirmed)."""
    _, body = members.verified()
    phone, member_id = body["member"]["phone"], body["member"]["member_id"]
    member = Member.get(keys.member_pk(member_id), keys.PROFILE)
    member.update(actions=[Member.code_channel.set("email"), Member.email.set("legacy@example.cn"), Member.phone_verified_at.remove()])
    _unthrottle(phone)
    return phone, member_id


def test_given_a_member_who_signed_in_by_email_on_an_unproven_phone_then_their_next_code_goes_by_sms_and_proves_the_phone(api, members, outbox_path):
    phone, member_id = _legacy_email_member(members, outbox_path)
    sent = len(messages(outbox_path))
    assert api.post("/v1/auth/code", {"phone": phone, "channel": "email"}).status == 202
    assert len(messages(outbox_path)) == sent  # the email is not a sign-in channel: the phone was never proven
    _unthrottle(phone)
    assert api.post("/v1/auth/code", {"phone": phone}).status == 202
    assert _sent_to(outbox_path, phone)[-1]["channel"] == "sms"
    me = api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)}).json()["member"]
    assert (me["member_id"], me["email"], me["email_verified"]) == (member_id, None, False)  # the unconfirmed email is dropped
    stored = Member.get(keys.member_pk(member_id), keys.PROFILE)
    assert stored.phone_verified_at is not None and stored.code_channel == "sms"


def _answer(reply) -> tuple[int, str, tuple[tuple[str, str], ...]]:
    return reply.status, reply.text, tuple(sorted(reply.headers.items()))


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_given_registered_and_unregistered_phones_then_signup_and_code_requests_answer_exactly_the_same(api, members, outbox_path, channel):
    _, with_email = members.verified(email="a@example.cn")
    _, without = members.verified()
    legacy_phone, _ = _legacy_email_member(members, outbox_path)
    pending = members.signed_up()
    phones = [with_email["member"]["phone"], without["member"]["phone"], legacy_phone, pending, members.phone()]
    answers = set()
    for phone in phones:
        _unthrottle(phone)
        answers.add(_answer(api.post("/v1/auth/code", {"phone": phone, "channel": channel})))
    assert len(answers) == 1, answers
    signups = set()
    for phone in phones:
        _unthrottle(phone)
        signups.add(_answer(api.post("/v1/signup", {"phone": phone, "name": "李娜"})))
    assert len(signups) == 1, signups
    # and the resend interval refuses every phone alike
    refused = {_answer(api.post("/v1/auth/code", {"phone": phone, "channel": channel})) for phone in phones}
    assert len(refused) == 1 and next(iter(refused))[0] == 429


def test_given_an_email_code_then_it_never_proves_a_phone_that_was_not(api, members, outbox_path):
    """The code item remembers its channel: an email code cannot activate, even if one were there."""
    from datetime import UTC, datetime

    from chalicelib.store.codes import new_code_item
    from chalicelib.store.parameters import load_rules

    phone = members.signed_up()
    item, code = new_code_item(keys.phone_pk(phone), keys.CODE, phone, load_rules(), datetime.now(UTC), channel="email")
    item.save()
    reply = api.post("/v1/auth/verify", {"phone": phone, "code": code})
    assert (reply.status, reply.json()["code"]) == (401, "invalid_code")
    assert _member(phone).status == "pending"


def test_given_a_phone_change_then_the_new_phone_is_proven_by_its_sms_code(api, members, outbox_path):
    token, body = members.verified()
    new = members.phone()
    api.post("/v1/me/phone", {"phone": new}, headers=bearer(token))
    assert _sent_to(outbox_path, new)[-1]["channel"] == "sms"
    assert api.post("/v1/me/phone/verify", {"phone": new, "code": last_code(outbox_path, new)}, headers=bearer(token)).status == 200
    moved = Member.get(keys.member_pk(body["member"]["member_id"]), keys.PROFILE)
    assert moved.phone == new and moved.phone_verified_at is not None


def test_given_a_purchase_for_an_unknown_phone_then_the_invitation_goes_by_sms_to_that_phone_only(api, members, outbox_path):
    phone = members.phone()
    assert members.purchase("o-1", 1000, phone=phone).status == 201
    assert [(m["channel"], m["kind"]) for m in _sent_to(outbox_path, phone)] == [("sms", "invite")]
    assert api.post("/v1/purchases", {"order_id": "o-2", "phone": phone, "amount": 1000, "currency": "CNY"}, headers=MERCHANT).status == 201


def test_given_a_stranger_signing_up_for_a_members_pending_phone_then_nothing_of_theirs_reaches_the_membership(api, members, outbox_path):
    """Referral farming and forged consent: a signup's profile is the member's only once its code comes back."""
    _, referrer = members.verified()
    victim = members.phone()
    assert members.purchase("o-1", 1000, phone=victim).status == 201  # the till enrols a pending member
    stranger = {
        "phone": victim,
        "name": "Mallory",
        "email": "mallory@evil.example",
        "birthday": "1970-01-01",
        "referral_code": referrer["member"]["referral_code"],
        "consents": {"sms_marketing": True, "email_marketing": True, "push": True},
    }
    assert api.post("/v1/signup", stranger).status == 202
    untouched = _member(victim)
    assert (untouched.name, untouched.pending_email, untouched.birthday, untouched.referred_by) == (None, None, None, None)
    assert not any(untouched.consents.as_dict().values())
    # The owner signs in with a code of their own (no profile): the stranger's stays nowhere.
    _unthrottle(victim)
    assert api.post("/v1/auth/code", {"phone": victim}).status == 202
    me = api.post("/v1/auth/verify", {"phone": victim, "code": last_code(outbox_path, victim)}).json()["member"]
    assert (me["name"], me["pending_email"], me["birthday"]) == (None, None, None)
    assert me["consents"] == {"sms_marketing": False, "email_marketing": False, "push": False}
    assert _member(victim).referred_by is None
    assert _sent_to(outbox_path, "mallory@evil.example") == []
