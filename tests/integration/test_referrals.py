"""Referrals: the friend's bonus on verification, the referrer's on the friend's first purchase, each once."""

from __future__ import annotations

import pytest

from chalicelib.store import keys
from chalicelib.store.models import Member
from chalicelib.store.models_engagement import Referral
from tests.integration.conftest import bearer
from tests.integration.test_faults import inject, transaction_conflict
from tests.support.books import balance_that_adds_up, stored_ledger, stored_member
from tests.support.outbox import messages
from tests.support.rules import set_rules

WELCOME, REFEREE, REFERRER = 100, 100, 200


def _referral_bonuses(member_id: str) -> list[int]:
    return [int(e.points) for e in stored_ledger(member_id) if (e.ref or "").startswith("referral:")]


def _set_status(member_id: str, status: str) -> None:
    stored_member(member_id).update(actions=[Member.status.set(status)])


def _referrer(members):
    """An active member and their referral code: (member_id, phone, code)."""
    _token, body = members.verified()
    return body["member"]["member_id"], body["member"]["phone"], body["member"]["referral_code"]


def _referred(members, code: str):
    """A friend who signed up with `code` and verified: (token, member_id, phone)."""
    token, body = members.verified(referral_code=code)
    return token, body["member"]["member_id"], body["member"]["phone"]


def test_given_a_friend_signs_up_with_a_code_then_they_get_the_referee_bonus_on_verification_and_the_referrer_on_their_first_purchase(
    api, members, outbox_path
):
    referrer_id, referrer_phone, code = _referrer(members)
    token, friend_id, friend_phone = _referred(members, code.lower())  # codes are read case-insensitively

    assert balance_that_adds_up(friend_id) == WELCOME + REFEREE
    ledger = api.get("/v1/me/ledger", headers=bearer(token)).json()["items"]
    assert [(e["kind"], e["points"], e["ref"].split(":")[0]) for e in ledger] == [("bonus", REFEREE, "referral"), ("bonus", WELCOME, "welcome")]
    assert balance_that_adds_up(referrer_id) == WELCOME  # nothing yet: the friend has not bought anything

    assert members.purchase("o-1", 10000, phone=friend_phone).status == 201
    assert balance_that_adds_up(referrer_id) == WELCOME + REFERRER
    assert _referral_bonuses(referrer_id) == [REFERRER]
    assert [m["kind"] for m in messages(outbox_path) if m["to"] == referrer_phone][-1] == "referral_reward"
    assert balance_that_adds_up(friend_id) == WELCOME + REFEREE + 100


def test_given_the_first_purchase_replayed_and_a_second_purchase_then_the_referrer_is_rewarded_only_once(api, members):
    referrer_id, _, code = _referrer(members)
    _, friend_id, friend_phone = _referred(members, code)

    first = members.purchase("o-1", 10000, phone=friend_phone)
    replay = members.purchase("o-1", 10000, phone=friend_phone)
    second = members.purchase("o-2", 5000, phone=friend_phone)

    assert (first.status, replay.status, second.status) == (201, 200, 201)
    assert _referral_bonuses(referrer_id) == [REFERRER]
    assert balance_that_adds_up(referrer_id) == WELCOME + REFERRER
    assert balance_that_adds_up(friend_id) == WELCOME + REFEREE + 100 + 50


def test_given_a_conflict_during_the_first_purchase_then_the_retry_rewards_the_referrer_once(api, members):
    referrer_id, _, code = _referrer(members)
    _, _, friend_phone = _referred(members, code)
    with inject("TransactWriteItems", transaction_conflict, times=2) as injected:
        assert members.purchase("o-1", 10000, phone=friend_phone).status == 201
    assert injected[0] == 2
    assert _referral_bonuses(referrer_id) == [REFERRER]
    assert balance_that_adds_up(referrer_id) == WELCOME + REFERRER


def test_given_a_friend_who_signs_up_twice_with_the_code_then_the_referee_bonus_is_paid_once(api, members, aws):
    set_rules(aws, code_resend_seconds=0)
    _, _, code = _referrer(members)
    _token, friend_id, friend_phone = _referred(members, code)
    # signing in again (a new code, a new verification) grants nothing more
    members.verified(friend_phone, referral_code=code)
    assert _referral_bonuses(friend_id) == [REFEREE]
    assert balance_that_adds_up(friend_id) == WELCOME + REFEREE


def test_given_a_pending_member_who_uses_their_own_code_then_nobody_is_rewarded(api, members, aws):
    phone = members.phone()
    enrolled = members.purchase("o-1", 10000, phone=phone).json()  # "pay and you are a member": pending
    own_code = stored_member(enrolled["member_id"]).referral_code

    members.verified(phone, referral_code=own_code)
    members.purchase("o-2", 10000, phone=phone)

    member = stored_member(enrolled["member_id"])
    assert member.referred_by is None
    assert _referral_bonuses(enrolled["member_id"]) == []
    assert balance_that_adds_up(enrolled["member_id"]) == 100 + WELCOME + 100


def test_given_a_member_who_paid_before_joining_with_a_code_then_the_referrer_is_rewarded_on_their_next_purchase(api, members):
    referrer_id, _, code = _referrer(members)
    phone = members.phone()
    members.purchase("o-1", 10000, phone=phone)  # pending member, invited by SMS
    _, body = members.verified(phone, referral_code=code)
    friend_id = body["member"]["member_id"]
    assert _referral_bonuses(friend_id) == [REFEREE]
    assert balance_that_adds_up(referrer_id) == WELCOME

    members.purchase("o-2", 10000, phone=phone)
    assert _referral_bonuses(referrer_id) == [REFERRER]


