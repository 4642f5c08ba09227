"""The member journey over HTTP, against the running local stack: signup, the
texted code, purchases from the till, redemptions, refunds, the ledger, and
the "pay and you are a member" enrolment."""

from __future__ import annotations

from itertools import pairwise

import pytest

from tests.e2e.factories import (
    WELCOME_POINTS,
    assert_problem,
    balance,
    code_sent_to,
    ledger,
    me,
    member_with_balance,
    new_idempotency_key,
    new_order_id,
    new_phone,
    new_refund_id,
    outbox_messages,
    purchase,
    redeem,
    refund,
    signup,
    verify,
)

pytestmark = pytest.mark.e2e

COFFEE_COST = 500


def test_given_a_new_phone_when_the_member_signs_up_buys_and_redeems_then_every_replay_is_harmless_and_overspending_is_refused(stack):
    phone = new_phone()

    # Signup: 202 and a 6-digit code goes out by SMS.
    signed_up = signup(stack, phone, name="张伟")
    assert signed_up.status_code == 202, signed_up.text
    verification = signed_up.json()["verification"]
    assert verification["channel"] == "sms"
    assert isinstance(verification["expires_in"], int) and verification["expires_in"] > 0
    code = code_sent_to(stack, phone)

    # Verify: a bearer token, an active member, the welcome points.
    verified = verify(stack, phone, code)
    assert verified.status_code == 200, verified.text
    signed_in = verified.json()
    assert signed_in["token_type"] == "Bearer"
    assert signed_in["member"]["status"] == "active"
    assert signed_in["member"]["phone"] == phone
    assert signed_in["member"]["name"] == "张伟"
    assert signed_in["member"]["points"]["balance"] == WELCOME_POINTS
    token, member_id = signed_in["access_token"], signed_in["member"]["member_id"]

    # Purchase at the till: 450.00 CNY earns 450 points at the base tier.
    order = {"phone": phone, "amount": 45000, "order_id": new_order_id()}
    bought = purchase(stack, **order)
    assert bought.status_code == 201, bought.text
    assert bought.json() == {
        "order_id": order["order_id"],
        "member_id": member_id,
        "points_earned": 450,
        "balance": WELCOME_POINTS + 450,
        "tier": "member",
    }

    # The till retries the identical purchase: 200, the identical body, nothing awarded twice.
    replayed = purchase(stack, **order)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == bought.json()

    profile = me(stack, token)
    assert profile["member_id"] == member_id
    assert profile["name"] == "张伟"
    assert profile["points"]["balance"] == WELCOME_POINTS + 450

    # Redeem a coffee with an Idempotency-Key, then retry with the same key.
    key = new_idempotency_key()
    redeemed = redeem(stack, token, "coffee", key)
    assert redeemed.status_code == 201, redeemed.text
    redemption = redeemed.json()
    assert redemption["reward_id"] == "coffee"
    assert redemption["points_spent"] == COFFEE_COST
    assert redemption["balance"] == WELCOME_POINTS + 450 - COFFEE_COST
    assert redemption["coupon"]["code"] and redemption["coupon"]["expires_at"]

    again = redeem(stack, token, "coffee", key)
    assert again.status_code == 200, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == redemption
    assert balance(stack, token) == 50

    # A second coffee costs more than the 50 points left.
    refused = redeem(stack, token, "coffee", new_idempotency_key())
    problem = assert_problem(refused, 409, "insufficient_points")
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert problem["status"] == 409
    assert balance(stack, token) == 50

    # The ledger tells the same story, newest first, and adds up to the balance.
    entries = ledger(stack, token)
    assert [(e["kind"], e["points"]) for e in entries] == [("redeem", -COFFEE_COST), ("earn", 450), ("bonus", WELCOME_POINTS)]
    assert entries[0]["ref"] == redemption["redemption_id"]
    assert entries[1]["ref"] == order["order_id"]
    assert sum(e["points"] for e in entries) == balance(stack, token) == 50
    assert entries[0]["balance_after"] == 50
    for newer, older in pairwise(entries):
        assert newer["created_at"] >= older["created_at"]
        assert newer["balance_after"] - newer["points"] == older["balance_after"]
    assert len({e["entry_id"] for e in entries}) == len(entries)


