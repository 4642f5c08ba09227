"""Pending points (issue 14 items 4 and 9): purchase points held for a return window, cancelled by
a refund inside it, released by the `release-pending-points` job; a refund of a referee's first
purchase clawing back the referrer bonus."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.points import lot_expires_on, month_key
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.ledger import lot_earnings
from chalicelib.store.models import LedgerEntry, Lot
from chalicelib.store.models_engagement import Referral
from chalicelib.store.unit_of_work import connection
from chalicelib.usecases.reconcile import reconcile_table
from localstage.job import run
from tests.integration.conftest import MERCHANT, bearer
from tests.support.books import balance_that_adds_up, stored_ledger, stored_member
from tests.support.rules import set_rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
WELCOME = 100
ONLINE_HOLD = [{"channel": "online", "hold_days": 7}]


def today() -> date:
    return datetime.now(SHANGHAI).date()


def release_day() -> date:
    return today() + timedelta(days=7)


def _buy(api, order_id: str, amount: int, phone: str, channel: str | None = "online"):
    body = {"order_id": order_id, "amount": amount, "currency": "CNY", "phone": phone, **({"channel": channel} if channel else {})}
    return api.post("/v1/purchases", body, headers=MERCHANT)


def _refund(api, order_id: str, refund_id: str, amount: int):
    return api.post(f"/v1/purchases/{order_id}/refunds", {"refund_id": refund_id, "amount": amount}, headers=MERCHANT)


def _points(api, token: str) -> dict:
    return api.get("/v1/me", headers=bearer(token)).json()["points"]


def _pending_adds_up(member_id: str) -> int:
    """The stored pending points, after checking that the ledger's pending changes sum to them."""
    member = stored_member(member_id)
    assert sum(int(e.pending or 0) for e in stored_ledger(member_id)) == int(member.pending_points)
    return int(member.pending_points)


def _no_drift() -> None:
    report = reconcile_table(connection().client, get_settings().table_name)
    assert report.drifting == {} and report.unsettled == []


def _held_member(api, members, aws, amount: int = 10000, **rules):
    set_rules(aws, pending_points=ONLINE_HOLD, **rules)
    token, body = members.verified()
    member_id, phone = body["member"]["member_id"], body["member"]["phone"]
    reply = _buy(api, "o-1", amount, phone)
    assert reply.status == 201, reply.text
    return token, member_id, phone, reply.json()


# --- holding -------------------------------------------------------------------------------------


def test_given_a_7_day_online_hold_when_an_online_purchase_is_reported_then_its_points_are_pending_not_spendable(api, members, aws):
    token, member_id, _phone, answer = _held_member(api, members, aws, amount=60000)

    assert answer["points_earned"] == 600 and answer["points_pending"] == 600
    assert answer["balance"] == WELCOME and answer["available_on"] == release_day().isoformat()
    points = _points(api, token)
    assert points["balance"] == WELCOME and points["pending_points"] == 600
    assert points["pending"] == [{"points": 600, "available_on": release_day().isoformat()}]
    ledger = api.get("/v1/me/ledger", headers=bearer(token)).json()["items"]
    assert (ledger[0]["kind"], ledger[0]["points"], ledger[0]["pending"], ledger[0]["ref"]) == ("earn_pending", 0, 600, "o-1")
    # Not spendable: a 500-point reward needs available points.
    refused = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k1"})
    assert refused.status == 409
    assert balance_that_adds_up(member_id) == WELCOME and _pending_adds_up(member_id) == 600
    # The member's own data export lists the held purchase among their orders.
    exported = api.get("/v1/me/export", headers=bearer(token)).json()
    assert [o["order_id"] for o in exported["orders"]] == ["o-1"]
    # Nor do they count for tiers yet.
    assert stored_member(member_id).earned_months.as_dict() == {}
    _no_drift()


