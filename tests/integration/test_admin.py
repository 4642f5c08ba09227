"""The operator API (/v1/admin): what operators do, what members then notice, and the audit trail."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.store import keys
from chalicelib.store.models import BaseItem, LedgerEntry, Member
from localstage.job import run
from tests.integration.conftest import MERCHANT, bearer
from tests.support.outbox import last_code

SHANGHAI = ZoneInfo("Asia/Shanghai")
WHY = {"reason": "客服工单 #4521: member asked"}


def put(api, path, body, **kw):
    return api.request("PUT", path, json_body=body, **kw)


def patch(api, path, body, **kw):
    return api.request("PATCH", path, json_body=body, **kw)


def delete(api, path, body=None, **kw):
    return api.request("DELETE", path, json_body=body, **kw)


def today() -> date:
    return datetime.now(SHANGHAI).date()


def _member(api, members):
    """A verified member (100 welcome points): (token, member_id, phone)."""
    token, body = members.verified()
    return token, body["member"]["member_id"], body["member"]["phone"]


def _me(api, token):
    return api.get("/v1/me", headers=bearer(token))


def _audit(api, **query):
    q = "&".join(f"{k}={v}" for k, v in query.items())
    reply = api.get(f"/v1/admin/audit?{q}")
    assert reply.status == 200, reply.text
    return reply.json()["items"]


def _ledger_sum_is_balance(member_id: str) -> int:
    member = Member.get(keys.member_pk(member_id), keys.PROFILE, consistent_read=True)
    entries = LedgerEntry.query(keys.member_pk(member_id), LedgerEntry.sk.startswith(keys.LEDGER_PREFIX))
    assert sum(int(e.points) for e in entries) == int(member.balance)
    return int(member.balance)


def _problem(reply, status, code):
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    body = reply.json()
    assert body["code"] == code and body["status"] == status
    return body


def _invalid(reply, *fields):
    body = _problem(reply, 400, "validation_error")
    reported = {e["field"] for e in body["errors"]}
    for field in fields:
        assert any(r == field or r.startswith(f"{field}.") for r in reported), (field, reported)
    return body


# --- local-stage openness ------------------------------------------------------------------------


def test_given_the_local_stage_then_every_admin_response_says_it_is_open_errors_included(api, members):
    ok = api.get("/v1/admin/rewards")
    missing = api.get("/v1/admin/members/mbr_0000000000000000")
    assert ok.status == 200 and ok.headers["X-Huiyuan-Admin"] == "local-open"
    assert missing.status == 404 and missing.headers["X-Huiyuan-Admin"] == "local-open"
    assert "X-Huiyuan-Admin" not in api.get("/v1/rewards").headers


# --- finding and viewing members ------------------------------------------------------------------


def test_given_a_member_when_an_operator_searches_by_phone_in_either_form_or_by_id_then_the_member_is_found(api, members):
    _, member_id, phone = _member(api, members)
    for query in (f"phone={phone.replace('+', '%2B')}", f"phone={phone.removeprefix('+86')}", f"member_id={member_id}"):
        reply = api.get(f"/v1/admin/members?{query}")
        assert reply.status == 200, reply.text
        [found] = reply.json()["items"]
        assert found["member_id"] == member_id and found["phone"] == phone and found["name"] == "张伟"
        assert found["points"]["balance"] == 100 and found["tier_override"] is None
    assert api.get("/v1/admin/members?phone=13900000999").json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("query", ["", "?phone=12", "?phone=not-a-phone", "?phone=13800138000&member_id=mbr_1", "?member_id=-x"])
def test_given_a_search_without_exactly_one_valid_phone_or_id_then_400(api, query):
    _invalid(api.get(f"/v1/admin/members{query}"))


def test_given_a_member_when_an_operator_opens_them_then_profile_ledger_and_coupons_show(api, members):
    token, member_id, phone = _member(api, members)
    members.purchase("o-1", 60000, phone=phone)
    redeemed = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k1"}).json()

    profile = api.get(f"/v1/admin/members/{member_id}").json()
    assert profile["points"]["balance"] == 200 and profile["status"] == "active" and profile["activated_at"]

    ledger = api.get(f"/v1/admin/members/{member_id}/ledger?limit=2").json()
    assert [e["kind"] for e in ledger["items"]] == ["redeem", "earn"] and ledger["next_cursor"]
    rest = api.get(f"/v1/admin/members/{member_id}/ledger?limit=2&cursor={ledger['next_cursor']}").json()
    assert [e["kind"] for e in rest["items"]] == ["bonus"] and rest["next_cursor"] is None

    coupons = api.get(f"/v1/admin/members/{member_id}/coupons").json()["items"]
    assert [(c["code"], c["reward_id"], c["status"]) for c in coupons] == [(redeemed["coupon"]["code"], "coffee", "issued")]


@pytest.mark.parametrize("suffix", ["", "/ledger", "/coupons"])
def test_given_an_unknown_member_then_every_read_is_404(api, suffix):
    _problem(api.get(f"/v1/admin/members/mbr_0000000000000000{suffix}"), 404, "not_found")


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?limit=x", "?cursor=%%%", "?cursor=Tk9UQ1VSU09S"])
def test_given_bad_paging_parameters_then_400(api, members, query):
    _, member_id, _ = _member(api, members)
    _invalid(api.get(f"/v1/admin/members/{member_id}/ledger{query}"))


# --- freeze / unfreeze / close / restore ----------------------------------------------------------


def test_given_a_frozen_member_then_they_cannot_redeem_or_earn_until_unfrozen_and_both_steps_are_audited(api, members):
    token, member_id, phone = _member(api, members)
    frozen = api.post(f"/v1/admin/members/{member_id}/freeze", {"reason": "suspected fraud"}, headers={"X-Operator": "li.na"})
    assert frozen.status == 200 and frozen.json()["status"] == "frozen"
    redeem = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k"})
    _problem(redeem, 403, "member_frozen")
    assert members.purchase("o-1", 1000, phone=phone).status == 403
    _problem(api.post(f"/v1/admin/members/{member_id}/freeze", WHY), 409, "invalid_state")

    assert api.post(f"/v1/admin/members/{member_id}/unfreeze", {"reason": "cleared"}).json()["status"] == "active"
    assert members.purchase("o-2", 1000, phone=phone).status == 201
    _problem(api.post(f"/v1/admin/members/{member_id}/unfreeze", WHY), 409, "invalid_state")

    unfreeze, freeze = _audit(api, member_id=member_id)
    assert (freeze["action"], freeze["actor"], freeze["reason"]) == ("member.freeze", "local-operator:li.na", "suspected fraud")
    assert (freeze["before"], freeze["after"]) == ({"status": "active"}, {"status": "frozen"})
    assert (unfreeze["action"], unfreeze["actor"], unfreeze["after"]) == ("member.unfreeze", "local-operator", {"status": "active"})
    assert datetime.fromisoformat(freeze["created_at"]) > datetime.now(UTC) - timedelta(minutes=1)


def test_given_a_closed_member_then_their_token_stops_working_closing_again_is_409_and_restoring_brings_the_membership_back(
    api, members, outbox_path
):
    from tests.support.outbox import messages

    token, member_id, phone = _member(api, members)
    closed = api.post(f"/v1/admin/members/{member_id}/close", WHY)
    assert closed.status == 200 and closed.json()["status"] == "closed" and closed.json()["closed_at"]
    assert _me(api, token).status == 401
    assert [m["kind"] for m in messages(outbox_path) if m["to"] == phone][-1] == "membership_closed"
    _problem(api.post(f"/v1/admin/members/{member_id}/close", WHY), 409, "already_closed")
    _problem(api.post(f"/v1/admin/members/{member_id}/freeze", WHY), 409, "member_closed")
    # operators still see a closed member's history
    assert [e["kind"] for e in api.get(f"/v1/admin/members/{member_id}/ledger").json()["items"]] == ["bonus"]

    restored = api.post(f"/v1/admin/members/{member_id}/restore", WHY)
    assert restored.status == 200 and restored.json()["status"] == "active" and restored.json()["closed_at"] is None
    assert _me(api, token).status == 401  # the tokens the closure ended stay ended: the member signs in again
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()
    api.post("/v1/auth/code", {"phone": phone})
    token = api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)}).json()["access_token"]
    assert _me(api, token).json()["points"]["balance"] == 100
    _problem(api.post(f"/v1/admin/members/{member_id}/restore", WHY), 409, "invalid_state")
    assert [e["action"] for e in _audit(api, member_id=member_id)] == ["member.restore", "member.close"]


def test_given_a_closure_older_than_the_grace_period_then_restore_is_409_and_the_member_stays_closed(api, members):
    token, member_id, _ = _member(api, members)
    api.post(f"/v1/admin/members/{member_id}/close", WHY)
    member = Member.get(keys.member_pk(member_id), keys.PROFILE)
    past = datetime.now(UTC) - timedelta(days=31)  # 30 grace days by default
    member.update(actions=[Member.closed_at.set(past), Member.erase_after.set(past + timedelta(days=30))])
    _problem(api.post(f"/v1/admin/members/{member_id}/restore", WHY), 409, "invalid_state")
    assert _me(api, token).status == 401
    assert [e["action"] for e in _audit(api, member_id=member_id)] == ["member.close"]


def test_given_a_frozen_member_closed_by_an_operator_then_restoring_brings_back_the_frozen_state(api, members):
    token, member_id, _ = _member(api, members)
    api.post(f"/v1/admin/members/{member_id}/freeze", WHY)
    api.post(f"/v1/admin/members/{member_id}/close", WHY)
    restored = api.post(f"/v1/admin/members/{member_id}/restore", WHY)
    assert restored.status == 200 and restored.json()["status"] == "frozen"
    assert api.get(f"/v1/admin/members/{member_id}").json()["status"] == "frozen"
    assert _me(api, token).status == 401  # the closure ended the member's tokens
    restore = _audit(api, member_id=member_id)[0]
    assert (restore["before"]["status"], restore["after"]) == ("closed", {"status": "frozen", "closed_at": None, "erase_after": None})


def test_given_stored_value_in_the_wallet_then_an_operator_closure_is_409_invalid_state_and_changes_nothing(api, members):
    from chalicelib.store.models_wallet import Wallet

    token, member_id, _ = _member(api, members)
    now = datetime.now(UTC)
    Wallet(keys.member_pk(member_id), keys.WALLET_SK, member_id=member_id, balance=5000, currency="CNY", created_at=now, updated_at=now).save()
    _problem(api.post(f"/v1/admin/members/{member_id}/close", WHY), 409, "invalid_state")
    assert _me(api, token).json()["status"] == "active"
    assert _audit(api, member_id=member_id) == []


@pytest.mark.parametrize("action", ["freeze", "unfreeze", "close", "restore"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (None, "body"),
        ({}, "reason"),
        ({"reason": "  "}, "reason"),
        ({"reason": 5}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({**WHY, "x": 1}, "x"),
    ],
)
def test_given_a_state_change_without_a_proper_reason_then_400_and_nothing_changes(api, members, action, body, field):
    token, member_id, _ = _member(api, members)
    _invalid(api.post(f"/v1/admin/members/{member_id}/{action}", body), field)
    assert _me(api, token).json()["status"] == "active"
    assert _audit(api, member_id=member_id) == []


@pytest.mark.parametrize("action", ["freeze", "unfreeze", "close", "restore"])
def test_given_an_unknown_member_then_state_changes_are_404(api, action):
    _problem(api.post(f"/v1/admin/members/mbr_0000000000000000/{action}", WHY), 404, "not_found")


# --- points adjustments ----------------------------------------------------------------------------


def test_given_an_adjustment_then_the_member_sees_an_adjust_entry_once_per_adjustment_id(api, members):
    token, member_id, _ = _member(api, members)
    body = {"adjustment_id": "adj-1", "points": 250, "reason": "missed purchase POS-9"}
    first = api.post(f"/v1/admin/members/{member_id}/adjustments", body)
    assert first.status == 201, first.text
    assert first.json()["balance"] == 350 and first.json()["points"] == 250
    again = api.post(f"/v1/admin/members/{member_id}/adjustments", body)
    assert (again.status, again.json()) == (200, first.json())
    conflict = api.post(f"/v1/admin/members/{member_id}/adjustments", {**body, "points": 300})
    _problem(conflict, 409, "idempotency_conflict")

    assert _me(api, token).json()["points"]["balance"] == 350
    newest = api.get("/v1/me/ledger", headers=bearer(token)).json()["items"][0]
    assert (newest["kind"], newest["points"], newest["balance_after"], newest["ref"]) == ("adjust", 250, 350, "adj-1")
    assert _ledger_sum_is_balance(member_id) == 350
    [entry] = _audit(api, member_id=member_id)
    assert (entry["action"], entry["ref"], entry["before"], entry["after"]) == (
        "points.adjust",
        "adj-1",
        {"balance": 100},
        {"balance": 350, "points": 250},
    )


def test_given_a_debit_to_exactly_zero_it_is_made_but_one_point_more_is_409_insufficient_points_and_changes_nothing(api, members):
    token, member_id, _ = _member(api, members)
    over = api.post(f"/v1/admin/members/{member_id}/adjustments", {"adjustment_id": "a1", "points": -101, **WHY})
    _problem(over, 409, "insufficient_points")
    assert _me(api, token).json()["points"]["balance"] == 100
    assert _audit(api, member_id=member_id) == []

    exact = api.post(f"/v1/admin/members/{member_id}/adjustments", {"adjustment_id": "a2", "points": -100, **WHY})
    assert exact.status == 201 and exact.json()["balance"] == 0
    _problem(api.post(f"/v1/admin/members/{member_id}/adjustments", {"adjustment_id": "a3", "points": -1, **WHY}), 409, "insufficient_points")
    assert _ledger_sum_is_balance(member_id) == 0
    # the refused id was never used: it can still be made, as a credit
    assert api.post(f"/v1/admin/members/{member_id}/adjustments", {"adjustment_id": "a1", "points": 5, **WHY}).status == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"adjustment_id": "a", "points": 0, **WHY}, "body"),
        ({"adjustment_id": "a", "points": "50", **WHY}, "points"),
        ({"adjustment_id": "a", "points": 1.5, **WHY}, "points"),
        ({"adjustment_id": "a", "points": True, **WHY}, "points"),
        ({"adjustment_id": "a", "points": 10**12, **WHY}, "points"),
        ({"adjustment_id": "a", "points": 5}, "reason"),
        ({"points": 5, **WHY}, "adjustment_id"),
        ({"adjustment_id": "has space", "points": 5, **WHY}, "adjustment_id"),
        ({"adjustment_id": "a", "points": 5, "kind": "earn", **WHY}, "kind"),
    ],
)
def test_given_an_invalid_adjustment_then_400_and_the_balance_is_unchanged(api, members, body, field):
    token, member_id, _ = _member(api, members)
    _invalid(api.post(f"/v1/admin/members/{member_id}/adjustments", body), field)
    assert _me(api, token).json()["points"]["balance"] == 100


def test_given_a_malformed_json_body_then_400_not_500(api, members):
    _, member_id, _ = _member(api, members)
    reply = api.request("POST", f"/v1/admin/members/{member_id}/adjustments", body=b'{"points": 5,')
    _invalid(reply, "body")


def test_given_an_unknown_or_closed_member_then_adjustments_are_404_or_409(api, members):
    _problem(api.post("/v1/admin/members/mbr_0000000000000000/adjustments", {"adjustment_id": "a", "points": 5, **WHY}), 404, "not_found")
    _, member_id, _ = _member(api, members)
    api.post(f"/v1/admin/members/{member_id}/close", WHY)
    _problem(api.post(f"/v1/admin/members/{member_id}/adjustments", {"adjustment_id": "a", "points": 5, **WHY}), 409, "member_closed")
    assert _ledger_sum_is_balance(member_id) == 100


# --- tier override ------------------------------------------------------------------------------------


def test_given_a_gold_override_then_the_member_is_gold_and_earns_at_the_gold_rate(api, members):
    token, member_id, phone = _member(api, members)
    reply = put(api, f"/v1/admin/members/{member_id}/tier-override", {"tier": "gold", **WHY})
    assert reply.status == 200 and (reply.json()["tier"], reply.json()["tier_override"]) == ("gold", "gold")
    assert _me(api, token).json()["tier"] == "gold"
    purchase = members.purchase("o-1", 10000, phone=phone).json()
    assert (purchase["points_earned"], purchase["tier"]) == (150, "gold")  # x1.5
    [entry] = _audit(api, member_id=member_id)
    assert (entry["before"], entry["after"]) == ({"tier": "member", "tier_override": None}, {"tier": "gold", "tier_override": "gold"})


def test_given_a_silver_override_then_purchases_can_still_lift_the_member_above_it(api, members):
    _, member_id, phone = _member(api, members)
    put(api, f"/v1/admin/members/{member_id}/tier-override", {"tier": "silver", **WHY})
    assert members.purchase("o-1", 100000, phone=phone).json()["tier"] == "silver"  # 1,250 points: nothing to lift
    assert members.purchase("o-2", 800000, phone=phone).json()["tier"] == "gold"  # 11,250 qualifying points


def test_given_an_override_at_the_anniversary_review_then_the_tier_never_drops_below_it(api, members):
    token, member_id, _ = _member(api, members)
    joined = datetime.now(UTC) - timedelta(days=365 * 2)
    joined_local = joined.astimezone(SHANGHAI).date()
    Member.get(keys.member_pk(member_id), keys.PROFILE).update(
        actions=[
            Member.created_at.set(joined),
            Member.anniversary_bucket.set(keys.anniversary_bucket(joined_local.strftime("%m-%d"), keys.shard_of(member_id, 8))),
        ]
    )
    put(api, f"/v1/admin/members/{member_id}/tier-override", {"tier": "gold", **WHY})
    as_of = joined_local.replace(year=today().year)
    if as_of > today() + timedelta(days=31):
        as_of = as_of.replace(year=today().year - 1)
    run("tier-review", as_of.isoformat(), False)
    assert _me(api, token).json()["tier"] == "gold"  # no points earned, but the floor holds


def test_given_an_override_when_it_is_cleared_then_it_is_gone_and_the_tier_held_stays_until_the_review(api, members):
    token, member_id, _ = _member(api, members)
    put(api, f"/v1/admin/members/{member_id}/tier-override", {"tier": "silver", **WHY})
    cleared = delete(api, f"/v1/admin/members/{member_id}/tier-override", {"reason": "promotion over"})
    assert cleared.status == 200 and cleared.json()["tier_override"] is None
    assert _me(api, token).json()["tier"] == "silver"
    _problem(delete(api, f"/v1/admin/members/{member_id}/tier-override", WHY), 409, "invalid_state")
    assert [e["action"] for e in _audit(api, member_id=member_id)] == ["member.tier_override.clear", "member.tier_override.set"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"tier": "platinum", **WHY}, "tier"), ({"tier": "Gold", **WHY}, "tier"), ({"tier": "gold"}, "reason"), ({**WHY}, "tier"), (None, "body")],
)
def test_given_an_invalid_override_then_400_and_the_tier_is_unchanged(api, members, body, field):
    token, member_id, _ = _member(api, members)
    _invalid(put(api, f"/v1/admin/members/{member_id}/tier-override", body), field)
    assert _me(api, token).json()["tier"] == "member"


def test_given_an_unknown_member_then_tier_override_calls_are_404(api):
    _problem(put(api, "/v1/admin/members/mbr_0000000000000000/tier-override", {"tier": "gold", **WHY}), 404, "not_found")
    _problem(delete(api, "/v1/admin/members/mbr_0000000000000000/tier-override", WHY), 404, "not_found")


# --- rewards ----------------------------------------------------------------------------------------


def _catalogue(api):
    return {r["reward_id"]: r for r in api.get("/v1/rewards").json()["items"]}


def test_given_a_new_reward_then_members_see_it_and_creating_it_again_is_a_replay_but_another_definition_409(api):
    reward = {"reward_id": "tea", "name": "奶茶 Milk tea", "points_cost": 300, "stock": 20}
    created = api.post("/v1/admin/rewards", reward)
    assert created.status == 201
    assert created.json() == {**reward, "active": True, "coupon_valid_days": None}
    assert _catalogue(api)["tea"] == {"reward_id": "tea", "name": "奶茶 Milk tea", "points_cost": 300, "stock": 20}
    assert api.post("/v1/admin/rewards", reward).status == 200
    _problem(api.post("/v1/admin/rewards", {**reward, "points_cost": 1}), 409, "idempotency_conflict")
    assert _catalogue(api)["tea"]["points_cost"] == 300


def test_given_a_stock_update_and_a_retirement_then_the_catalogue_and_redemptions_follow(api, members):
    token, _, phone = _member(api, members)
    members.purchase("o-1", 60000, phone=phone)
    restocked = patch(api, "/v1/admin/rewards/voucher-50", {"stock": 3, "reason": "new delivery"})
    assert restocked.status == 200 and restocked.json()["stock"] == 3
    assert _catalogue(api)["voucher-50"]["stock"] == 3
    assert patch(api, "/v1/admin/rewards/tote-bag", {"stock": None}).json()["stock"] is None  # unlimited

    retired = patch(api, "/v1/admin/rewards/coffee", {"active": False})
    assert retired.status == 200 and retired.json()["active"] is False
    assert "coffee" not in _catalogue(api)
    redeem = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k"})
    _problem(redeem, 404, "not_found")
    assert {r["reward_id"]: r["active"] for r in api.get("/v1/admin/rewards").json()["items"]}["coffee"] is False

    day = _audit(api, day=today().isoformat())
    actions = [(e["action"], e["target"]["id"], e["before"], e["after"]) for e in day if e["target"]["type"] == "reward"]
    assert actions == [
        ("reward.retire", "coffee", {"active": True}, {"active": False}),
        ("reward.update", "tote-bag", {"stock": 50}, {"stock": None}),
        ("reward.update", "voucher-50", {"stock": 10}, {"stock": 3}),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reward_id": "x", "name": "X", "points_cost": 0}, "points_cost"),
        ({"reward_id": "x", "name": "X", "points_cost": "100"}, "points_cost"),
        ({"reward_id": "x", "name": "X", "points_cost": 100, "stock": -1}, "stock"),
        ({"reward_id": "x", "name": " ", "points_cost": 100}, "name"),
        ({"reward_id": "x y", "name": "X", "points_cost": 100}, "reward_id"),
        ({"name": "X", "points_cost": 100}, "reward_id"),
        ({"reward_id": "x", "name": "X", "points_cost": 100, "active": False}, "active"),
    ],
)
def test_given_an_invalid_new_reward_then_400_and_nothing_is_added(api, body, field):
    _invalid(api.post("/v1/admin/rewards", body), field)
    assert "x" not in _catalogue(api)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"reason": "r"}, "body"),
        ({"stock": -5}, "stock"),
        ({"stock": 1.5}, "stock"),
        ({"name": None}, "body"),
        ({"active": "no"}, "active"),
    ],
)
def test_given_an_invalid_reward_update_then_400_and_the_reward_is_unchanged(api, body, field):
    _invalid(patch(api, "/v1/admin/rewards/voucher-50", body), field)
    assert _catalogue(api)["voucher-50"]["stock"] == 10


def test_given_an_unknown_reward_then_update_is_404(api):
    _problem(patch(api, "/v1/admin/rewards/no-such-reward", {"stock": 1}), 404, "not_found")


# --- merchant keys --------------------------------------------------------------------------------


def test_given_a_new_merchant_key_then_it_is_shown_once_works_for_purchases_and_once_revoked_gets_401(api, members):
    _, _, phone = _member(api, members)
    issued = api.post("/v1/admin/merchant-keys", {"store_id": "shanghai-01", "reason": "new till"})
    assert issued.status == 201
    key = issued.json()
    assert len(key["api_key"]) >= 40 and key["store_id"] == "shanghai-01" and key["status"] == "active"
    listed = api.get("/v1/admin/merchant-keys").json()["items"]
    assert {k["key_id"] for k in listed} == {"key_local_dev", key["key_id"]}
    assert key["api_key"] not in api.get("/v1/admin/merchant-keys").text  # never shown again

    till = {"x-api-key": key["api_key"]}
    purchase = {"order_id": "o-1", "phone": phone, "amount": 1000, "currency": "CNY"}
    assert api.post("/v1/purchases", purchase, headers=till).status == 201

    revoked = delete(api, f"/v1/admin/merchant-keys/{key['key_id']}", {"reason": "till stolen"})
    assert revoked.status == 200 and revoked.json()["status"] == "revoked" and revoked.json()["revoked_at"]
    _problem(api.post("/v1/purchases", {**purchase, "order_id": "o-2"}, headers=till), 401, "unauthorized")
    assert api.post("/v1/purchases", {**purchase, "order_id": "o-3"}, headers=MERCHANT).status == 201  # other keys still work

    assert delete(api, f"/v1/admin/merchant-keys/{key['key_id']}").json()["status"] == "revoked"  # again: no change
    day = [e for e in _audit(api, day=today().isoformat()) if e["target"]["type"] == "merchant_key"]
    assert [(e["action"], e["reason"]) for e in day] == [("merchant_key.revoke", "till stolen"), ("merchant_key.issue", "new till")]
    assert all(key["api_key"] not in str(e) for e in day)


def test_given_bad_merchant_key_requests_then_400_or_404(api):
    _invalid(api.post("/v1/admin/merchant-keys", {}), "store_id")
    _invalid(api.post("/v1/admin/merchant-keys", {"store_id": "a b"}), "store_id")
    _invalid(delete(api, "/v1/admin/merchant-keys/key_local_dev", {"reason": 1}), "reason")
    _problem(delete(api, "/v1/admin/merchant-keys/key_nope"), 404, "not_found")
    assert [k["status"] for k in api.get("/v1/admin/merchant-keys").json()["items"]] == ["active"]


# --- program rules -----------------------------------------------------------------------------------


def test_given_a_rules_update_then_it_is_validated_saved_audited_and_purchases_use_the_new_earn_rate(api, members):
    _, _, phone = _member(api, members)
    current = api.get("/v1/admin/rules").json()
    assert current["rules"]["earn_rate"] == "1" and current["stored_document_valid"] is True
    document = {**current["rules"], "earn_rate": "2"}
    saved = put(api, "/v1/admin/rules", {"rules": document, "reason": "double points month"})
    assert saved.status == 200, saved.text
    assert saved.json()["version"] > current["version"]
    assert api.get("/v1/admin/rules").json()["rules"]["earn_rate"] == "2"
    assert members.purchase("o-1", 10000, phone=phone).json()["points_earned"] == 200

    [entry] = [e for e in _audit(api, day=today().isoformat()) if e["action"] == "rules.update"]
    assert (entry["before"], entry["after"], entry["reason"]) == ({"earn_rate": "1"}, {"earn_rate": "2"}, "double points month")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"earn_rate": -1}, "rules.earn_rate"),
        ({"timezone": "Mars/Olympus"}, "rules.timezone"),
        ({"currencies": ["yuan"]}, "rules.currencies"),
        ({"bonus_everything": True}, "rules.bonus_everything"),
        ({"tiers": [{"id": "gold", "name": "Gold", "threshold": 5, "multiplier": 2}]}, "rules"),
    ],
)
def test_given_invalid_rules_then_400_and_the_old_rules_stay_in_force(api, members, change, field):
    _, _, phone = _member(api, members)
    current = api.get("/v1/admin/rules").json()
    refused = put(api, "/v1/admin/rules", {"rules": {**current["rules"], **change, "earn_rate": change.get("earn_rate", "3")}, **WHY})
    _invalid(refused, field)
    assert api.get("/v1/admin/rules").json() == current
    assert members.purchase("o-1", 10000, phone=phone).json()["points_earned"] == 100


def test_given_a_partial_rules_document_then_400_naming_what_is_missing_so_nothing_falls_back_to_defaults(api):
    current = api.get("/v1/admin/rules").json()
    body = _invalid(put(api, "/v1/admin/rules", {"rules": {"earn_rate": "2"}, **WHY}), "rules.tiers", "rules.timezone")
    assert "rules.earn_rate" not in {e["field"] for e in body["errors"]}
    assert api.get("/v1/admin/rules").json() == current
    _invalid(put(api, "/v1/admin/rules", {"rules": current["rules"]}), "reason")
    _invalid(put(api, "/v1/admin/rules", {"rules": "earn_rate=2", **WHY}), "rules")


# --- the audit trail -----------------------------------------------------------------------------------


def test_given_actions_on_two_members_then_each_member_lists_only_theirs_and_the_day_lists_all_newest_first(api, members):
    _, a, _ = _member(api, members)
    _, b, _ = _member(api, members)
    api.post(f"/v1/admin/members/{a}/freeze", WHY)
    api.post(f"/v1/admin/members/{b}/adjustments", {"adjustment_id": "x", "points": 7, **WHY})
    api.post(f"/v1/admin/members/{a}/unfreeze", WHY)

    assert [e["action"] for e in _audit(api, member_id=a)] == ["member.unfreeze", "member.freeze"]
    assert [(e["action"], e["member_id"]) for e in _audit(api, member_id=b)] == [("points.adjust", b)]
    day = _audit(api, day=today().isoformat())
    assert [e["action"] for e in day] == ["member.unfreeze", "points.adjust", "member.freeze"]
    assert all(e["actor"] == "local-operator" and e["reason"] == WHY["reason"] for e in day)

    first = api.get(f"/v1/admin/audit?day={today().isoformat()}&limit=2").json()
    second = api.get(f"/v1/admin/audit?day={today().isoformat()}&limit=2&cursor={first['next_cursor']}").json()
    assert [e["audit_id"] for e in first["items"] + second["items"]] == [e["audit_id"] for e in day]
    assert second["next_cursor"] is None
    assert _audit(api, day=(today() - timedelta(days=1)).isoformat()) == []


@pytest.mark.parametrize(
    "query",
    ["", "?day=2026-02-30", "?day=yesterday", "?day=2026-1-1", "?member_id=-bad", "?member_id=mbr_1&day=2026-01-01", "?day=2026-01-01&limit=500"],
)
def test_given_an_audit_query_without_exactly_one_valid_member_or_day_then_400(api, query):
    _invalid(api.get(f"/v1/admin/audit{query}"))


def test_given_an_invalid_operator_name_then_400_and_nothing_changes(api, members):
    token, member_id, _ = _member(api, members)
    _invalid(api.post(f"/v1/admin/members/{member_id}/freeze", WHY, headers={"X-Operator": "x" * 80}), "X-Operator")
    assert _me(api, token).json()["status"] == "active"


def test_given_operator_work_then_no_log_line_holds_the_members_personal_data_or_an_issued_key(api, members, capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="huiyuan")
    _, member_id, phone = _member(api, members)
    api.get(f"/v1/admin/members?phone={phone.removeprefix('+86')}")
    api.post(f"/v1/admin/members/{member_id}/adjustments", {"adjustment_id": "a", "points": 5, **WHY})
    api.post(f"/v1/admin/members/{member_id}/freeze", WHY)
    key = api.post("/v1/admin/merchant-keys", {"store_id": "s1"}).json()["api_key"]
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "points adjusted" in logged
    for secret in (phone, phone.removeprefix("+86"), "张伟", key):
        assert secret not in logged


# --- the audit entry rides in the change's transaction ------------------------------------------------


def test_given_transaction_conflicts_then_the_adjustment_is_retried_and_written_once_with_one_audit_entry(api, members):
    from tests.integration.test_faults import inject, transaction_conflict

    _, member_id, _ = _member(api, members)
    with inject("TransactWriteItems", transaction_conflict, times=2) as injected:
        reply = api.post(f"/v1/admin/members/{member_id}/adjustments", {"adjustment_id": "a", "points": 5, **WHY})
    assert injected[0] == 2 and reply.status == 201
    assert _ledger_sum_is_balance(member_id) == 105
    assert len(_audit(api, member_id=member_id)) == len(_audit(api, day=today().isoformat())) == 1


def test_given_conflicts_that_do_not_stop_then_503_and_neither_the_change_nor_its_audit_entry_is_written(api, members):
    from tests.integration.test_faults import inject, transaction_conflict

    token, member_id, _ = _member(api, members)
    with inject("TransactWriteItems", transaction_conflict, times=10_000):
        frozen = api.post(f"/v1/admin/members/{member_id}/freeze", WHY)
    _problem(frozen, 503, "temporarily_unavailable")
    assert frozen.headers["Retry-After"] == "1"
    assert _me(api, token).json()["status"] == "active"
    assert _audit(api, member_id=member_id) == [] and _audit(api, day=today().isoformat()) == []
