"""Campaigns to a segment over HTTP, fanned out through the jobs queue (moto): create, dry run,
launch, results, cancel; consent, the frequency cap and quiet hours; exactly once per member."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.jobs.handlers import job_worker
from chalicelib.jobs.runner import do_unit, queue_url
from chalicelib.store import audiences
from chalicelib.usecases import campaigns
from localstage.job import drain_queue
from tests.integration.conftest import MERCHANT, bearer
from tests.support.outbox import messages
from tests.support.rules import set_rules

DATA_AS_OF = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
CAMPAIGNS = "/v1/admin/campaigns"


def _no_quiet_hours(aws: Any) -> None:
    set_rules(aws, quiet_hours_start="00:00:00", quiet_hours_end="00:00:00")


def _segment(segment_id: str, member_ids: list[str]) -> audiences.Manifest:
    return audiences.write(segment_id, member_ids, data_as_of=DATA_AS_OF, computed_at=datetime.now(UTC))


def _member(members: Any, **consents: bool) -> tuple[str, dict[str, Any]]:
    token, body = members.verified(consents={"sms_marketing": False, "email_marketing": False, "push": False, **consents})
    return token, body["member"]


def _queued() -> list[dict[str, Any]]:
    """Take the queued units off the queue (each once), to hand to the worker by hand."""
    sqs, units = boto3.client("sqs"), []
    while got := sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        for m in got:
            units.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url(), ReceiptHandle=m["ReceiptHandle"])
    return units


def _drain() -> None:
    drain_queue(job_worker, queue_url(), boto3.client("sqs"))


def _campaign_messages(outbox: str) -> list[dict[str, Any]]:
    return [m for m in messages(outbox) if m["kind"] == "campaign"]


def _balance(api: Any, token: str) -> int:
    return int(api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"])


def _create(api: Any, **body: Any) -> Any:
    return api.post(CAMPAIGNS, {"name": "双十二 VIP", "segment_id": "seg_vip", **body})


def test_given_a_segment_when_a_campaign_starts_now_then_each_member_gets_the_message_points_once_and_results_add_up(api, members, aws, outbox_path):
    _no_quiet_hours(aws)
    token_a, a = _member(members, sms_marketing=True)
    token_b, b = _member(members)  # no marketing consent: points, no message
    _segment("seg_vip", [a["member_id"], b["member_id"], "m_gone"])
    created = _create(api, message={"sms": "12.12: 双倍积分 for you"}, points=50)
    assert created.status == 201, created.text
    campaign = created.json()
    assert campaign["status"] == "running" and campaign["audience"]["count"] == 3
    assert campaign["audience"]["data_as_of"] == "2026-11-29T16:00:00+00:00"
    _drain()
    sent = _campaign_messages(outbox_path)
    assert [(m["to"], m["channel"], m["body"]) for m in sent] == [(a["phone"], "sms", "12.12: 双倍积分 for you")]
    assert _balance(api, token_a) == a["points"]["balance"] + 50 and _balance(api, token_b) == b["points"]["balance"] + 50
    ledger = api.get("/v1/me/ledger", headers=bearer(token_a)).json()["items"]
    assert ledger[0]["kind"] == "bonus" and ledger[0]["points"] == 50 and ledger[0]["ref"] == f"campaign:{campaign['campaign_id']}"
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["complete"] and results["sent"] == 1 and results["reached"] == 2 and results["points_granted"] == 100
    assert results["skipped"] == {"member_gone": 1, "no_consent": 1}
    listed = api.get(CAMPAIGNS).json()["items"]
    assert [c["campaign_id"] for c in listed] == [campaign["campaign_id"]]
    from chalicelib.domain.clock import today_in
    from chalicelib.store.parameters import load_rules

    day = today_in(load_rules().zone).isoformat()
    actions = {e["action"] for e in api.get(f"/v1/admin/audit?day={day}&limit=100").json()["items"]}
    assert {"campaign.create", "campaign.launch"} <= actions


def test_given_a_dry_run_then_it_reports_who_would_get_what_and_writes_nothing(api, members, aws, outbox_path):
    _no_quiet_hours(aws)
    _, a = _member(members, sms_marketing=True)
    _, b = _member(members)
    _segment("seg_vip", [a["member_id"], b["member_id"]])
    reply = _create(api, message={"sms": "hi", "email": "hi by email"}, dry_run=True)
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["dry_run"] is True and body["audience"]["count"] == 2
    assert body["would"]["sent"] == 1 and body["would"]["skipped"] == {"no_consent": 1}
    sample = {(s["member_id"], s["outcome"], s["channel"]) for s in body["sample"]}
    assert sample == {(a["member_id"], "sent", "sms"), (b["member_id"], "skipped", None)}
    assert api.get(CAMPAIGNS).json()["items"] == []
    assert _campaign_messages(outbox_path) == [] and _queued() == []


def test_given_a_member_who_withdrew_consent_between_the_dry_run_and_the_send_then_no_message(api, members, aws, outbox_path):
    _no_quiet_hours(aws)
    token, a = _member(members, sms_marketing=True)
    _segment("seg_vip", [a["member_id"]])
    scheduled = _create(api, message={"sms": "hi"}, send_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()).json()
    assert scheduled["status"] == "scheduled"
    dry = api.post(f"{CAMPAIGNS}/{scheduled['campaign_id']}/dry-run", {}).json()
    assert dry["would"]["sent"] == 1
    withdrawn = api.request("PATCH", "/v1/me", json_body={"consents": {"sms_marketing": False}}, headers=bearer(token))
    assert withdrawn.status == 200, withdrawn.text
    from chalicelib.usecases.campaigns import launch

    assert launch(scheduled["campaign_id"]) == "started"
    _drain()
    assert _campaign_messages(outbox_path) == []
    results = api.get(f"{CAMPAIGNS}/{scheduled['campaign_id']}").json()["results"]
    assert results["sent"] == 0 and results["skipped"] == {"no_consent": 1}


def test_given_quiet_hours_then_the_message_is_deferred_and_the_frequency_cap_skips_the_capped(api, members, aws, outbox_path):
    set_rules(aws, quiet_hours_start="00:00:00", quiet_hours_end="23:59:59", frequency_cap_messages=1)
    _, a = _member(members, sms_marketing=True)
    _segment("seg_vip", [a["member_id"]])
    first = _create(api, message={"sms": "first"}).json()
    _drain()
    assert api.get(f"{CAMPAIGNS}/{first['campaign_id']}").json()["results"]["deferred"] == 1
    assert _campaign_messages(outbox_path) == []  # waits for the send-deferred job
    second = _create(api, message={"sms": "second"}).json()
    _drain()
    results = api.get(f"{CAMPAIGNS}/{second['campaign_id']}").json()["results"]
    assert results["deferred"] == 0 and results["skipped"] == {"frequency_cap": 1}


def test_given_a_unit_delivered_twice_then_nothing_is_sent_or_granted_twice_and_counted_once(api, members, aws, outbox_path):
    _no_quiet_hours(aws)
    tokens, ids = [], []
    for _ in range(3):
        token, m = _member(members, sms_marketing=True)
        tokens.append((token, m["points"]["balance"]))
        ids.append(m["member_id"])
    _segment("seg_vip", ids)
    campaign = _create(api, message={"sms": "once"}, points=10).json()
    [unit] = _queued()
    do_unit(unit)
    do_unit(unit)  # SQS delivers at least once
    assert len(_campaign_messages(outbox_path)) == 3
    assert all(_balance(api, token) == before + 10 for token, before in tokens)
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["sent"] == 3 and results["points_granted"] == 30 and results["units"] == {"planned": 1, "done": 1}


def test_given_a_worker_that_died_mid_unit_then_the_redelivery_sends_nothing_twice_and_counts_everyone(api, members, aws, outbox_path):
    _no_quiet_hours(aws)
    ids = [_member(members, sms_marketing=True)[1]["member_id"] for _ in range(3)]
    _segment("seg_vip", ids)
    campaign = _create(api, message={"sms": "once"}).json()
    [unit] = _queued()
    from chalicelib.store.parameters import load_rules
    from chalicelib.usecases.campaigns import deliver_unit

    # The first delivery reached the first member, then the worker died: nothing was recorded.
    deliver_unit({**unit, "size": 1}, load_rules())
    assert len(_campaign_messages(outbox_path)) == 1
    do_unit(unit)  # the redelivery
    assert sorted(m["to"] for m in _campaign_messages(outbox_path)) == sorted({m["to"] for m in _campaign_messages(outbox_path)})
    assert len(_campaign_messages(outbox_path)) == 3
    assert api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]["sent"] == 3


def test_given_a_campaign_cancelled_mid_fan_out_then_no_member_gets_it_after(api, members, aws, outbox_path, monkeypatch):
    _no_quiet_hours(aws)
    from chalicelib.usecases import campaigns

    monkeypatch.setattr(campaigns, "UNIT_MEMBERS", 2)
    ids = [_member(members, sms_marketing=True)[1]["member_id"] for _ in range(5)]
    _segment("seg_vip", ids)
    campaign = _create(api, message={"sms": "until cancelled"}).json()
    units = sorted(_queued(), key=lambda u: u["offset"])
    assert len(units) == 3
    do_unit(units[0])
    assert len(_campaign_messages(outbox_path)) == 2
    cancelled = api.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/cancel", {})
    assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled"
    for unit in units[1:]:
        do_unit(unit)
    assert len(_campaign_messages(outbox_path)) == 2
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["sent"] == 2 and results["skipped"] == {"cancelled": 3}
    again = api.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/cancel", {})
    assert again.status == 409 and again.json()["code"] == "invalid_state"


def test_given_a_holdout_then_the_control_members_get_nothing_and_are_counted(api, members, aws, outbox_path):
    _no_quiet_hours(aws)
    from chalicelib.domain.campaigns import in_control_group

    people = [_member(members, sms_marketing=True) for _ in range(6)]
    _segment("seg_vip", [m["member_id"] for _, m in people])
    campaign = _create(api, message={"sms": "hi"}, points=5, holdout_percent=50).json()
    _drain()
    control = {m["member_id"] for _, m in people if in_control_group(campaign["campaign_id"], m["member_id"], 50)}
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["control"] == len(control) and results["sent"] == 6 - len(control)
    for token, m in people:
        expected = m["points"]["balance"] + (0 if m["member_id"] in control else 5)
        assert _balance(api, token) == expected


def test_given_a_coupon_campaign_then_each_member_gets_one_coupon(api, members, aws):
    _no_quiet_hours(aws)
    reward = api.post("/v1/admin/rewards", {"reward_id": "gift_1212", "name": "Gift", "points_cost": 100})
    assert reward.status == 201, reward.text
    token, m = _member(members)
    _segment("seg_vip", [m["member_id"]])
    campaign = _create(api, coupon_reward_id="gift_1212").json()
    _drain()
    coupons = api.get("/v1/me/coupons", headers=bearer(token)).json()["items"]
    assert [c["kind"] for c in coupons if c["kind"] == "campaign"] == ["campaign"]
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["coupons_issued"] == 1 and results["reached"] == 1


def test_given_an_empty_segment_then_the_campaign_completes_with_nobody_reached(api, aws):
    _segment("seg_vip", [])
    campaign = _create(api, points=5).json()
    assert campaign["audience"]["count"] == 0
    assert campaign["results"]["complete"] and campaign["results"]["reached"] == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"points": 5, "send_at": "2020-01-01T00:00:00+08:00"}, 422, "schedule_not_possible"),
        ({"points": 5, "colour": "red"}, 400, "validation_error"),
        ({}, 400, "validation_error"),
        ({"points": 0}, 400, "validation_error"),
        ({"message": {}}, 400, "validation_error"),
        ({"points": 5, "send_at": "2030-01-01T00:00:00"}, 400, "validation_error"),
        ({"coupon_reward_id": "no_such_reward"}, 400, "validation_error"),
    ],
)
def test_given_bad_input_then_a_problem_and_nothing_is_created(api, aws, body, status, code):
    _segment("seg_vip", ["m1"])
    reply = _create(api, **body)
    assert reply.status == status, reply.text
    assert reply.json()["code"] == code
    assert api.get(CAMPAIGNS).json()["items"] == []


def test_given_a_segment_saved_but_never_computed_then_409_segment_not_ready(api, aws):
    saved = api.post("/v1/admin/segments", {"name": "VIP", "definition": {"f_score": {"min": 4}}})
    assert saved.status == 201 and saved.json()["audience"] is None  # before any analytics refresh
    reply = api.post(CAMPAIGNS, {"name": "x", "segment_id": saved.json()["segment_id"], "points": 5})
    assert reply.status == 409 and reply.json()["code"] == "segment_not_ready"
    assert api.get(f"{CAMPAIGNS}/cmp_nope").status == 404


def test_given_a_segment_id_nobody_saved_then_404_now_or_scheduled_and_no_campaign_is_made(api, aws):
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for extra in ({}, {"send_at": later}, {"dry_run": True}):
        reply = api.post(CAMPAIGNS, {"name": "x", "segment_id": "seg_typo", "points": 5, **extra})
        assert reply.status == 404 and reply.json()["code"] == "not_found", reply.text
        assert "seg_typo" in reply.json()["detail"]
    assert api.get(CAMPAIGNS).json()["items"] == []


def test_given_a_scheduled_campaign_when_the_campaigns_job_runs_for_its_day_then_it_starts_once(api, members, aws, outbox_path):
    _no_quiet_hours(aws)
    from chalicelib.jobs.runner import run_now

    _, m = _member(members, sms_marketing=True)
    _segment("seg_vip", [m["member_id"]])
    send_at = datetime.now(UTC) + timedelta(days=2)
    campaign = _create(api, message={"sms": "later"}, send_at=send_at.isoformat()).json()
    today = datetime.now(UTC).date()
    assert run_now("campaigns", today)["campaigns"]["started"] == 0
    started = run_now("campaigns", (send_at + timedelta(days=1)).date())
    assert started["campaigns"] == {"due": 1, "started": 1, "waiting": 0, "failed": 0}
    _drain()
    assert run_now("campaigns", (send_at + timedelta(days=1)).date())["campaigns"]["due"] == 0
    assert len(_campaign_messages(outbox_path)) == 1
    assert api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]["sent"] == 1


def test_given_a_campaign_with_a_control_group_when_outcomes_are_counted_then_purchases_and_redemptions_compare_the_groups(api, members, aws):
    _no_quiet_hours(aws)
    from chalicelib.domain.campaigns import in_control_group

    reward = api.post("/v1/admin/rewards", {"reward_id": "gift_1212", "name": "Gift", "points_cost": 100})
    assert reward.status == 201, reward.text
    people = [_member(members, sms_marketing=True) for _ in range(6)]
    _segment("seg_vip", [m["member_id"] for _, m in people])
    campaign = _create(api, coupon_reward_id="gift_1212", holdout_percent=50).json()
    _drain()
    control = [(t, m) for t, m in people if in_control_group(campaign["campaign_id"], m["member_id"], 50)]
    recipients = [(t, m) for t, m in people if not in_control_group(campaign["campaign_id"], m["member_id"], 50)]
    assert control and recipients
    # One recipient redeems the coupon and buys twice; one control member buys once.
    token, buyer = recipients[0]
    code = next(c["code"] for c in api.get("/v1/me/coupons", headers=bearer(token)).json()["items"] if c["kind"] == "campaign")
    used = api.post(f"/v1/coupons/{code}/redemptions", {"redemption_id": "r-1"}, headers=MERCHANT)
    assert used.status in (200, 201), used.text
    for n in range(2):
        assert members.purchase(f"CMP-R-{n}", 5000, member_id=buyer["member_id"]).status == 201
    assert members.purchase("CMP-C-0", 5000, member_id=control[0][1]["member_id"]).status == 201
    asked = api.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/outcomes", {})
    assert asked.status == 202, asked.text
    _drain()
    outcomes = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["outcomes"]
    assert outcomes["complete"] and outcomes["coupons_redeemed"] == 1
    assert outcomes["recipients"] == {"members": len(recipients), "purchasers": 1, "purchases": 2, "purchase_rate": round(1 / len(recipients), 4)}
    assert outcomes["control"] == {"members": len(control), "purchasers": 1, "purchases": 1, "purchase_rate": round(1 / len(control), 4)}


def test_given_a_program_that_holds_points_for_a_return_window_then_outcomes_count_the_recipients_purchases(api, members, aws):
    """A purchase whose points are held (`earn_pending`) is a purchase all the same."""
    _no_quiet_hours(aws)
    set_rules(aws, pending_points=[{"hold_days": 7}])
    _, buyer = _member(members, sms_marketing=True)
    _, idle = _member(members, sms_marketing=True)
    _segment("seg_vip", [buyer["member_id"], idle["member_id"]])
    campaign = _create(api, points=5).json()
    _drain()
    for n in range(2):
        assert members.purchase(f"HELD-{n}", 5000, member_id=buyer["member_id"]).status == 201

    assert api.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/outcomes", {}).status == 202
    _drain()

    outcomes = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["outcomes"]
    assert outcomes["recipients"] == {"members": 2, "purchasers": 1, "purchases": 2, "purchase_rate": 0.5}, outcomes


def test_given_a_campaign_that_reached_everyone_then_cancel_is_409(api, members, aws):
    _no_quiet_hours(aws)
    _, m = _member(members)
    _segment("seg_vip", [m["member_id"]])
    campaign = _create(api, points=5).json()
    _drain()
    reply = api.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/cancel", {})
    assert reply.status == 409 and reply.json()["code"] == "invalid_state"
    assert api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["status"] == "running"


def test_given_an_audience_too_big_to_queue_in_a_request_then_the_campaigns_job_starts_it(api, members, aws, monkeypatch):
    _no_quiet_hours(aws)
    from chalicelib.jobs.runner import run_now
    from chalicelib.usecases import campaigns

    monkeypatch.setattr(campaigns, "INLINE_LAUNCH_MAX", 1)
    ids = [_member(members)[1]["member_id"] for _ in range(2)]
    _segment("seg_vip", ids)
    created = _create(api, points=5).json()
    assert created["status"] == "scheduled" and _queued() == []
    assert run_now("campaigns", datetime.now(UTC).date())["campaigns"]["started"] == 1
    _drain()
    assert api.get(f"{CAMPAIGNS}/{created['campaign_id']}").json()["results"]["points_granted"] == 10


def test_given_a_cancel_committed_while_a_unit_holds_a_fresh_status_then_no_member_is_reached_after_it(api, members, aws, outbox_path, monkeypatch):
    _no_quiet_hours(aws)
    from chalicelib.store.models import BaseItem
    from chalicelib.store.unit_of_work import connection
    from chalicelib.usecases import campaigns

    monkeypatch.setattr(campaigns, "STATUS_FRESH_SECONDS", 3600.0)  # the unit never reads the status again
    ids = [_member(members, sms_marketing=True)[1]["member_id"] for _ in range(3)]
    _segment("seg_vip", ids)
    campaign = _create(api, message={"sms": "until cancelled"}).json()
    [unit] = _queued()
    state = {"members": 0, "cancel": None}

    def cancel_after_the_first_member(**_: Any) -> None:
        if state["cancel"] is not None:
            return  # the cancel's own transaction
        state["members"] += 1
        if state["members"] == 1:
            state["cancel"] = api.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/cancel", {})

    clients = {id(c): c for c in [connection().client, *(m._get_connection().connection.client for m in [BaseItem, *BaseItem.__subclasses__()])]}
    for client in clients.values():
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", cancel_after_the_first_member, unique_id="cancel")
    try:
        do_unit(unit)
    finally:
        for client in clients.values():
            client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", unique_id="cancel")
    assert state["cancel"] is not None and state["cancel"].status == 200, state
    assert len(_campaign_messages(outbox_path)) == 1
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["sent"] == 1 and results["skipped"] == {"cancelled": 2}


def test_given_two_outcome_requests_in_the_same_second_then_both_are_counted_and_audited(api, members, aws):
    _no_quiet_hours(aws)
    _, m = _member(members)
    _segment("seg_vip", [m["member_id"]])
    campaign = _create(api, points=5).json()
    _drain()
    replies = [api.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/outcomes", {}) for _ in range(2)]
    assert [r.status for r in replies] == [202, 202], [r.text for r in replies]
    _drain()
    outcomes = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["outcomes"]
    assert outcomes["complete"] and outcomes["recipients"]["members"] == 1
    from chalicelib.domain.clock import today_in
    from chalicelib.store.parameters import load_rules

    day = today_in(load_rules().zone).isoformat()
    audited = [e for e in api.get(f"/v1/admin/audit?day={day}&limit=100").json()["items"] if e["action"] == "campaign.outcomes"]
    assert len(audited) == 2 and {e["target"]["id"] for e in audited} == {campaign["campaign_id"]}


def test_given_messages_held_by_quiet_hours_when_the_campaign_is_cancelled_then_they_never_go(api, members, aws, outbox_path):
    from localstage.job import run

    set_rules(aws, quiet_hours_start="00:00:00", quiet_hours_end="23:59:59")
    _, a = _member(members, sms_marketing=True)
    _segment("seg_vip", [a["member_id"]])
    campaign = _create(api, message={"sms": "held back"}).json()
    _drain()
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["complete"] and results["deferred"] == 1
    cancelled = api.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/cancel", {})
    assert cancelled.status == 200, cancelled.text  # every unit is done, but a message still waits
    _no_quiet_hours(aws)
    later = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()  # past the hour it was held to
    summary = run("send-deferred", later, False)
    assert _campaign_messages(outbox_path) == [] and summary["messages_sent"] == 0, summary
    from chalicelib.store.models import DeferredMessage

    assert list(DeferredMessage.scan()) == []  # dropped, not left waiting


def test_given_a_message_held_by_quiet_hours_when_the_member_withdraws_consent_then_it_never_goes_and_the_others_do(api, members, aws, outbox_path):
    from localstage.job import run

    set_rules(aws, quiet_hours_start="00:00:00", quiet_hours_end="23:59:59")
    withdrawing, a = _member(members, sms_marketing=True)
    _, b = _member(members, sms_marketing=True)
    _segment("seg_vip", [a["member_id"], b["member_id"]])
    campaign = _create(api, message={"sms": "held back"}).json()
    _drain()
    assert api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]["deferred"] == 2
    withdrawn = api.request("PATCH", "/v1/me", json_body={"consents": {"sms_marketing": False}}, headers=bearer(withdrawing))
    assert withdrawn.status == 200, withdrawn.text

    _no_quiet_hours(aws)
    later = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()  # past the hour they were held to
    summary = run("send-deferred", later, False)

    assert summary["messages_sent"] == 1 and summary["messages_skipped"] == {"no_consent": 1}, summary
    assert [m["to"] for m in _campaign_messages(outbox_path)] == [b["phone"]]
    from chalicelib.store.models import DeferredMessage

    assert list(DeferredMessage.scan()) == []  # the withdrawn one dropped, not left to be read every hour


def test_given_a_send_that_fails_then_the_member_counts_as_skipped_in_the_results_and_the_outcomes(api, members, aws, outbox_path):
    _no_quiet_hours(aws)
    from botocore.awsrequest import AWSResponse

    from chalicelib.notify.sender import _client

    _, a = _member(members, sms_marketing=True)
    _segment("seg_vip", [a["member_id"]])
    sns = _client("sns")

    def refuse(**_: Any) -> Any:
        return AWSResponse("http://injected", 400, {}, None), {"Error": {"Code": "InvalidParameter", "Message": "injected refusal"}}

    sns.meta.events.register("before-call.sns.Publish", refuse, unique_id="refuse")
    try:
        campaign = _create(api, message={"sms": "will not arrive"}).json()
        _drain()
    finally:
        sns.meta.events.unregister("before-call.sns.Publish", unique_id="refuse")
    assert _campaign_messages(outbox_path) == []
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["sent"] == 0 and results["skipped"] == {"delivery_failed": 1}
    assert api.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/outcomes", {}).status == 202
    _drain()
    outcomes = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["outcomes"]
    assert outcomes["complete"] and outcomes["recipients"]["members"] == 0  # not counted as reached


# --- hand-overs a worker could not note: settled, never sent again ---------------------------------


class WorkerStopped(BaseException):
    """The worker's Lambda stopped (its timeout, a crash): whatever it was doing ends here."""


