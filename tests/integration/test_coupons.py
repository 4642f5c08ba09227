"""Coupons: the member's list, and the till redeeming one by its code, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.store import keys
from chalicelib.store.models import Coupon, LedgerEntry, Member
from localstage.job import run
from tests.integration.conftest import MERCHANT, bearer
from tests.support.rules import set_rules

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _redeem_points_for_coffee(api, members):
    """A member who spent 500 points on a coffee: (token, member_id, coupon code)."""
    token, body = members.verified()
    members.purchase("o-1", 50000, phone=body["member"]["phone"])
    reply = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k-1"})
    assert reply.status == 201, reply.text
    return token, body["member"]["member_id"], reply.json()["coupon"]["code"]


def _till(api, code, redemption_id="till-1", **extra):
    return api.post(f"/v1/coupons/{code}/redemptions", {"redemption_id": redemption_id, **extra}, headers=MERCHANT)


def _coupons(api, token, query=""):
    reply = api.get(f"/v1/me/coupons{query}", headers=bearer(token))
    assert reply.status == 200, reply.text
    return reply.json()


def _coupon(member_id, code) -> Coupon:
    return Coupon.get(keys.member_pk(member_id), keys.coupon_sk(code), consistent_read=True)


def _problem(reply, status, code):
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    assert reply.json()["code"] == code
    return reply.json()


def _ledger_sum_is_balance(member_id):
    member = Member.get(keys.member_pk(member_id), keys.PROFILE, consistent_read=True)
    assert sum(int(e.points) for e in LedgerEntry.query(keys.member_pk(member_id), LedgerEntry.sk.startswith(keys.LEDGER_PREFIX))) == int(
        member.balance
    )
    return int(member.balance)


def test_given_a_redeemed_reward_then_its_coupon_is_listed_and_the_till_redeems_it_once(api, members):
    token, member_id, code = _redeem_points_for_coffee(api, members)
    listed = _coupons(api, token)["items"]
    assert [(c["code"], c["kind"], c["reward_id"], c["status"], c["redeemed_at"]) for c in listed] == [
        (code, "redemption", "coffee", "available", None)
    ]

    used = _till(api, code, store_id="sh-01")
    assert used.status == 201
    body = used.json()
    assert {k: body[k] for k in ("code", "member_id", "reward_id", "kind", "redemption_id", "store_id")} == {
        "code": code,
        "member_id": member_id,
        "reward_id": "coffee",
        "kind": "redemption",
        "redemption_id": "till-1",
        "store_id": "sh-01",
    }
    assert datetime.fromisoformat(body["redeemed_at"]).tzinfo is not None

    again = _till(api, code, store_id="sh-01")
    assert (again.status, again.headers.get("Idempotent-Replayed"), again.json()) == (200, "true", body)  # the till's retry: the same answer
    _problem(_till(api, code, redemption_id="till-2"), 409, "coupon_unavailable")

    after = _coupons(api, token)["items"][0]
    assert (after["status"], after["redeemed_at"]) == ("redeemed", body["redeemed_at"])
    assert _coupons(api, token, "?status=available")["items"] == []
    assert _ledger_sum_is_balance(member_id) == 100


def test_given_a_code_typed_in_lower_case_with_dashes_then_the_till_still_finds_it(api, members):
    _, _, code = _redeem_points_for_coffee(api, members)
    typed = f"{code[:4]}-{code[4:]}".lower()
    reply = _till(api, typed)
    assert reply.status == 201 and reply.json()["code"] == code


def test_given_no_store_id_then_the_merchant_keys_store_is_recorded(api, members):
    _, member_id, code = _redeem_points_for_coffee(api, members)
    assert _till(api, code).json()["store_id"] == "local-dev"
    assert _coupon(member_id, code).redeemed_store == "local-dev"


def test_given_an_expired_coupon_then_the_till_gets_409_and_the_member_sees_it_expired(api, members):
    token, member_id, code = _redeem_points_for_coffee(api, members)
    _coupon(member_id, code).update(actions=[Coupon.expires_at.set(datetime.now(UTC) - timedelta(minutes=1))])
    problem = _problem(_till(api, code), 409, "coupon_unavailable")
    assert "expired" in problem["detail"]
    assert _coupons(api, token)["items"][0]["status"] == "expired"
    assert _coupon(member_id, code).status == "issued"


def test_given_a_revoked_coupon_then_the_till_gets_409(api, members):
    token, member_id, code = _redeem_points_for_coffee(api, members)
    _coupon(member_id, code).update(actions=[Coupon.status.set("revoked")])
    _problem(_till(api, code), 409, "coupon_unavailable")
    assert _coupons(api, token)["items"][0]["status"] == "revoked"


def test_given_an_unknown_code_then_404_and_a_code_that_cannot_be_one_then_400(api, members):
    _problem(_till(api, "ABCDEFGHJK"), 404, "not_found")
    problem = _problem(_till(api, "%F0%9F%8E%81"), 400, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["code"]


def test_given_a_redemption_id_already_used_for_another_coupon_then_409_and_that_coupon_stays_usable(api, members):
    token, member_id, code = _redeem_points_for_coffee(api, members)
    members.purchase("o-2", 50000, member_id=member_id)
    other = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k-2"}).json()["coupon"]["code"]
    assert _till(api, code, redemption_id="till-1").status == 201
    _problem(_till(api, other, redemption_id="till-1"), 409, "idempotency_conflict")
    _problem(_till(api, code, redemption_id="till-1", store_id="elsewhere"), 409, "idempotency_conflict")
    assert _coupon(member_id, other).status == "issued"
    assert _till(api, other, redemption_id="till-2").status == 201


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, {"redemption_id": "t-1"}, 401, "unauthorized"),
        ({"x-api-key": "wrong"}, {"redemption_id": "t-1"}, 401, "unauthorized"),
        (MERCHANT, {}, 400, "validation_error"),
        (MERCHANT, {"redemption_id": ""}, 400, "validation_error"),
        (MERCHANT, {"redemption_id": "t 1"}, 400, "validation_error"),
        (MERCHANT, {"redemption_id": 7}, 400, "validation_error"),
        (MERCHANT, {"redemption_id": "t-1", "store_id": "x" * 200}, 400, "validation_error"),
        (MERCHANT, {"redemption_id": "t-1", "extra": True}, 400, "validation_error"),
    ],
)
def test_given_a_bad_till_request_then_a_clear_problem_and_the_coupon_stays_usable(api, members, headers, body, status, code):
    _, member_id, coupon = _redeem_points_for_coffee(api, members)
    _problem(api.post(f"/v1/coupons/{coupon}/redemptions", body, headers=headers), status, code)
    assert _coupon(member_id, coupon).status == "issued"


def test_given_malformed_json_at_the_till_then_400(api, members):
    _, _, coupon = _redeem_points_for_coffee(api, members)
    _problem(api.request("POST", f"/v1/coupons/{coupon}/redemptions", body=b"{", headers=MERCHANT), 400, "validation_error")


def test_given_a_frozen_member_then_their_coupon_is_refused_at_the_till_until_thawed(api, members):
    _, member_id, code = _redeem_points_for_coffee(api, members)
    member = Member.get(keys.member_pk(member_id), keys.PROFILE)
    member.update(actions=[Member.status.set("frozen")])
    _problem(_till(api, code), 403, "member_frozen")
    assert _coupon(member_id, code).status == "issued"
    member.update(actions=[Member.status.set("active")])
    assert _till(api, code).status == 201


def test_given_a_closed_member_then_their_coupons_are_void(api, members):
    token, member_id, code = _redeem_points_for_coffee(api, members)
    Member.get(keys.member_pk(member_id), keys.PROFILE).update(actions=[Member.status.set("closed")])
    _problem(_till(api, code), 409, "coupon_unavailable")
    assert api.get("/v1/me/coupons", headers=bearer(token)).status == 401


def test_given_a_welcome_coupon_in_the_rules_then_the_first_verification_issues_one_and_signing_in_again_does_not(api, members, aws):
    set_rules(aws, welcome_coupon_reward_id="coffee", code_resend_seconds=0)
    token, body = members.verified()
    coupons = _coupons(api, token)["items"]
    assert [(c["kind"], c["reward_id"], c["status"]) for c in coupons] == [("welcome", "coffee", "available")]
    expires = datetime.fromisoformat(coupons[0]["expires_at"]) - datetime.fromisoformat(coupons[0]["created_at"])
    assert expires == timedelta(days=30)
    assert body["member"]["points"]["balance"] == 100  # the coupon is a gift: no points spent

    members.verified(body["member"]["phone"])
    assert len(_coupons(api, token)["items"]) == 1
    assert _till(api, coupons[0]["code"]).json()["kind"] == "welcome"


def test_given_no_welcome_coupon_rule_or_a_reward_that_is_gone_then_verification_issues_none_and_still_works(api, members, aws):
    token, _ = members.verified()
    assert _coupons(api, token)["items"] == []
    set_rules(aws, welcome_coupon_reward_id="no-such-reward")
    token, body = members.verified()
    assert body["member"]["status"] == "active"
    assert _coupons(api, token)["items"] == []


def test_given_two_coupons_drawn_with_the_same_code_then_the_second_is_reissued_and_each_till_scan_finds_its_owner(api, members, aws, monkeypatch):
    from chalicelib.store import coupons as store_coupons

    drawn = iter(["SAMECODE22", "SAMECODE22", "NEXTCODE33"])
    monkeypatch.setattr(store_coupons, "new_coupon_code", lambda: next(drawn))
    set_rules(aws, welcome_coupon_reward_id="coffee")
    token_a, a = members.verified()
    token_b, b = members.verified()
    assert [c["code"] for c in _coupons(api, token_a)["items"]] == ["SAMECODE22"]
    assert [c["code"] for c in _coupons(api, token_b)["items"]] == ["NEXTCODE33"]
    assert _till(api, "SAMECODE22", "t-a").json()["member_id"] == a["member"]["member_id"]
    assert _till(api, "NEXTCODE33", "t-b").json()["member_id"] == b["member"]["member_id"]
    assert _ledger_sum_is_balance(b["member"]["member_id"]) == 100


def _today():
    return datetime.now(SHANGHAI).date()


def _born_today():
    t = _today()
    return "1992-02-29" if (t.month, t.day) == (2, 29) else t.replace(year=1990).isoformat()


def test_given_a_birthday_coupon_in_the_rules_then_the_birthday_gift_brings_one_coupon_a_year(api, members, aws, outbox_path):
    from tests.support.outbox import messages

    set_rules(aws, birthday_coupon_reward_id="coffee")
    token, body = members.verified(birthday=_born_today(), consents={"sms_marketing": True})

    dry = run("birthday-bonus", _today().isoformat(), True)
    assert dry["members_affected"] == 1
    assert _coupons(api, token)["items"] == []  # a dry run writes nothing

    run("birthday-bonus", _today().isoformat(), False)
    run("birthday-bonus", _today().isoformat(), False)
    coupons = _coupons(api, token)["items"]
    assert [(c["kind"], c["reward_id"], c["status"]) for c in coupons] == [("birthday", "coffee", "available")]
    greeting = [m for m in messages(outbox_path) if m["kind"] == "birthday_greeting"]
    assert len(greeting) == 1 and "coupon" in greeting[0]["body"]
    assert _ledger_sum_is_balance(body["member"]["member_id"]) == 300


def test_given_many_coupons_then_the_list_pages_with_a_cursor_and_filters_by_status(api, members):
    token, body = members.verified()
    members.purchase("o-1", 200000, phone=body["member"]["phone"])
    codes = []
    for n in range(3):
        reply = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": f"k-{n}"})
        codes.append(reply.json()["coupon"]["code"])
    _till(api, codes[1])

    seen, cursor = [], None
    while True:
        page = _coupons(api, token, "?limit=1" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["items"]) <= 1
        seen += [c["code"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(codes)

    available = _coupons(api, token, "?status=available&limit=1")
    assert len(available["items"]) == 1 and available["next_cursor"]
    rest = _coupons(api, token, f"?status=available&limit=5&cursor={available['next_cursor']}")
    assert sorted([available["items"][0]["code"]] + [c["code"] for c in rest["items"]]) == sorted([codes[0], codes[2]])
    assert [c["code"] for c in _coupons(api, token, "?status=redeemed")["items"]] == [codes[1]]


def test_given_two_members_then_each_sees_only_their_own_coupons(api, members):
    token_a, _, code = _redeem_points_for_coffee(api, members)
    token_b, _ = members.verified()
    assert _coupons(api, token_b)["items"] == []
    page = _coupons(api, token_a)
    assert [c["code"] for c in page["items"]] == [code]


@pytest.mark.parametrize("query", ["?status=used", "?limit=0", "?limit=101", "?cursor=bm9wZQ", "?cursor=%%%"])
def test_given_bad_list_parameters_then_400(api, members, query):
    token, _ = members.verified()
    _problem(api.get(f"/v1/me/coupons{query}", headers=bearer(token)), 400, "validation_error")


def test_given_no_token_then_the_coupon_list_is_401(api):
    _problem(api.get("/v1/me/coupons"), 401, "unauthorized")