def test_given_a_hold_for_online_only_then_a_store_purchase_and_one_without_a_channel_earn_available_points_as_before(api, members, aws):
    set_rules(aws, pending_points=ONLINE_HOLD)
    token, body = members.verified()
    phone = body["member"]["phone"]
    in_store = _buy(api, "o-store", 10000, phone, channel="store").json()
    no_channel = _buy(api, "o-none", 10000, phone, channel=None).json()
    assert "points_pending" not in in_store and "points_pending" not in no_channel
    assert _points(api, token)["balance"] == WELCOME + 200 and _points(api, token)["pending_points"] == 0


def test_given_a_default_hold_then_every_channel_without_its_own_is_held_for_it(api, members, aws):
    set_rules(aws, pending_points=[{"hold_days": 3}, {"channel": "store", "hold_days": 1}])
    token, body = members.verified()
    phone = body["member"]["phone"]
    assert _buy(api, "o-app", 10000, phone, channel="app").json()["available_on"] == (today() + timedelta(days=3)).isoformat()
    assert _buy(api, "o-store", 10000, phone, channel="store").json()["available_on"] == (today() + timedelta(days=1)).isoformat()
    assert _buy(api, "o-none", 10000, phone, channel=None).json()["available_on"] == (today() + timedelta(days=3)).isoformat()
    assert _points(api, token)["pending_points"] == 300


def test_given_an_unknown_channel_or_a_rule_document_with_two_holds_for_one_channel_then_400_and_nothing_changes(api, members, aws):
    import pytest
    from pydantic import ValidationError

    set_rules(aws, pending_points=ONLINE_HOLD)
    token, body = members.verified()
    reply = _buy(api, "o-bad", 10000, body["member"]["phone"], channel="shop")
    assert reply.status == 400 and reply.json()["code"] == "validation_error"
    assert _points(api, token)["pending_points"] == 0 and _points(api, token)["balance"] == WELCOME
    with pytest.raises(ValidationError, match="at most one hold per channel"):
        set_rules(aws, pending_points=[{"channel": "online", "hold_days": 7}, {"channel": "online", "hold_days": 3}])


def test_given_an_operator_saving_two_holds_for_one_channel_then_400_problem_json_and_the_old_rules_stay(api, members, aws):
    current = api.get("/v1/admin/rules").json()
    holds = [{"channel": "online", "hold_days": 7}, {"channel": "online", "hold_days": 3}]
    body = {"rules": {**current["rules"], "pending_points": holds}, "reason": "web shop return window"}
    refused = api.request("PUT", "/v1/admin/rules", json_body=body)
    assert refused.status == 400 and refused.json()["code"] == "validation_error"
    assert "one hold per channel" in refused.text
    assert api.get("/v1/admin/rules").json() == current


def test_given_a_held_purchase_replayed_then_the_same_answer_and_nothing_held_twice(api, members, aws):
    _token, member_id, phone, first = _held_member(api, members, aws)
    again = _buy(api, "o-1", 10000, phone)
    assert again.status == 200 and again.json() == first
    assert _pending_adds_up(member_id) == 100


# --- refunds inside the window --------------------------------------------------------------------


def test_given_pending_points_when_refunded_inside_the_window_then_they_are_cancelled_once_per_refund_id(api, members, aws):
    token, member_id, _, _ = _held_member(api, members, aws)

    part = _refund(api, "o-1", "r-1", 2500)
    assert part.status == 201 and part.json() == {"refund_id": "r-1", "order_id": "o-1", "points_reversed": 25, "balance": WELCOME}
    again = _refund(api, "o-1", "r-1", 2500)
    assert again.status == 200 and again.json() == part.json()
    assert _points(api, token)["pending_points"] == 75

    rest = _refund(api, "o-1", "r-2", 7500)
    assert rest.json()["points_reversed"] == 75 and rest.json()["balance"] == WELCOME
    points = _points(api, token)
    assert points["pending_points"] == 0 and points["pending"] == [] and points["balance"] == WELCOME
    kinds = [(e.kind, int(e.points), int(e.pending or 0)) for e in sorted(stored_ledger(member_id), key=lambda e: e.created_at)]
    assert kinds[-2:] == [("pending_cancelled", 0, -25), ("pending_cancelled", 0, -75)]
    assert stored_member(member_id).release_bucket is None  # out of the job's index: nothing left to release
    # The job finds nothing to release on the day.
    assert run("release-pending-points", release_day().isoformat(), False)["members_affected"] == 0
    assert balance_that_adds_up(member_id) == WELCOME and _pending_adds_up(member_id) == 0
    _no_drift()