def _stop_after_the_channel_took(monkeypatch: Any, nth: int) -> None:
    """The channel (the local outbox, after SNS took the SMS) takes the nth campaign message,
    then the worker stops before it can note it; later deliveries go through."""
    from chalicelib.notify import sender

    original, seen = sender._append_to_outbox, [0]

    def append(message: Any, sent_at: datetime, *, templated: bool = False) -> None:
        original(message, sent_at, templated=templated)
        if message.kind == "campaign":
            seen[0] += 1
            if seen[0] == nth:
                raise WorkerStopped

    monkeypatch.setattr(sender, "_append_to_outbox", append)


def _sweep(monkeypatch: Any, *, settle_after: timedelta | None = None) -> dict[str, int]:
    """The `campaigns` job's run (every 5 minutes deployed): what it settled. `settle_after`
    stands for the minutes that pass before a hand-over is swept (10 deployed)."""
    from chalicelib.jobs.runner import run_now
    from chalicelib.usecases import campaigns

    if settle_after is not None:
        monkeypatch.setattr(campaigns, "HANDOVER_SETTLE_AFTER", settle_after)
    return dict(run_now("campaigns", datetime.now(UTC).date())["handovers_settled"])


@pytest.mark.parametrize("then", ["redelivered_then_swept", "swept_then_redriven"])
def test_given_a_worker_that_stopped_between_a_send_and_its_note_then_nothing_goes_twice_and_the_member_ends_unconfirmed(
    api, members, aws, outbox_path, monkeypatch, then
):
    _no_quiet_hours(aws)
    people = [_member(members, sms_marketing=True) for _ in range(3)]
    _segment("seg_vip", [m["member_id"] for _, m in people])
    campaign = _create(api, message={"sms": "双十二"}, points=10).json()
    [unit] = _queued()
    _stop_after_the_channel_took(monkeypatch, 2)
    with pytest.raises(WorkerStopped):
        do_unit(unit)
    assert [m["to"] for m in _campaign_messages(outbox_path)] == [people[0][1]["phone"], people[1][1]["phone"]]
    assert _sweep(monkeypatch) == {"accepted": 0, "unknown": 0}  # too fresh: its worker may still be at it
    if then == "redelivered_then_swept":
        # SQS delivers the unit again after its visibility timeout (12 minutes deployed): the
        # stopped worker's pending record is past the age a live twin's could have.
        monkeypatch.setattr(campaigns, "TWIN_ALIVE_FOR", timedelta(0))
        do_unit(unit)
        assert _sweep(monkeypatch, settle_after=timedelta(0)) == {"accepted": 0, "unknown": 1}
    else:  # the unit was dead-lettered: the sweep settles it, then an operator redrives it
        assert _sweep(monkeypatch, settle_after=timedelta(0)) == {"accepted": 0, "unknown": 1}
        do_unit(unit)
    assert _sweep(monkeypatch) == {"accepted": 0, "unknown": 0}  # settled once
    # Nobody got the message twice; the third member got it on the redelivery.
    assert sorted(m["to"] for m in _campaign_messages(outbox_path)) == sorted(m["phone"] for _, m in people)
    assert all(_balance(api, token) == m["points"]["balance"] + 10 for token, m in people)
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["complete"] and results["reached"] == 3 and results["points_granted"] == 30
    assert results["sent"] == 2 and results["unconfirmed"] == 1  # the stopped worker's message is not claimed as sent
    assert api.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/outcomes", {}).status == 202
    _drain()
    assert api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["outcomes"]["recipients"]["members"] == 3