def test_given_a_recorded_purchase_when_its_order_id_comes_with_a_different_body_then_409_idempotency_conflict(stack):
    member = member_with_balance(stack, 0)
    order_id = new_order_id()
    first = purchase(stack, member_id=member.member_id, amount=20000, order_id=order_id)
    assert first.status_code == 201, first.text
    assert balance(stack, member.token) == WELCOME_POINTS + 200

    conflicting = purchase(stack, member_id=member.member_id, amount=99900, order_id=order_id)

    assert_problem(conflicting, 409, "idempotency_conflict")
    assert balance(stack, member.token) == WELCOME_POINTS + 200
    # The original order still answers as recorded.
    replayed = purchase(stack, member_id=member.member_id, amount=20000, order_id=order_id)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == first.json()
    assert [e["kind"] for e in ledger(stack, member.token)].count("earn") == 1


def test_given_a_purchase_when_half_the_amount_is_refunded_then_half_the_points_are_reversed_once_per_refund_id(stack):
    member = member_with_balance(stack, 0)
    order_id = new_order_id()
    bought = purchase(stack, member_id=member.member_id, amount=45000, order_id=order_id)
    assert bought.status_code == 201, bought.text
    assert bought.json()["points_earned"] == 450
    refund_id = new_refund_id()

    refunded = refund(stack, order_id, amount=22500, refund_id=refund_id)

    assert refunded.status_code == 201, refunded.text
    assert refunded.json()["points_reversed"] == 225
    assert refunded.json()["balance"] == WELCOME_POINTS + 450 - 225
    assert balance(stack, member.token) == WELCOME_POINTS + 225

    # The same refund id again changes nothing.
    replayed = refund(stack, order_id, amount=22500, refund_id=refund_id)
    assert replayed.status_code in (200, 201), replayed.text
    assert replayed.json() == refunded.json()
    assert balance(stack, member.token) == WELCOME_POINTS + 225

    # The other half brings the reversal to exactly the points earned.
    rest = refund(stack, order_id, amount=22500)
    assert rest.status_code == 201, rest.text
    assert rest.json()["points_reversed"] == 225
    assert balance(stack, member.token) == WELCOME_POINTS

    entries = ledger(stack, member.token)
    assert [(e["kind"], e["points"], e["ref"]) for e in entries if e["kind"] == "refund"] == [
        ("refund", -225, order_id),
        ("refund", -225, order_id),
    ]
    assert sum(e["points"] for e in entries) == balance(stack, member.token)


def test_given_an_unknown_phone_when_a_store_reports_a_purchase_then_a_pending_member_keeps_the_points_and_is_invited_by_sms(stack):
    phone = new_phone()
    national = phone.removeprefix("+86")  # tills often key in the national number

    bought = purchase(stack, phone=national, amount=30000)

    assert bought.status_code == 201, bought.text
    assert bought.json()["points_earned"] == 300
    pending_member_id = bought.json()["member_id"]
    invites = outbox_messages(stack, phone, "invite")
    assert len(invites) == 1
    assert invites[0]["channel"] == "sms"
    assert outbox_messages(stack, phone, "verification_code") == []

    # Later the customer signs up with that phone and verifies.
    assert signup(stack, phone, name="李娜").status_code == 202
    verified = verify(stack, phone, code_sent_to(stack, phone))
    assert verified.status_code == 200, verified.text
    token = verified.json()["access_token"]

    profile = me(stack, token)
    assert profile["member_id"] == pending_member_id
    assert profile["phone"] == phone
    assert profile["name"] == "李娜"
    assert profile["status"] == "active"
    assert profile["points"]["balance"] == 300 + WELCOME_POINTS
    entries = ledger(stack, token)
    assert sorted((e["kind"], e["points"]) for e in entries) == [("bonus", WELCOME_POINTS), ("earn", 300)]
