"""Coupons, referrals and feedback under concurrent requests against the running local stack:
one coupon is used once, a referral pays once, feedback is answered once, and never a 5xx."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import requests

from tests.e2e.factories import (
    TIMEOUT,
    WELCOME_POINTS,
    assert_problem,
    balance,
    bearer,
    code_sent_to,
    ledger,
    merchant_headers,
    new_order_id,
    new_phone,
    outbox_messages,
    purchase,
    redeem,
    signed_in_member,
    signup,
    verify,
)
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e

REFEREE_POINTS, REFERRER_POINTS = 100, 200


def _coffee_coupon(stack) -> str:
    member = signed_in_member(stack)
    assert purchase(stack, member_id=member.member_id, amount=50000).status_code == 201
    reply = redeem(stack, member.token, "coffee")
    assert reply.status_code == 201, reply.text
    return reply.json()["coupon"]["code"]


def _till(stack, code: str, redemption_id: str) -> requests.Response:
    return requests.post(
        stack.url(f"/v1/coupons/{code}/redemptions"), json={"redemption_id": redemption_id}, headers=merchant_headers(), timeout=TIMEOUT
    )


def test_given_one_coupon_when_twelve_tills_scan_it_at_once_then_exactly_one_redeems_it(stack):
    code = _coffee_coupon(stack)
    replies = all_at_once([lambda n=n: _till(stack, code, f"till-{uuid.uuid4().hex}-{n}") for n in range(12)], workers=12)
    assert_no_server_error(replies)
    assert Counter(r.status_code for r in replies) == {201: 1, 409: 11}
    for reply in replies:
        if reply.status_code == 409:
            assert_problem(reply, 409, "coupon_unavailable")


def test_given_one_till_retrying_on_several_connections_then_every_answer_is_the_same_redemption(stack):
    code = _coffee_coupon(stack)
    redemption_id = f"till-{uuid.uuid4().hex}"
    replies = all_at_once([lambda: _till(stack, code, redemption_id) for _ in range(8)], workers=8)
    assert_no_server_error(replies)
    assert sorted(r.status_code for r in replies) == [200] * 7 + [201]  # the first answer, then its replays
    assert {r.headers.get("Idempotent-Replayed") for r in replies if r.status_code == 200} == {"true"}
    assert len({r.text for r in replies}) == 1


def test_given_a_referred_friend_when_eight_first_purchases_race_then_the_referrer_is_paid_once(stack):
    referrer = signed_in_member(stack)
    code = referrer.signed_in["member"]["referral_code"]
    friend_phone = new_phone()
    assert signup(stack, friend_phone, "李娜", referral_code=code).status_code == 202
    friend = verify(stack, friend_phone, code_sent_to(stack, friend_phone)).json()
    assert friend["member"]["points"]["balance"] == WELCOME_POINTS + REFEREE_POINTS

    replies = all_at_once([lambda: purchase(stack, phone=friend_phone, amount=1000, order_id=new_order_id()) for _ in range(8)], workers=8)
    assert_no_server_error(replies)
    assert {r.status_code for r in replies} == {201}

    assert balance(stack, referrer.token) == WELCOME_POINTS + REFERRER_POINTS
    entries = ledger(stack, referrer.token)
    assert [e["points"] for e in entries if (e["ref"] or "").startswith("referral:")] == [REFERRER_POINTS]
    assert sum(e["points"] for e in entries) == WELCOME_POINTS + REFERRER_POINTS
    assert len(outbox_messages(stack, referrer.phone, "referral_reward")) == 1


def test_given_one_piece_of_feedback_when_three_operators_answer_at_once_then_one_answer_stands_and_one_message_goes(stack):
    member = signed_in_member(stack)
    given = requests.post(stack.url("/v1/me/feedback"), json={"category": "store", "text": "排队太久"}, headers=bearer(member.token), timeout=TIMEOUT)
    assert given.status_code == 201, given.text
    feedback_id = given.json()["feedback_id"]

    answers = [f"answer {n}" for n in range(3)]
    replies = all_at_once(
        [
            lambda text=text: requests.post(stack.url(f"/v1/admin/feedback/{feedback_id}/answer"), json={"text": text}, timeout=TIMEOUT)
            for text in answers
        ],
        workers=3,
    )
    assert_no_server_error(replies)
    assert Counter(r.status_code for r in replies) == {200: 1, 409: 2}
    winner = next(r.json() for r in replies if r.status_code == 200)
    mine = requests.get(stack.url("/v1/me/feedback"), headers=bearer(member.token), timeout=TIMEOUT).json()["items"][0]
    assert mine["answer"]["text"] == winner["answer"]["text"]
    assert len(outbox_messages(stack, member.phone, "feedback_answer")) == 1