def _refuse_hand_over_marks() -> Any:
    """DynamoDB too busy for the transactions that mark records `accepted` (TransactionConflict
    every time): the worker's and, while this holds, the sweep's."""
    from tests.integration.test_faults import _clients, _error

    def busy(params: dict[str, Any], **_: Any) -> Any:
        items = json.loads(params["body"]).get("TransactItems", [])
        values = [v for i in items for v in i.get("Update", {}).get("ExpressionAttributeValues", {}).values()]
        if {"S": "accepted"} in values:
            return _error("TransactionCanceledException", [{"Code": "TransactionConflict", "Message": "conflict"}])
        return None

    clients = _clients()
    for client in clients:
        client.meta.events.register("before-call.dynamodb.TransactWriteItems", busy, unique_id="busy-marks")

    def stop() -> None:
        for client in clients:
            client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="busy-marks")

    return stop


def test_given_the_table_too_busy_to_note_hand_overs_then_they_are_settled_accepted_later_never_unknown(api, members, aws, outbox_path, monkeypatch):
    _no_quiet_hours(aws)
    ids = [_member(members, sms_marketing=True)[1]["member_id"] for _ in range(2)]
    _segment("seg_vip", ids)
    stop = _refuse_hand_over_marks()
    try:
        campaign = _create(api, message={"sms": "once"}).json()
        _drain()
        assert _sweep(monkeypatch, settle_after=timedelta(0)) == {"accepted": 0, "unknown": 0}  # the table is still too busy
    finally:
        stop()
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["complete"] and results["sent"] == 2 and results["unconfirmed"] == 0
    assert _sweep(monkeypatch, settle_after=timedelta(0)) == {"accepted": 2, "unknown": 0}
    assert _sweep(monkeypatch) == {"accepted": 0, "unknown": 0}
    assert len(_campaign_messages(outbox_path)) == 2


