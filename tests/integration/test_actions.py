"""Points for actions other than purchases: a store reports a review (POST /v1/actions), a member
checks in from the app once a day (POST /v1/me/check-ins), with limits, streaks and the books."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.store import keys
from chalicelib.store.models import BaseItem, Member
from chalicelib.store.models_engagement import ActionEvent
from tests.integration.conftest import MERCHANT, bearer
from tests.support.rules import set_rules

WELCOME = 100
REVIEW = {"type": "review", "label": "Product review", "points": 20, "max_per_member_per_day": 2, "max_per_member_per_period": 3, "period": "month"}
SHARE = {"type": "share", "label": "Shared a product", "points": 5, "max_per_member_per_day": 10}
CHECK_IN = {"points": 5, "streak_bonuses": {"7": 50, "30": 300}}


@pytest.fixture
def rules(aws):
    return set_rules(aws, action_rules=[REVIEW, SHARE], check_in=CHECK_IN)


def _report(api, member_id, event_id, action_type="review", headers=None, **extra):
    body = {"event_id": event_id, "member_id": member_id, "type": action_type, **extra}
    return api.post("/v1/actions", body, headers=headers or MERCHANT)


def _ledger(api, token):
    reply = api.get("/v1/me/ledger?limit=100", headers=bearer(token))
    assert reply.status == 200, reply.text
    return reply.json()["items"]


def _balance(api, token):
    return api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"]


def _problem(reply, status, code):
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    assert reply.json()["code"] == code
    return reply.json()


def _member(members):
    token, body = members.verified()
    return token, body["member"]["member_id"]


def _today() -> str:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


def _books_balance(api, token) -> int:
    entries = _ledger(api, token)
    assert sum(e["points"] for e in entries) == _balance(api, token)
    return _balance(api, token)


# --- actions a store reports ------------------------------------------------------------------


def test_given_a_review_rule_when_a_store_reports_a_review_then_the_member_earns_its_points_on_the_ledger(api, members, rules):
    token, member_id = _member(members)

    reply = _report(api, member_id, "rv-1", ref="review-88123", occurred_at="2026-11-01T10:00:00+08:00")

    assert reply.status == 201, reply.text
    body = reply.json()
    assert {k: body[k] for k in ("event_id", "member_id", "type", "label", "points_awarded", "limit_reached", "balance", "ref")} == {
        "event_id": "rv-1",
        "member_id": member_id,
        "type": "review",
        "label": "Product review",
        "points_awarded": 20,
        "limit_reached": None,
        "balance": WELCOME + 20,
        "ref": "review-88123",
    }
    assert body["occurred_at"] == "2026-11-01T02:00:00+00:00"
    newest = _ledger(api, token)[0]
    assert (newest["kind"], newest["points"], newest["balance_after"], newest["ref"]) == ("action", 20, WELCOME + 20, "review:rv-1")
    assert _books_balance(api, token) == WELCOME + 20
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert me["points"]["lifetime_earned"] == WELCOME + 20
    assert me["tier_progress"]["qualifying_points"] == 0  # actions do not count toward tiers


def test_given_the_same_event_twice_then_200_with_the_first_answer_and_nothing_awarded_twice(api, members, rules):
    token, member_id = _member(members)
    first = _report(api, member_id, "rv-1")
    again = _report(api, member_id, "rv-1")
    assert (first.status, again.status) == (201, 200)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _books_balance(api, token) == WELCOME + 20


def test_given_an_event_id_already_used_with_another_body_then_409_and_nothing_changes(api, members, rules):
    token, member_id = _member(members)
    _report(api, member_id, "rv-1")
    _problem(_report(api, member_id, "rv-1", "share"), 409, "idempotency_conflict")
    _problem(_report(api, member_id, "rv-1", ref="other"), 409, "idempotency_conflict")
    assert _books_balance(api, token) == WELCOME + 20


def test_given_two_stores_then_the_same_event_id_is_two_events(api, members, rules):
    token, member_id = _member(members)
    assert _report(api, member_id, "ev-1", store_id="sh-01").status == 201
    assert _report(api, member_id, "ev-1", store_id="sh-02").status == 201
    assert _balance(api, token) == WELCOME + 40


def test_given_a_store_key_then_it_may_not_report_for_another_store(api, members, rules):
    issued = api.post("/v1/admin/merchant-keys", {"store_id": "bj-01", "reason": "new store"})
    assert issued.status == 201, issued.text
    key = {"x-api-key": issued.json()["api_key"]}
    _token, member_id = _member(members)
    _problem(_report(api, member_id, "ev-1", headers=key, store_id="sh-01"), 403, "forbidden")
    mine = _report(api, member_id, "ev-1", headers=key)
    assert mine.status == 201 and mine.json()["store_id"] == "bj-01"
    _problem(api.post("/v1/actions", {"event_id": "e", "member_id": member_id, "type": "review"}), 401, "unauthorized")


def test_given_an_action_type_no_rule_names_then_422_action_not_offered_and_nothing_is_recorded(api, members, rules, aws):
    token, member_id = _member(members)
    problem = _problem(_report(api, member_id, "ev-1", "survey"), 422, "action_not_offered")
    assert "review" in problem["detail"] and "share" in problem["detail"]
    assert _balance(api, token) == WELCOME
    assert list(ActionEvent.scan()) == []
    # Once an operator adds the rule, the same event is a new one and earns.
    set_rules(aws, action_rules=[REVIEW, SHARE, {**SHARE, "type": "survey", "label": "Survey", "points": 30}], check_in=CHECK_IN)
    assert _report(api, member_id, "ev-1", "survey").json()["points_awarded"] == 30


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"member_id": "m", "type": "review"}, "event_id"),
        ({"event_id": "e", "type": "review"}, "member_id"),
        ({"event_id": "e", "member_id": "m"}, "type"),
        ({"event_id": "e", "member_id": "m", "type": "Review!"}, "type"),
        ({"event_id": "e", "member_id": "m", "type": "review", "occurred_at": "2026-11-01T10:00:00"}, "occurred_at"),
        ({"event_id": "e", "member_id": "m", "type": "review", "points": 500}, "points"),
        ({"event_id": "e w", "member_id": "m", "type": "review"}, "event_id"),
    ],
)
def test_given_a_malformed_report_then_400_naming_the_field(api, rules, body, field):
    problem = _problem(api.post("/v1/actions", body, headers=MERCHANT), 400, "validation_error")
    assert field in [e["field"] for e in problem["errors"]], problem


def test_given_an_unknown_member_then_404(api, rules):
    _problem(_report(api, "mbr_nobody", "ev-1"), 404, "not_found")
    assert list(ActionEvent.scan()) == []


def test_given_the_daily_limit_reached_then_the_action_is_recorded_with_no_points_and_says_so(api, members, rules):
    token, member_id = _member(members)
    awarded = [_report(api, member_id, f"rv-{n}").json()["points_awarded"] for n in range(2)]
    third = _report(api, member_id, "rv-3")
    assert awarded == [20, 20]
    assert third.status == 201
    assert (third.json()["points_awarded"], third.json()["limit_reached"], third.json()["balance"]) == (0, "day", WELCOME + 40)
    # Its replay answers the same, and other types have their own limits.
    assert _report(api, member_id, "rv-3").json() == third.json()
    assert _report(api, member_id, "sh-1", "share").json()["points_awarded"] == 5
    assert [e["kind"] for e in _ledger(api, token)].count("action") == 3
    assert _books_balance(api, token) == WELCOME + 45


def test_given_the_period_limit_reached_then_later_days_earn_nothing_until_the_next_period(api, members, rules):
    _token, member_id = _member(members)
    month = _today()[:7]
    # Given two reviews earlier this month (another day) and one today: the month's 3 are used.
    member = Member.get(keys.member_pk(member_id), keys.PROFILE)
    member.update(actions=[Member.action_counts.set({"review": {"day": "2000-01-01", "n": 2, "period": month, "pn": 2}})])
    assert _report(api, member_id, "rv-1").json()["points_awarded"] == 20
    limited = _report(api, member_id, "rv-2").json()
    assert (limited["points_awarded"], limited["limit_reached"]) == (0, "period")
    # A new month starts afresh.
    member = Member.get(keys.member_pk(member_id), keys.PROFILE)
    member.update(actions=[Member.action_counts.set({"review": {"day": "2000-01-01", "n": 2, "period": "2000-01", "pn": 3}})])
    assert _report(api, member_id, "rv-3").json()["points_awarded"] == 20


def test_given_a_frozen_member_then_403_and_a_closed_member_409_and_nothing_is_awarded(api, members, rules):
    token, member_id = _member(members)
    assert api.post(f"/v1/admin/members/{member_id}/freeze", {"reason": "check"}).status == 200
    _problem(_report(api, member_id, "rv-1"), 403, "member_frozen")
    _problem(api.post("/v1/me/check-ins", headers=bearer(token)), 403, "member_frozen")
    assert api.post(f"/v1/admin/members/{member_id}/unfreeze", {"reason": "ok"}).status == 200
    assert _balance(api, token) == WELCOME
    assert api.post(f"/v1/admin/members/{member_id}/close", {"reason": "asked"}).status == 200
    _problem(_report(api, member_id, "rv-2"), 409, "member_closed")
    assert list(ActionEvent.scan()) == []


def test_given_an_action_recorded_before_the_member_was_frozen_then_its_replay_still_answers_the_first_answer(api, members, rules):
    _, member_id = _member(members)
    first = _report(api, member_id, "rv-1")
    assert api.post(f"/v1/admin/members/{member_id}/freeze", {"reason": "check"}).status == 200
    again = _report(api, member_id, "rv-1")
    assert (again.status, again.json()) == (200, first.json())


def test_given_a_pending_member_enrolled_by_a_purchase_then_their_actions_earn_too(api, members, rules):
    phone = members.phone()
    member_id = members.purchase("o-1", 1000, phone=phone).json()["member_id"]
    reply = _report(api, member_id, "rv-1")
    assert reply.status == 201 and reply.json()["balance"] == 10 + 20


# --- the daily check-in -----------------------------------------------------------------------


def _check_in(api, token):
    return api.post("/v1/me/check-ins", headers=bearer(token))


def _state(api, token):
    reply = api.get("/v1/me/check-ins", headers=bearer(token))
    assert reply.status == 200, reply.text
    return reply.json()


def _given_last_check_in(member_id: str, on: str, streak: int) -> None:
    member = Member.get(keys.member_pk(member_id), keys.PROFILE)
    member.update(actions=[Member.check_in.set({"on": on, "streak": streak, "answer": {}})])


def test_given_check_in_is_off_by_default_then_422_and_the_state_says_so(api, members):
    token, _ = _member(members)
    _problem(_check_in(api, token), 422, "action_not_offered")
    state = _state(api, token)
    assert (state["enabled"], state["checked_in_today"], state["streak"], state["next_streak_bonus"]) == (False, False, 0, None)
    assert _balance(api, token) == WELCOME


def test_given_a_member_checks_in_then_points_once_a_day_and_a_second_check_in_answers_the_first(api, members, rules):
    token, _ = _member(members)
    before = _state(api, token)
    assert (before["enabled"], before["today"], before["checked_in_today"], before["streak"]) == (True, _today(), False, 0)
    assert before["next_streak_bonus"] == {"days": 7, "points": 50, "check_ins_to_go": 7}

    first = _check_in(api, token)
    again = _check_in(api, token)

    assert first.status == 201, first.text
    body = first.json()
    assert {k: body[k] for k in ("checked_in_on", "streak", "points_awarded", "streak_bonus", "balance")} == {
        "checked_in_on": _today(),
        "streak": 1,
        "points_awarded": 5,
        "streak_bonus": 0,
        "balance": WELCOME + 5,
    }
    assert body["next_streak_bonus"] == {"days": 7, "points": 50, "check_ins_to_go": 6}
    assert (again.status, again.json(), again.headers.get("Idempotent-Replayed")) == (200, body, "true")
    entries = [e for e in _ledger(api, token) if e["kind"] == "check_in"]
    assert [(e["points"], e["ref"]) for e in entries] == [(5, f"check_in:{_today()}")]
    assert _books_balance(api, token) == WELCOME + 5
    after = _state(api, token)
    assert (after["checked_in_today"], after["streak"], after["last_check_in_on"]) == (True, 1, _today())


def test_given_six_days_in_a_row_then_the_seventh_check_in_earns_the_streak_bonus(api, members, rules):
    token, member_id = _member(members)
    yesterday = (datetime.fromisoformat(_today()) - timedelta(days=1)).date().isoformat()
    _given_last_check_in(member_id, yesterday, 6)
    assert _state(api, token)["streak"] == 6

    body = _check_in(api, token).json()

    assert (body["streak"], body["points_awarded"], body["streak_bonus"]) == (7, 55, 50)
    assert body["next_streak_bonus"] == {"days": 30, "points": 300, "check_ins_to_go": 23}
    assert [e["points"] for e in _ledger(api, token) if e["kind"] == "check_in"] == [55]
    assert _books_balance(api, token) == WELCOME + 55


def test_given_a_missed_day_then_the_streak_starts_again(api, members, rules):
    token, member_id = _member(members)
    two_days_ago = (datetime.fromisoformat(_today()) - timedelta(days=2)).date().isoformat()
    _given_last_check_in(member_id, two_days_ago, 6)
    assert _state(api, token)["streak"] == 0
    body = _check_in(api, token).json()
    assert (body["streak"], body["points_awarded"], body["streak_bonus"]) == (1, 5, 0)


def test_given_bonuses_only_then_a_check_in_without_a_bonus_records_the_day_and_writes_no_ledger_entry(api, members, aws):
    set_rules(aws, check_in={"points": 0, "streak_bonuses": {"2": 10}})
    token, _ = _member(members)
    body = _check_in(api, token).json()
    assert (body["streak"], body["points_awarded"]) == (1, 0)
    assert [e["kind"] for e in _ledger(api, token)] == ["bonus"]  # the welcome points alone
    assert _state(api, token)["checked_in_today"] is True


def test_given_an_invalid_rules_document_then_the_operator_is_told_and_the_rules_do_not_change(api):
    current = api.get("/v1/admin/rules").json()["rules"]
    for bad in (
        {"action_rules": [REVIEW, REVIEW]},
        {"action_rules": [{**REVIEW, "type": "check_in"}]},
        {"action_rules": [{**REVIEW, "points": 0}]},
        {"action_rules": [{k: v for k, v in REVIEW.items() if k != "max_per_member_per_day"}]},
        {"check_in": {"points": 5, "streak_bonuses": {"1": 10}}},
        {"check_in": {"points": -1, "streak_bonuses": {}}},
    ):
        reply = api.request("PUT", "/v1/admin/rules", json_body={"rules": {**current, **bad}, "reason": "test"})
        assert reply.status == 400, (bad, reply.text)
    assert api.get("/v1/admin/rules").json()["rules"] == current


def test_every_action_record_is_kept_outside_the_member_partition_keyed_by_store_and_event(api, members, rules):
    _, member_id = _member(members)
    _report(api, member_id, "rv-1", store_id="sh-01")
    assert [(i.pk, i.sk) for i in BaseItem.scan() if isinstance(i, ActionEvent)] == [("ACTION#sh-01#rv-1", "ACTION")]


# --- contention and lost answers (botocore hooks: faults moto cannot produce) ------------------


def _hooked(event: str, handler):
    from tests.integration.test_faults import _clients

    for client in _clients():
        client.meta.events.register(event, handler, unique_id="actions-hook")
    return lambda: [client.meta.events.unregister(event, unique_id="actions-hook") for client in _clients()]


def test_given_another_award_fills_the_day_between_the_read_and_the_write_then_the_write_reads_again_and_awards_nothing(api, members, rules):
    token, member_id = _member(members)
    assert _report(api, member_id, "rv-1").json()["points_awarded"] == 20
    raced = []

    def another_container_awards_the_last_review(**_):
        # As another Lambda would, between this request's read and its commit: the day's 2nd review.
        if not raced:
            raced.append(True)
            member = Member.get(keys.member_pk(member_id), keys.PROFILE, consistent_read=True)
            counts = {"review": {"day": _today(), "n": 2, "period": _today()[:7], "pn": 2}}
            member.update(actions=[Member.action_counts.set(counts)])

    unhook = _hooked("before-call.dynamodb.TransactWriteItems", another_container_awards_the_last_review)
    try:
        reply = _report(api, member_id, "rv-2")
    finally:
        unhook()
    assert raced
    assert (reply.status, reply.json()["points_awarded"], reply.json()["limit_reached"]) == (201, 0, "day")
    assert _books_balance(api, token) == WELCOME + 20


def test_given_an_action_or_a_check_in_whose_commit_answer_is_lost_then_the_retry_answers_201_once(api, members, rules):
    from tests.integration.test_faults import _lost_answer

    token, member_id = _member(members)
    for send in (lambda: _report(api, member_id, "rv-lost"), lambda: _check_in(api, token)):
        handler, lost = _lost_answer("TransactWriteItems")
        unhook = _hooked("after-call.dynamodb.TransactWriteItems", handler)
        try:
            reply = send()
        finally:
            unhook()
        assert lost[0] == 1
        assert (reply.status, reply.headers.get("Idempotent-Replayed")) == (201, None), reply.text
        again = send()
        assert (again.status, again.json()) == (200, reply.json())
    assert _books_balance(api, token) == WELCOME + 20 + 5


def test_a_report_and_a_check_in_cost_two_dynamodb_round_trips_and_the_state_one(api, members, rules):
    token, member_id = _member(members)
    _report(api, member_id, "warm-up")  # the merchant key and the rules are cached, as in a warm container
    calls: list[str] = []
    unhook = _hooked("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    try:
        _report(api, member_id, "rv-1")
        reported, calls[:] = list(calls), []
        _check_in(api, token)
        checked_in, calls[:] = list(calls), []
        _state(api, token)
        read = list(calls)
    finally:
        unhook()
    assert reported == ["BatchGetItem", "TransactWriteItems"]
    assert checked_in == ["GetItem", "TransactWriteItems"]
    assert read == ["GetItem"]


def test_given_actions_reported_for_a_member_then_their_data_export_holds_them_and_none_of_anyone_elses(api, members, rules):
    token, member_id = _member(members)
    _, other_id = _member(members)
    assert _report(api, member_id, "rev-1", ref="sku-1").status == 201
    assert _report(api, member_id, "share-1", action_type="share").status == 201
    assert _report(api, other_id, "rev-2").status == 201
    for n in range(3, 5):  # the second review earns; the third is past the daily limit: recorded, no points
        _report(api, member_id, f"rev-{n}")

    data = api.get("/v1/me/export", headers=bearer(token)).json()

    exported = {(a["event_id"], a["action_type"], a["points"]) for a in data["actions"]}
    assert exported == {("rev-1", "review", 20), ("share-1", "share", 5), ("rev-3", "review", 20), ("rev-4", "review", 0)}
    first = next(a for a in data["actions"] if a["event_id"] == "rev-1")
    assert first["response"]["ref"] == "sku-1" and first["store_id"] and "fingerprint" not in first
    assert "action_ref" not in data and "ACTION#" not in json.dumps(data)