# --- the release job -------------------------------------------------------------------------------


def test_given_pending_points_when_the_window_closes_then_the_job_makes_them_available_once_with_a_lot_of_that_month(api, members, aws):
    token, member_id, _, _ = _held_member(api, members, aws, amount=60000)

    early = run("release-pending-points", (release_day() - timedelta(days=1)).isoformat(), False)
    assert early["members_affected"] == 0 and _points(api, token)["pending_points"] == 600

    done = run("release-pending-points", release_day().isoformat(), False)
    assert done["members_affected"] == 1 and done["points_moved"] == 600
    points = _points(api, token)
    assert points["balance"] == WELCOME + 600 and points["pending_points"] == 0 and points["pending"] == []
    month = month_key(release_day())
    lot = Lot.get(keys.member_pk(member_id), keys.lot_sk(month))
    entries = list(LedgerEntry.query(keys.member_pk(member_id), LedgerEntry.sk.startswith(keys.LEDGER_PREFIX)))
    assert lot_earnings([lot], entries)[month] == 600 + (WELCOME if month == month_key(today()) else 0)
    assert lot.expires_on == lot_expires_on(month, 12).isoformat()
    ledger = api.get("/v1/me/ledger", headers=bearer(token)).json()["items"]
    assert (ledger[0]["kind"], ledger[0]["points"], ledger[0]["pending"]) == ("points_available", 600, -600)
    assert ledger[0]["ref"] == f"release:{release_day().isoformat()}"

    again = run("release-pending-points", release_day().isoformat(), False)
    later = run("release-pending-points", (release_day() + timedelta(days=1)).isoformat(), False)
    assert again["members_affected"] == 0 and later["members_affected"] == 0
    assert balance_that_adds_up(member_id) == WELCOME + 600 and _pending_adds_up(member_id) == 0
    # Now spendable.
    spent = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k2"})
    assert spent.status == 201
    _no_drift()


def test_given_a_missed_run_then_the_next_days_run_releases_what_was_due(api, members, aws):
    token, _member_id, _, _ = _held_member(api, members, aws)
    assert run("release-pending-points", (release_day() + timedelta(days=3)).isoformat(), False)["points_moved"] == 100
    assert _points(api, token)["balance"] == WELCOME + 100


def test_given_pending_points_then_tiers_count_them_when_they_become_available_not_before(api, members, aws):
    tiers = [
        {"id": "member", "name": "Member", "threshold": 0, "multiplier": "1.0"},
        {"id": "silver", "name": "Silver", "threshold": 500, "multiplier": "1.0"},
    ]
    _token, member_id, _, answer = _held_member(api, members, aws, amount=60000, tiers=tiers)
    assert answer["tier"] == "member" and stored_member(member_id).tier == "member"
    run("release-pending-points", release_day().isoformat(), False)
    member = stored_member(member_id)
    assert member.tier == "silver" and member.earned_months.as_dict() == {month_key(release_day()): 600}


def test_given_released_points_when_the_purchase_is_refunded_then_they_come_off_the_balance_as_today(api, members, aws):
    _token, member_id, _, _ = _held_member(api, members, aws)
    run("release-pending-points", release_day().isoformat(), False)
    refund = _refund(api, "o-1", "r-1", 10000).json()
    assert refund["points_reversed"] == 100 and refund["balance"] == WELCOME
    assert sorted(stored_ledger(member_id), key=lambda e: e.created_at)[-1].kind == "refund"
    assert balance_that_adds_up(member_id) == WELCOME
    assert _pending_adds_up(member_id) == 0
    _no_drift()