# --- a segment replaced between its count and the campaign's start ---------------------------------

BOUGHT = {"name": "买过的会员", "definition": {"last_purchase": {"within_days": 30}}}
NEVER_BOUGHT = {"name": "没买过", "definition": {"last_purchase": {"never": True}}}


def _count_queued_segments() -> None:
    """What `make job JOB=segment-audiences` does: the queued counts done."""
    from localstage.job import run

    assert run("segment-audiences", None, False)["dead_lettered"] == 0


def _counted_segment(api, members) -> tuple[str, dict[str, str]]:
    """A segment of the members who bought (a, b) counted from an analytics refresh; c never bought."""
    people = {who: _member(members, sms_marketing=True) for who in "abc"}
    for order, who in (("o-a", "a"), ("o-b", "b")):
        assert members.purchase(order, 10_000, member_id=people[who][1]["member_id"]).status == 201
    assert api.post("/v1/admin/analytics/refreshes").status == 201
    saved = api.post("/v1/admin/segments", BOUGHT)
    assert saved.status == 202, saved.text
    _count_queued_segments()
    segment_id = saved.json()["segment_id"]
    assert api.get(f"/v1/admin/segments/{segment_id}").json()["status"] == "ready"
    return segment_id, {who: token for who, (token, _) in people.items()}


