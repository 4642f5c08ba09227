"""Closing a membership (DELETE /v1/me), the grace period, restoring, and erasure (the erase-closed job)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib.domain.errors import AlreadyClosed, InvalidState, NotFound
from chalicelib.jobs.runner import run_now
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.members import member_shard
from chalicelib.store.models import BaseItem, Coupon, DeferredMessage, Member
from chalicelib.usecases.closure import close_membership, restore_membership
from localstage.job import run
from tests.integration.conftest import bearer
from tests.support.books import stored_ledger, stored_member
from tests.support.outbox import last_code, messages
from tests.support.rules import set_rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADDRESS = {"city": "上海市", "district": "静安区", "street": "南京西路1266号"}


def today():
    return datetime.now(SHANGHAI).date()


def _close(api, token: str, body: Any = None):
    return api.request("DELETE", "/v1/me", json_body=body, headers=bearer(token))


def _coupons(member_id: str) -> list[Coupon]:
    return list(Coupon.query(keys.member_pk(member_id), Coupon.sk.startswith(keys.COUPON_PREFIX)))


def _raw_items() -> list[dict[str, Any]]:
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=get_settings().table_name)
    return [item for page in pages for item in page["Items"]]


def _items_holding(*values: str) -> list[tuple[str, str, str]]:
    """(pk, sk, value) for every item of the table with an attribute (keys included) containing a value."""
    found = []
    for item in _raw_items():
        text = json.dumps(item, ensure_ascii=False)
        found += [(item["pk"]["S"], item["sk"]["S"], v) for v in values if v in text]
    return found


def _assert_problem(reply, status: int, code: str) -> None:
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    assert reply.json()["code"] == code


# --- closing ---------------------------------------------------------------------------------


def test_given_a_member_when_closing_then_the_account_is_closed_now_and_erased_after_30_days(api, members, outbox_path):
    token, body = members.verified()
    phone = body["member"]["phone"]
    reply = _close(api, token)
    assert reply.status == 200, reply.text
    closed = reply.json()
    assert (closed["member_id"], closed["status"]) == (body["member"]["member_id"], "closed")
    closed_at, erase_after = datetime.fromisoformat(closed["closed_at"]), datetime.fromisoformat(closed["erase_after"])
    assert erase_after - closed_at == timedelta(days=30)
    assert closed["erasure_date"] == erase_after.astimezone(SHANGHAI).date().isoformat()
    notice = messages(outbox_path)[-1]
    assert (notice["to"], notice["kind"]) == (phone, "membership_closed") and closed["erasure_date"] in notice["body"]
    _assert_problem(api.get("/v1/me", headers=bearer(token)), 401, "unauthorized")
    _assert_problem(api.get("/v1/me/ledger", headers=bearer(token)), 401, "unauthorized")


def test_given_a_closed_membership_in_its_grace_period_then_the_phone_stays_held_and_earns_nothing(api, members, outbox_path):
    token, body = members.verified()
    phone = body["member"]["phone"]
    _close(api, token)
    sent = len(messages(outbox_path))
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()
    assert api.post("/v1/signup", {"phone": phone, "name": "李娜"}).status == 202  # same answer as ever...
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()
    assert api.post("/v1/auth/code", {"phone": phone}).status == 202
    assert len(messages(outbox_path)) == sent  # ...but no code: nobody can sign in or sign up with it
    _assert_problem(members.purchase("o-1", 1000, phone=phone), 409, "member_closed")
    assert stored_member(body["member"]["member_id"]).name == "张伟"  # nothing erased yet


def test_given_a_closed_membership_then_its_token_no_longer_works_and_closing_again_changes_nothing(api, members):
    token, body = members.verified()
    assert _close(api, token).status == 200
    first = stored_member(body["member"]["member_id"]).closed_at
    _assert_problem(_close(api, token), 401, "unauthorized")
    _assert_problem(api.get("/v1/me/wallet", headers=bearer(token)), 401, "unauthorized")  # a route that does not read the member
    assert stored_member(body["member"]["member_id"]).closed_at == first


def test_given_a_reason_then_it_is_kept_and_an_unknown_reason_is_400_and_closes_nothing(api, members):
    token, body = members.verified()
    _assert_problem(_close(api, token, {"reason": "I hate it, call me on 13800138000"}), 400, "validation_error")
    _assert_problem(_close(api, token, {"why": "privacy"}), 400, "validation_error")
    assert stored_member(body["member"]["member_id"]).status == "active"
    assert _close(api, token, {"reason": "privacy"}).status == 200
    member = stored_member(body["member"]["member_id"])
    assert (member.status, member.closure_reason, member.closed_by) == ("closed", "privacy", "member")


def test_given_stored_value_in_the_wallet_then_closing_is_409_invalid_state_and_the_member_stays_active(api, members):
    from chalicelib.store.models_wallet import Wallet

    token, body = members.verified()
    member_id = body["member"]["member_id"]
    now = datetime.now(UTC)
    Wallet(keys.member_pk(member_id), keys.WALLET_SK, member_id=member_id, balance=5000, currency="CNY", created_at=now, updated_at=now).save()
    _assert_problem(_close(api, token), 409, "invalid_state")
    assert api.get("/v1/me", headers=bearer(token)).json()["status"] == "active"


def test_given_an_operator_closing_then_close_membership_answers_409_or_404_for_the_wrong_member(api, members):
    _, body = members.verified()
    member_id = body["member"]["member_id"]
    closed = close_membership(member_id, reason="fraud investigation", actor="operator:alice")
    assert (closed.status, closed.closed_by) == ("closed", "operator:alice")
    with pytest.raises(AlreadyClosed):
        close_membership(member_id, reason="again", actor="operator:alice")
    with pytest.raises(NotFound):
        close_membership("mbr_0000000000000000", reason="x", actor="operator:alice")


# --- restoring -------------------------------------------------------------------------------


def test_given_a_closure_within_the_grace_period_when_restored_then_the_membership_is_back_as_it_was(api, members, outbox_path):
    token, body = members.verified()
    member_id, phone = body["member"]["member_id"], body["member"]["phone"]
    members.purchase("o-1", 20000, phone=phone)
    _close(api, token)
    restored = restore_membership(member_id, reason="changed their mind", actor="operator:alice")
    assert restored.status == "active" and restored.closed_at is None and restored.erase_after is None
    assert api.get("/v1/me", headers=bearer(token)).status == 401  # the tokens from before the closure stay ended
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()
    api.post("/v1/auth/code", {"phone": phone})
    token = api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)}).json()["access_token"]
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert (me["status"], me["name"], me["points"]["balance"]) == ("active", "张伟", 300)
    # the erasure job no longer finds it
    assert run("erase-closed", (today() + timedelta(days=31)).isoformat(), False)["members_examined"] == 0
    assert stored_member(member_id).name == "张伟"


def test_given_a_frozen_member_who_closed_then_restoring_brings_back_the_frozen_state(api, members):
    token, body = members.verified()
    member_id = body["member"]["member_id"]
    stored_member(member_id).update(actions=[Member.status.set("frozen")])
    assert _close(api, token).status == 200
    assert restore_membership(member_id, reason="support", actor="operator:alice").status == "frozen"


def test_given_a_member_not_closed_or_unknown_then_restore_is_409_invalid_state_or_404(api, members):
    _, body = members.verified()
    with pytest.raises(InvalidState):
        restore_membership(body["member"]["member_id"], reason="x", actor="operator:alice")
    with pytest.raises(NotFound):
        restore_membership("mbr_0000000000000000", reason="x", actor="operator:alice")


def test_given_the_grace_period_over_or_the_member_erased_then_restore_is_409_invalid_state(api, members, aws):
    set_rules(aws, closure_grace_days=0)
    token, body = members.verified()
    member_id = body["member"]["member_id"]
    _close(api, token)
    with pytest.raises(InvalidState, match="grace period"):
        restore_membership(member_id, reason="x", actor="operator:alice")
    run("erase-closed", (today() + timedelta(days=1)).isoformat(), False)
    with pytest.raises(InvalidState, match="erased"):
        restore_membership(member_id, reason="x", actor="operator:alice")
    assert stored_member(member_id).status == "closed"


# --- erasure ---------------------------------------------------------------------------------


def _a_member_with_everything(api, members, outbox_path) -> dict[str, Any]:
    """A member whose personal data is spread over the table: profile, pending changes,
    orders, a coupon, a message waiting for quiet hours to end, feedback."""
    first_phone, phone = members.phone(), members.phone()
    person = {"phone": phone, "national": phone.removeprefix("+86"), "name": "欧阳娜娜", "email": "nana.private@example.cn", "birthday": "1991-07-15"}
    person |= {"first_phone": first_phone, "first_national": first_phone.removeprefix("+86")}
    person |= {"new_email": "nana.next@example.cn", "new_phone": members.phone(), "street": ADDRESS["street"], "feedback": "我的门牌号是 8 号"}
    members.signed_up(phone=person["first_national"], name=person["name"], email=person["email"], birthday=person["birthday"])
    verified = api.post("/v1/auth/verify", {"phone": first_phone, "code": last_code(outbox_path, first_phone)}).json()
    token, member_id = verified["access_token"], verified["member"]["member_id"]
    confirmed = api.post("/v1/me/email/verify", {"code": last_code(outbox_path, person["email"])}, headers=bearer(token))  # the signup's email
    assert confirmed.status == 200, confirmed.text
    api.post("/v1/me/phone", {"phone": person["national"]}, headers=bearer(token))  # the member moved to another phone since
    moved = api.post("/v1/me/phone/verify", {"phone": phone, "code": last_code(outbox_path, phone)}, headers=bearer(token))
    assert moved.status == 200, moved.text
    api.request("PATCH", "/v1/me", json_body={"gender": "female", "address": ADDRESS, "tags": ["student"]}, headers=bearer(token))
    members.purchase("o-1", 60000, phone=person["national"])
    api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k-1"})
    api.request("PATCH", "/v1/me", json_body={"email": person["new_email"]}, headers=bearer(token))
    api.post("/v1/me/phone", {"phone": person["new_phone"]}, headers=bearer(token))
    feedback = api.post("/v1/me/feedback", {"category": "store", "text": person["feedback"]}, headers=bearer(token))
    assert feedback.status in (200, 201), feedback.text
    rules = api.get("/v1/admin/rules").json()["rules"]
    api.request("PUT", "/v1/admin/rules", json_body={"rules": {**rules, "member_tags": [{"id": "vip", "name": "贵宾"}]}, "reason": "tags"})
    tagged = api.post(f"/v1/admin/members/{member_id}/tags", {"add": ["vip"], "reason": "support"})
    assert tagged.status == 200, tagged.text
    person |= {"token": token, "member_id": member_id}
    return person


def _defer_a_message(person: dict[str, Any], hours_ahead: int, *, noted: bool = True) -> None:
    """A greeting held back by quiet hours, to the member's phone, as a job leaves it: the message
    under the hour it may go, and (`noted`) where it waits on the member, in one transaction."""
    send_at = datetime.now(UTC) + timedelta(hours=hours_ahead)
    bucket = keys.send_bucket(send_at.strftime("%Y-%m-%dT%H"), member_shard(person["member_id"]))
    sk = keys.deferred_sk(person["member_id"], "birthday_greeting", f"birthday:{hours_ahead}")
    DeferredMessage(
        bucket,
        sk,
        member_id=person["member_id"],
        channel="sms",
        recipient=person["phone"],
        kind="birthday_greeting",
        body=f"Happy birthday, {person['name']}!",
        send_after=send_at,
        ttl=send_at + timedelta(days=2),
    ).save()
    member = stored_member(person["member_id"])
    if noted:
        member.update(actions=[Member.deferred.set({**(member.deferred.as_dict() if member.deferred else {}), sk: bucket})])
    else:  # a member from before members noted their deferred messages
        member.update(actions=[Member.deferred.remove()])


def test_given_a_closed_member_after_the_grace_period_then_no_item_of_the_table_holds_their_personal_data(api, members, outbox_path):
    person = _a_member_with_everything(api, members, outbox_path)
    member_id = person["member_id"]
    _defer_a_message(person, hours_ahead=3)
    secrets = [person[k] for k in ("phone", "national", "name", "email", "birthday", "new_email", "new_phone", "street", "feedback")]
    assert {v for _, _, v in _items_holding(*secrets)} == set(secrets)  # the data really was spread around
    secrets += [person["first_phone"], person["first_national"]]  # nothing of the phone held before either

    assert _close(api, person["token"], {"reason": "privacy"}).status == 200
    _defer_a_message(person, hours_ahead=10)  # one more, planned as the closure happened
    ledger_before = [(e.entry_id, int(e.points)) for e in stored_ledger(member_id)]

    result = run("erase-closed", (today() + timedelta(days=31)).isoformat(), False)
    assert (result["members_examined"], result["members_affected"]) == (1, 1)

    assert _items_holding(*secrets) == []
    tombstone = stored_member(member_id)
    assert (tombstone.status, tombstone.erased, tombstone.balance) == ("closed", True, 0)
    assert tombstone.operator_tags is None  # operators' labels for the person go too
    # the ledger is kept for accounting, by member id only, and still adds up (the balance was forfeited)
    ledger_after = [(e.entry_id, int(e.points)) for e in stored_ledger(member_id)]
    assert ledger_after[1:] == ledger_before
    forfeit = stored_ledger(member_id)[0]
    assert (forfeit.kind, int(forfeit.points), int(forfeit.balance_after), forfeit.ref) == ("adjust", -(100 + 50 + 600 - 500), 0, "closure:forfeit")
    assert sum(p for _, p in ledger_after) == 0
    # orders stay (they hold the member id), and the coupon no one used is revoked
    order = BaseItem.get(keys.order_pk("o-1"), keys.ORDER_SK)
    assert order.member_id == member_id
    assert [c.status for c in _coupons(member_id)] == ["revoked"]
    # and the order's fingerprint (kept to tell a replay from a conflict) does not give the phone
    # back to whoever hashes guesses: it is keyed
    import hashlib

    guess = {
        "order_id": "o-1",
        "phone": person["phone"],
        "member_id": None,
        "amount": 60000,
        "currency": "CNY",
        "store_id": None,
        "occurred_at": None,
    }
    plain = hashlib.sha256(json.dumps(guess, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert order.fingerprint != plain and len(order.fingerprint) == 64


def test_given_an_erased_member_then_the_phone_is_free_for_a_new_signup(api, members, outbox_path, aws):
    set_rules(aws, closure_grace_days=0)
    token, body = members.verified()
    phone, old_id = body["member"]["phone"], body["member"]["member_id"]
    _close(api, token)
    assert run("erase-closed", (today() + timedelta(days=1)).isoformat(), False)["members_affected"] == 1

    fresh = members.verified(phone=phone, name="李娜")[1]["member"]
    assert fresh["member_id"] != old_id
    assert (fresh["name"], fresh["points"]["balance"]) == ("李娜", 100)
    assert members.purchase("o-1", 1000, phone=phone).json()["member_id"] == fresh["member_id"]
    _assert_problem(api.get("/v1/me", headers=bearer(token)), 401, "unauthorized")


def test_given_open_coupons_at_erasure_then_they_are_revoked(api, members, aws):
    set_rules(aws, closure_grace_days=0)
    token, body = members.verified()
    member_id = body["member"]["member_id"]
    members.purchase("o-1", 120000, phone=body["member"]["phone"])
    for key in ("k-1", "k-2"):
        assert api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": key}).status == 201
    _close(api, token)
    assert [c.status for c in _coupons(member_id)] == ["issued", "issued"]  # usable again if restored in time
    run("erase-closed", (today() + timedelta(days=1)).isoformat(), False)
    assert [c.status for c in _coupons(member_id)] == ["revoked", "revoked"]


def test_given_the_grace_period_not_over_then_the_job_erases_nothing_and_reruns_erase_nothing_twice(api, members):
    token, body = members.verified()
    member_id = body["member"]["member_id"]
    _close(api, token)
    for days in (1, 29):
        assert run("erase-closed", (today() + timedelta(days=days)).isoformat(), False)["members_affected"] == 0
    assert stored_member(member_id).name == "张伟"
    due = (today() + timedelta(days=31)).isoformat()
    assert run("erase-closed", due, False)["members_affected"] == 1
    again = run("erase-closed", due, False)
    assert (again["members_examined"], again["members_affected"]) == (0, 0)
    assert sum(int(e.points) for e in stored_ledger(member_id)) == 0 and len(stored_ledger(member_id)) == 2


def test_given_a_missed_run_then_a_later_run_catches_up_within_a_week(api, members, aws):
    set_rules(aws, closure_grace_days=0)
    token, body = members.verified()
    _close(api, token)
    assert run("erase-closed", (today() + timedelta(days=6)).isoformat(), False)["members_affected"] == 1
    assert stored_member(body["member"]["member_id"]).erased is True


def test_given_a_dry_run_then_it_reports_the_erasure_and_writes_nothing(api, members, aws):
    set_rules(aws, closure_grace_days=0)
    token, _ = members.verified()
    _close(api, token)
    before = sorted(json.dumps(i, sort_keys=True) for i in _raw_items())
    result = run("erase-closed", (today() + timedelta(days=1)).isoformat(), True)
    assert result["dry_run"] is True and result["members_affected"] == 1
    assert sorted(json.dumps(i, sort_keys=True) for i in _raw_items()) == before


def test_given_erase_closed_run_now_then_it_does_the_jobs_work_at_once_and_returns_its_summary(api, members, aws):
    set_rules(aws, closure_grace_days=0)
    token, body = members.verified()
    _, other = members.verified()
    _close(api, token)
    summary = run_now("erase-closed", today() + timedelta(days=1))
    assert (summary["job"], summary["members_affected"]) == ("erase-closed", 1)
    assert stored_member(body["member"]["member_id"]).erased is True
    assert stored_member(other["member"]["member_id"]).name == "张伟"


@pytest.mark.parametrize("noted", [True, False], ids=["noted-on-the-member", "member-from-before-the-note"])
def test_given_a_closed_member_then_messages_held_back_by_quiet_hours_never_reach_them(api, members, outbox_path, noted):
    token, body = members.verified()
    person = {"member_id": body["member"]["member_id"], "phone": body["member"]["phone"], "name": "张伟"}
    _defer_a_message(person, hours_ahead=2, noted=noted)
    _close(api, token)
    run("send-deferred", (today() + timedelta(days=1)).isoformat(), False)
    assert [m for m in messages(outbox_path) if m["kind"] == "birthday_greeting"] == []