def test_given_a_dry_run_then_it_counts_what_it_would_release_and_writes_nothing(api, members, aws):
    token, _member_id, _, _ = _held_member(api, members, aws)
    dry = run("release-pending-points", release_day().isoformat(), True)
    assert dry["members_affected"] == 1 and dry["points_moved"] == 100
    assert _points(api, token)["pending_points"] == 100 and _points(api, token)["balance"] == WELCOME


# --- statuses --------------------------------------------------------------------------------------


def test_given_a_frozen_member_then_their_points_are_released_and_they_stay_frozen(api, members, aws):
    token, member_id, _, _ = _held_member(api, members, aws)
    assert api.post(f"/v1/admin/members/{member_id}/freeze", {"reason": "check"}, headers={"X-Operator": "li.na"}).status == 200
    assert run("release-pending-points", release_day().isoformat(), False)["members_affected"] == 1
    member = stored_member(member_id)
    assert (member.status, int(member.balance), int(member.pending_points)) == ("frozen", WELCOME + 100, 0)
    refused = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k3"})
    assert refused.status == 403


def test_given_a_closed_member_then_their_points_are_released_into_the_kept_balance(api, members, aws):
    token, member_id, _, _ = _held_member(api, members, aws)
    assert api.request("DELETE", "/v1/me", headers=bearer(token)).status == 200
    assert run("release-pending-points", release_day().isoformat(), False)["members_affected"] == 1
    member = stored_member(member_id)
    assert (member.status, int(member.balance), int(member.pending_points)) == ("closed", WELCOME + 100, 0)


def test_given_an_erased_member_then_their_pending_points_are_forfeited_on_the_ledger_and_never_released(api, members, aws):
    token, member_id, _, _ = _held_member(api, members, aws, closure_grace_days=0)
    assert api.request("DELETE", "/v1/me", headers=bearer(token)).status == 200
    assert run("erase-closed", (today() + timedelta(days=1)).isoformat(), False)["members_affected"] == 1
    member = stored_member(member_id)
    assert (member.erased, int(member.pending_points), member.release_bucket) == (True, 0, None)
    assert any(e.kind == "pending_forfeited" and int(e.pending) == -100 for e in stored_ledger(member_id))
    assert run("release-pending-points", release_day().isoformat(), False)["members_affected"] == 0
    assert balance_that_adds_up(member_id) == 0 and _pending_adds_up(member_id) == 0
    _no_drift()


# --- refund consequences: the referrer bonus ----------------------------------------------------------

REFERRER = 200


def _referral(api, members, aws, **rules):
    """A referrer rewarded by a friend's first purchase (order o-first, 100.00): (referrer id, referrer token)."""
    set_rules(aws, referral_clawback_on_refund=True, **rules)
    referrer_token, referrer = members.verified()
    _, friend = members.verified(referral_code=referrer["member"]["referral_code"])
    referrer_id, friend_phone = referrer["member"]["member_id"], friend["member"]["phone"]
    assert _buy(api, "o-first", 10000, friend_phone, channel=None).status == 201
    assert balance_that_adds_up(referrer_id) == WELCOME + REFERRER
    return referrer_id, referrer_token


def _referral_status(referrer_id: str) -> str:
    return next(iter(Referral.query(keys.member_pk(referrer_id), Referral.sk.startswith(keys.REFERRAL_PREFIX)))).status


def _clawbacks(member_id: str) -> list[int]:
    return [int(e.points) for e in stored_ledger(member_id) if e.kind == "referral_clawback"]


def test_given_the_rule_when_a_referees_first_purchase_is_fully_refunded_then_the_referrer_bonus_is_clawed_back_once(api, members, aws):
    referrer_id, _ = _referral(api, members, aws)
    part = _refund(api, "o-first", "r-1", 4000)
    assert part.status == 201 and "referral_points_clawed_back" not in part.json()
    assert _clawbacks(referrer_id) == [] and _referral_status(referrer_id) == "rewarded"

    rest = _refund(api, "o-first", "r-2", 6000)
    assert rest.json()["referral_points_clawed_back"] == REFERRER
    replay = _refund(api, "o-first", "r-2", 6000)
    assert replay.status == 200 and replay.json() == rest.json()
    assert _clawbacks(referrer_id) == [-REFERRER] and _referral_status(referrer_id) == "clawed_back"
    assert balance_that_adds_up(referrer_id) == WELCOME
    _no_drift()