def _replace(api, segment_id: str) -> None:
    replaced = api.request("PUT", f"/v1/admin/segments/{segment_id}", json_body=NEVER_BOUGHT)
    assert replaced.status == 202 and replaced.json()["status"] == "computing", replaced.text


def test_given_a_segment_replaced_after_its_count_then_a_campaign_now_and_its_dry_run_are_409_until_the_new_definition_is_counted(
    api, members, aws, outbox_path
):
    """Given an operator who saw the segment's count, when the definition is replaced and a
    campaign is started before the new count has run, then 409 segment_computing and nothing is
    made or sent; once counted, the campaign goes to the new definition's members only."""
    _no_quiet_hours(aws)
    segment_id, tokens = _counted_segment(api, members)
    before = {who: _balance(api, token) for who, token in tokens.items()}
    _replace(api, segment_id)

    for extra in ({}, {"dry_run": True}):
        reply = api.post(CAMPAIGNS, {"name": "回归", "segment_id": segment_id, "message": {"sms": "hi"}, "points": 50, **extra})
        assert reply.status == 409 and reply.json()["code"] == "segment_computing", reply.text
    assert api.get(CAMPAIGNS).json()["items"] == []

    _count_queued_segments()
    created = api.post(CAMPAIGNS, {"name": "回归", "segment_id": segment_id, "message": {"sms": "hi"}, "points": 50})
    assert created.status == 201 and created.json()["audience"]["count"] == 1, created.text
    _drain()
    assert {who: _balance(api, token) - before[who] for who, token in tokens.items()} == {"a": 0, "b": 0, "c": 50}
    assert len(_campaign_messages(outbox_path)) == 1

    deleted = api.request("DELETE", f"/v1/admin/segments/{segment_id}", json_body={"reason": "done"})
    assert deleted.status == 200, deleted.text
    gone = api.post(CAMPAIGNS, {"name": "x", "segment_id": segment_id, "points": 5})  # its audiences are kept, not sent to
    assert gone.status == 404 and gone.json()["code"] == "not_found", gone.text


