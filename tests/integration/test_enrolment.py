"""Signup, codes and verification through the API (moto in-process)."""

from datetime import UTC, datetime, timedelta

import boto3

from chalicelib.store import keys
from chalicelib.store.models import BaseItem, Member, VerificationCode
from tests.integration.conftest import bearer
from tests.support.outbox import last_code, messages

VERIFICATION = {"verification": {"channel": "sms", "expires_in": 300}}


def test_given_a_national_number_when_signing_up_then_the_code_goes_by_sms_to_the_e164_number(api, outbox_path):
    reply = api.post("/v1/signup", {"phone": "13800138000", "name": "张伟"})
    assert reply.status == 202
    assert reply.json() == VERIFICATION
    sent = messages(outbox_path)
    assert [(m["channel"], m["to"], m["kind"]) for m in sent] == [("sms", "+8613800138000", "verification_code")]


def test_given_a_registered_phone_when_signing_up_again_then_the_answer_is_identical(api, members):
    phone = members.phone()
    first = api.post("/v1/signup", {"phone": phone, "name": "李娜"})
    new_phone = members.phone()
    other = api.post("/v1/signup", {"phone": new_phone, "name": "王芳"})
    assert first.status == other.status == 202
    assert first.json() == other.json()


def test_given_unknown_and_known_phones_when_asking_for_a_code_then_the_answers_match_but_only_members_get_an_sms(api, members, outbox_path):
    known = members.signed_up()
    unknown = members.phone()
    # The resend throttle applies to both alike; move the known phone's clock past it.
    boto3.client("dynamodb").delete_item(TableName="huiyuan-test", Key={"pk": {"S": keys.phone_pk(known)}, "sk": {"S": keys.SENT}})
    a = api.post("/v1/auth/code", {"phone": known})
    b = api.post("/v1/auth/code", {"phone": unknown})
    assert (a.status, a.json()) == (b.status, b.json()) == (202, VERIFICATION)
    recipients = [m["to"] for m in messages(outbox_path)]
    assert recipients.count(known) == 2
    assert unknown not in recipients


def test_given_a_code_just_sent_when_asking_again_within_a_minute_then_429_with_retry_after(api, members):
    phone = members.signed_up()
    again = api.post("/v1/auth/code", {"phone": phone})
    assert again.status == 429
    assert again.json()["code"] == "too_many_attempts"
    assert int(again.headers["Retry-After"]) > 0
    unknown = members.phone()
    assert api.post("/v1/auth/code", {"phone": unknown}).status == 202
    assert api.post("/v1/auth/code", {"phone": unknown}).status == 429


def test_given_the_right_code_when_verifying_then_the_code_is_spent_and_cannot_be_replayed(api, members, outbox_path):
    phone = members.signed_up()
    code = last_code(outbox_path, phone)
    assert api.post("/v1/auth/verify", {"phone": phone, "code": code}).status == 200
    replay = api.post("/v1/auth/verify", {"phone": phone, "code": code})
    assert replay.status == 401
    assert replay.json()["code"] == "invalid_code"


def test_given_a_code_is_stored_then_only_its_salted_hash_is_kept(api, members, outbox_path):
    phone = members.signed_up()
    code = last_code(outbox_path, phone)
    item = VerificationCode.get(keys.phone_pk(phone), keys.CODE)
    raw = str(item.attribute_values)
    assert code not in raw
    assert item.ttl is not None


def test_given_an_expired_code_when_verifying_then_invalid_code(api, members, outbox_path):
    phone = members.signed_up()
    code = last_code(outbox_path, phone)
    item = VerificationCode.get(keys.phone_pk(phone), keys.CODE)
    item.update(actions=[VerificationCode.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])
    reply = api.post("/v1/auth/verify", {"phone": phone, "code": code})
    assert reply.status == 401
    assert Member.get(keys.member_pk(_member_id(phone)), keys.PROFILE).status == "pending"


def _member_id(phone):
    return next(i for i in BaseItem.query(keys.phone_pk(phone)) if i.sk == keys.GUARD).member_id


def test_given_five_wrong_codes_then_even_the_right_code_is_refused_with_429(api, members, outbox_path):
    phone = members.signed_up()
    code = last_code(outbox_path, phone)
    wrong = "000000" if code != "000000" else "111111"
    answers = [api.post("/v1/auth/verify", {"phone": phone, "code": wrong}).status for _ in range(5)]
    assert answers == [401] * 5
    locked = api.post("/v1/auth/verify", {"phone": phone, "code": code})
    assert locked.status == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert "Retry-After" in locked.headers


def test_given_the_lockout_window_has_passed_then_the_right_code_works_again(api, members, outbox_path):
    phone = members.signed_up()
    code = last_code(outbox_path, phone)
    for _ in range(5):
        api.post("/v1/auth/verify", {"phone": phone, "code": "999999" if code != "999999" else "888888"})
    from chalicelib.store.models import CodeAttempts

    attempts = CodeAttempts.get(keys.phone_pk(phone), keys.ATTEMPTS)
    attempts.update(actions=[CodeAttempts.window_start.set(datetime.now(UTC) - timedelta(minutes=16))])
    assert api.post("/v1/auth/verify", {"phone": phone, "code": code}).status == 200


def test_given_first_verification_then_welcome_points_and_message_once_only(api, members, outbox_path):
    token, body = members.verified()
    phone = body["member"]["phone"]
    assert body["member"]["points"]["balance"] == 100
    boto3.client("dynamodb").delete_item(TableName="huiyuan-test", Key={"pk": {"S": keys.phone_pk(phone)}, "sk": {"S": keys.SENT}})
    assert api.post("/v1/auth/code", {"phone": phone}).status == 202
    again = api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)})
    assert again.status == 200
    assert again.json()["member"]["points"]["balance"] == 100
    welcomes = [m for m in messages(outbox_path) if m["kind"] == "welcome" and m["to"] == phone]
    assert len(welcomes) == 1
    ledger = api.get("/v1/me/ledger", headers=bearer(token)).json()["items"]
    assert [(e["kind"], e["points"], e["ref"]) for e in ledger] == [("bonus", 100, "welcome")]


def test_given_a_chinese_name_and_profile_then_they_round_trip_unchanged(api, members):
    profile = {"name": "欧阳娜娜", "email": "nana@example.cn", "birthday": "1990-02-28", "consents": {"sms_marketing": True}}
    token, _ = members.verified(**profile, confirm_email=False)
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert me["name"] == "欧阳娜娜"
    assert (me["email"], me["pending_email"]) == (None, "nana@example.cn")  # until a code sent to it comes back
    assert me["birthday"] == "1990-02-28"
    assert me["consents"] == {"sms_marketing": True, "email_marketing": False, "push": False}
    assert me["referral_code"]


def test_given_a_referral_code_when_signing_up_then_the_new_member_is_linked_to_the_referrer_once_the_code_is_proven(api, members, outbox_path):
    _, referrer = members.verified()
    phone = members.signed_up(referral_code=referrer["member"]["referral_code"])
    assert Member.get(keys.member_pk(_member_id(phone)), keys.PROFILE).referred_by is None  # a signup alone changes no member
    assert api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)}).status == 200
    member = Member.get(keys.member_pk(_member_id(phone)), keys.PROFILE)
    assert member.referred_by == referrer["member"]["member_id"]