def test_given_the_referrer_already_spent_the_bonus_then_the_clawback_takes_the_balance_below_zero_as_a_refund_does(api, members, aws):
    from chalicelib.store.models import Reward

    referrer_id, referrer_token = _referral(api, members, aws)
    Reward(keys.REWARD_PK, keys.reward_sk("tea"), reward_id="tea", name="Tea", points_cost=250).save()
    spent = api.post("/v1/me/redemptions", {"reward_id": "tea"}, headers={**bearer(referrer_token), "Idempotency-Key": "tea-1"})
    assert spent.status == 201 and spent.json()["balance"] == WELCOME + REFERRER - 250
    assert _refund(api, "o-first", "r-1", 10000).json()["referral_points_clawed_back"] == REFERRER
    assert balance_that_adds_up(referrer_id) == WELCOME - 250  # -150: their next earnings pay it back first
    _no_drift()  # a referral_clawback may take the balance below zero, as a refund does


def test_given_the_rule_off_then_a_full_refund_leaves_the_referrer_bonus(api, members, aws):
    referrer_id, _ = _referral(api, members, aws)
    set_rules(aws, referral_clawback_on_refund=False)
    reply = _refund(api, "o-first", "r-1", 10000)
    assert reply.status == 201 and "referral_points_clawed_back" not in reply.json()
    assert _clawbacks(referrer_id) == [] and balance_that_adds_up(referrer_id) == WELCOME + REFERRER


def test_given_a_local_table_kept_from_before_the_release_index_then_bootstrap_adds_it_once(api, members, aws):
    from chalicelib.store import table
    from localstage.bootstrap import bootstrap

    client = aws.client("dynamodb")
    request = table.create_table_request("older-table")
    request["GlobalSecondaryIndexes"] = [g for g in request["GlobalSecondaryIndexes"] if g["IndexName"] != "members_by_release"]
    request["AttributeDefinitions"] = [a for a in request["AttributeDefinitions"] if a["AttributeName"] != "release_bucket"]
    client.create_table(**request)
    assert table.add_missing_indexes(client, "older-table") == ["members_by_release"]
    assert table.add_missing_indexes(client, "older-table") == []
    # The app's own table has it already: a restart of the local stack adds nothing and changes nothing.
    bootstrap(get_settings(), aws)
    assert table.add_missing_indexes(client, get_settings().table_name) == []


def test_given_a_release_unit_delivered_twice_then_nothing_is_released_twice(api, members, aws):
    from chalicelib.jobs.runner import JobRequest, do_unit, start_job
    from chalicelib.jobs.specs import JOBS
    from chalicelib.store.parameters import load_rules

    token, member_id, _, _ = _held_member(api, members, aws)
    started = start_job(JobRequest("release-pending-points", release_day(), False))
    bucket = keys.release_bucket(release_day().isoformat(), keys.shard_of(member_id, get_settings().index_shards))
    unit = next(u for u in JOBS["release-pending-points"].plan(release_day(), load_rules(), get_settings().index_shards) if u["bucket"] == bucket)
    message = {**unit, "job": "release-pending-points", "as_of": release_day().isoformat(), "dry_run": False, "run_id": started["run_id"]}
    assert do_unit(message)["points_moved"] == 100
    assert do_unit(message)["points_moved"] == 0  # redelivered: the member has left the bucket
    assert do_unit({**message, "members": [member_id]})["points_moved"] == 0  # retried alone: nothing left due
    assert _points(api, token)["balance"] == WELCOME + 100
    assert balance_that_adds_up(member_id) == WELCOME + 100 and _pending_adds_up(member_id) == 0