def _tomorrow_at_20_local() -> datetime:
    from chalicelib.domain.clock import today_in
    from chalicelib.store.parameters import load_rules

    zone = load_rules().zone
    return datetime.combine(today_in(zone) + timedelta(days=1), datetime.min.time(), tzinfo=zone).replace(hour=20)


def _scheduled_on_a_replaced_segment(api, members, aws) -> tuple[dict[str, Any], datetime, dict[str, str], dict[str, int]]:
    """A campaign of 50 points and an SMS scheduled for tomorrow at 20:00 on a counted segment whose
    definition was then replaced (not counted yet): (the campaign, its send_at, the members'
    tokens, their balances before)."""
    _no_quiet_hours(aws)
    segment_id, tokens = _counted_segment(api, members)
    before = {who: _balance(api, token) for who, token in tokens.items()}
    send_at = _tomorrow_at_20_local()
    body = {"name": "明晚", "segment_id": segment_id, "message": {"sms": "hi"}, "points": 50, "send_at": send_at.isoformat()}
    campaign = api.post(CAMPAIGNS, body)
    assert campaign.status == 201 and campaign.json()["status"] == "scheduled" and campaign.json()["waiting"] is None, campaign.text
    _replace(api, segment_id)
    return campaign.json(), send_at, tokens, before