@pytest.mark.parametrize("status", ["frozen", "closed"])
def test_given_a_frozen_or_closed_referrer_when_the_friend_verifies_then_neither_is_rewarded_even_after_a_thaw(api, members, status):
    referrer_id, _, code = _referrer(members)
    _set_status(referrer_id, status)

    _, friend_id, friend_phone = _referred(members, code)
    assert _referral_bonuses(friend_id) == []
    assert balance_that_adds_up(friend_id) == WELCOME

    _set_status(referrer_id, "active")
    members.purchase("o-1", 10000, phone=friend_phone)
    assert _referral_bonuses(referrer_id) == []
    assert balance_that_adds_up(referrer_id) == WELCOME


@pytest.mark.parametrize("status", ["frozen", "closed"])
def test_given_a_referrer_frozen_or_closed_at_the_first_purchase_then_the_referral_is_forfeited_for_good(api, members, status):
    referrer_id, _, code = _referrer(members)
    _, friend_id, friend_phone = _referred(members, code)
    _set_status(referrer_id, status)

    assert members.purchase("o-1", 10000, phone=friend_phone).status == 201
    _set_status(referrer_id, "active")
    assert members.purchase("o-2", 10000, phone=friend_phone).status == 201

    assert _referral_bonuses(referrer_id) == []
    assert balance_that_adds_up(referrer_id) == WELCOME
    referral = Referral.get(keys.member_pk(referrer_id), keys.referral_sk(friend_id), consistent_read=True)
    assert (referral.status, referral.reason) == ("forfeited", f"referrer_{status}")
    assert _referral_bonuses(friend_id) == [REFEREE]  # the friend keeps what they were given


def test_given_a_referrer_whose_own_phone_signs_up_again_with_the_friends_code_then_nothing_changes(api, members, aws):
    set_rules(aws, code_resend_seconds=0)
    referrer_id, referrer_phone, _code = _referrer(members)
    _, friend_id, _ = _referred(members, stored_member(referrer_id).referral_code)
    friend_code = stored_member(friend_id).referral_code

    # A refers B; A signs up again with B's code: A is already a member, nobody is re-referred.
    assert api.post("/v1/signup", {"phone": referrer_phone, "name": "张伟", "referral_code": friend_code}).status == 202
    members.verified(referrer_phone)
    assert stored_member(referrer_id).referred_by is None
    assert _referral_bonuses(referrer_id) == []
    assert balance_that_adds_up(referrer_id) == WELCOME


def test_given_the_referrers_new_phone_uses_the_friends_code_then_it_is_a_new_referral_rewarded_once_on_each_side(api, members):
    referrer_id, _, code = _referrer(members)
    _, friend_id, friend_phone = _referred(members, code)
    friend_code = stored_member(friend_id).referral_code
    members.purchase("o-1", 10000, phone=friend_phone)

    # A's new phone is a new member to the program: B referred it, and B is paid once for it.
    _, second_id, second_phone = _referred(members, friend_code)
    members.purchase("o-2", 10000, phone=second_phone)
    members.purchase("o-3", 10000, phone=second_phone)

    assert _referral_bonuses(referrer_id) == [REFERRER]
    assert _referral_bonuses(friend_id) == [REFERRER, REFEREE]
    assert _referral_bonuses(second_id) == [REFEREE]
    for member_id in (referrer_id, friend_id, second_id):
        balance_that_adds_up(member_id)


def test_given_two_members_who_refer_each_other_then_the_loop_earns_nothing(api, members):
    # P paid before joining (pending); Q signs up with P's code (leaked: P never saw it).
    p_phone = members.phone()
    p_id = members.purchase("o-p", 10000, phone=p_phone).json()["member_id"]
    _, q_id, q_phone = _referred(members, stored_member(p_id).referral_code)
    assert _referral_bonuses(q_id) == []  # P is not an active member: the code earns nothing

    # P then joins with Q's code: Q was referred by P, so this is a loop.
    members.verified(p_phone, referral_code=stored_member(q_id).referral_code)
    assert stored_member(p_id).referred_by == q_id
    members.purchase("o-p2", 10000, phone=p_phone)
    members.purchase("o-q", 10000, phone=q_phone)

    assert _referral_bonuses(p_id) == _referral_bonuses(q_id) == []
    assert balance_that_adds_up(p_id) == 100 + WELCOME + 100
    assert balance_that_adds_up(q_id) == WELCOME + 100


def test_given_an_unknown_referral_code_then_signup_still_works_and_only_the_welcome_points_come(api, members):
    _token, body = members.verified(referral_code="ZZZZZZZZ")
    assert body["member"]["points"]["balance"] == WELCOME
    assert stored_member(body["member"]["member_id"]).referred_by is None


def test_given_bonuses_set_by_the_operator_then_the_live_rules_are_paid(api, members, aws):
    set_rules(aws, referee_points=0, referrer_points=500)
    referrer_id, _, code = _referrer(members)
    _, friend_id, friend_phone = _referred(members, code)
    assert balance_that_adds_up(friend_id) == WELCOME and _referral_bonuses(friend_id) == []
    members.purchase("o-1", 10000, phone=friend_phone)
    assert _referral_bonuses(referrer_id) == [500]


def test_given_a_bad_referral_code_shape_then_signup_is_400_and_nothing_is_stored(api, members):
    reply = api.post("/v1/signup", {"phone": members.phone(), "name": "张伟", "referral_code": "AB"})
    assert reply.status == 400 and reply.json()["code"] == "validation_error"
    assert "referral_code" in [e["field"] for e in reply.json()["errors"]]