def test_given_a_scheduled_campaign_due_while_its_segment_is_being_counted_then_it_waits_showing_why_and_goes_to_the_new_members(
    api, members, aws, outbox_path
):
    from chalicelib.jobs.runner import run_now

    campaign, send_at, tokens, before = _scheduled_on_a_replaced_segment(api, members, aws)

    # The job's run at the end of send_at's day (23:59:59 there, 4 hours after it): due, not started.
    waiting = run_now("campaigns", send_at.date())
    assert waiting["campaigns"] == {"due": 1, "started": 0, "waiting": 1, "failed": 0}, waiting
    shown = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()
    assert shown["status"] == "scheduled" and shown["audience"] is None and shown["results"] is None
    assert shown["waiting"]["reason"] == "segment_computing" and datetime.fromisoformat(shown["waiting"]["until"]) == send_at + timedelta(hours=6)
    _drain()
    assert {who: _balance(api, token) for who, token in tokens.items()} == before  # nothing went to the replaced definition's members

    _count_queued_segments()
    started = run_now("campaigns", send_at.date())
    assert started["campaigns"]["started"] == 1, started
    _drain()
    shown = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()
    assert (shown["status"], shown["waiting"], shown["audience"]["count"]) == ("running", None, 1)
    assert {who: _balance(api, token) - before[who] for who, token in tokens.items()} == {"a": 0, "b": 0, "c": 50}


def test_given_a_scheduled_campaign_whose_segment_is_still_not_counted_6_hours_after_send_at_then_it_fails_visibly_and_sends_nothing(
    api, members, aws, outbox_path
):
    from chalicelib.jobs.runner import run_now

    campaign, send_at, tokens, before = _scheduled_on_a_replaced_segment(api, members, aws)
    campaign_id = campaign["campaign_id"]

    # The next day's last run, 28 hours after send_at: it gave up on the count.
    failed = run_now("campaigns", send_at.date() + timedelta(days=1))
    assert failed["campaigns"] == {"due": 1, "started": 0, "waiting": 0, "failed": 1}, failed
    shown = api.get(f"{CAMPAIGNS}/{campaign_id}").json()
    assert (shown["status"], shown["failure"]["reason"], shown["audience"]) == ("failed", "segment_computing", None), shown
    _count_queued_segments()
    assert run_now("campaigns", send_at.date() + timedelta(days=1))["campaigns"]["due"] == 0  # it waits no more
    _drain()
    assert _campaign_messages(outbox_path) == [] and {who: _balance(api, token) for who, token in tokens.items()} == before
    cancel = api.post(f"{CAMPAIGNS}/{campaign_id}/cancel", {})
    assert cancel.status == 409 and cancel.json()["code"] == "invalid_state", cancel.text
    day = (send_at.date() + timedelta(days=1)).isoformat()
    audit = [e for e in api.get(f"/v1/admin/audit?day={day}&limit=100").json()["items"] if e["action"] == "campaign.fail"]
    assert [(e["actor"], e["after"]["reason"]) for e in audit] == [("schedule", "segment_computing")], audit


def test_given_a_segment_replaced_between_the_read_of_its_audience_and_the_start_then_the_start_transaction_refuses_it(
    api, members, aws, outbox_path
):
    """Given the audience read for a start (still counting the segment's version), when the
    definition is replaced before the start commits, then the version check in the start's
    transaction fails it: the campaign waits, with no audience, and nobody is reached."""
    _no_quiet_hours(aws)
    from chalicelib.usecases.campaigns import launch
    from chalicelib.usecases.operations.segments import audience_to_use

    segment_id, tokens = _counted_segment(api, members)
    before = {who: _balance(api, token) for who, token in tokens.items()}
    campaign = api.post(CAMPAIGNS, {"name": "明晚", "segment_id": segment_id, "points": 50, "send_at": _tomorrow_at_20_local().isoformat()}).json()
    read_before_the_replacement = audience_to_use(segment_id)
    _replace(api, segment_id)

    assert launch(campaign["campaign_id"], audience=read_before_the_replacement) == "segment_computing"
    _drain()
    shown = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()
    assert (shown["status"], shown["audience"], shown["waiting"]["reason"]) == ("scheduled", None, "segment_computing"), shown
    assert {who: _balance(api, token) for who, token in tokens.items()} == before
