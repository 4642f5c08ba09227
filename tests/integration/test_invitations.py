"""Invitations to imported members (issue 16): a campaign of kind `invite` reaches only pending
imported members who have not proven their phone, by SMS without marketing consent, at its pace
(`members_per_minute`: one unit a minute, each queueing the next), under the frequency cap and
quiet hours, once per member; a member who signs up after the audience was counted is skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3

from chalicelib.jobs.runner import do_unit, queue_url
from chalicelib.store import audiences
from chalicelib.usecases.campaigns import next_units
from tests.integration.test_campaigns import _queued
from tests.integration.test_member_imports import member_of, run_import
from tests.support.outbox import last_code, messages
from tests.support.rules import set_rules

CAMPAIGNS = "/v1/admin/campaigns"
PHONES = [f"+86139000009{i:02d}" for i in range(1, 6)]


def _imported(api: Any) -> list[dict[str, Any]]:
    body = ("phone,name,points\n" + "".join(f"{p},旧会员,{100 * (i + 1)}\n" for i, p in enumerate(PHONES))).encode()
    assert run_import(api, body)["progress"]["imported"] == len(PHONES)
    return [member_of(api, p) for p in PHONES]


def _audience(member_ids: list[str]) -> None:
    audiences.write("seg_migrated", member_ids, data_as_of=datetime.now(UTC), computed_at=datetime.now(UTC))


def _invites(outbox: str) -> list[dict[str, Any]]:
    return [m for m in messages(outbox) if m["kind"] == "invite"]


def _delayed() -> int:
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url(), AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"])


def _signed_up(api: Any, outbox: str, phone: str) -> None:
    assert api.post("/v1/signup", {"phone": phone, "name": "旧会员"}).status == 202
    assert api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox, phone)}).status == 200


def test_given_imported_members_when_invited_in_a_wave_then_only_pending_ones_get_one_sms_each_at_the_pace_asked(api, members, aws, outbox_path):
    set_rules(aws, quiet_hours_start="00:00:00", quiet_hours_end="00:00:00")
    imported = _imported(api)
    _, active = members.verified(consents={"sms_marketing": True})
    _audience([m["member_id"] for m in imported] + [active["member"]["member_id"]])
    # Counted, then one of them signs up on the app before the invitation reaches them.
    _signed_up(api, outbox_path, PHONES[3])

    created = api.post(
        CAMPAIGNS,
        {"name": "迁移邀请 1", "segment_id": "seg_migrated", "kind": "invite", "members_per_minute": 2, "message": {"sms": "请用本手机号登录会员"}},
    )

    assert created.status == 201, created.text
    campaign = created.json()
    assert campaign["kind"] == "invite" and campaign["members_per_minute"] == 2 and campaign["audience"]["count"] == 6
    first = _queued()
    assert [(u["offset"], u["size"]) for u in first] == [(0, 2)]  # a minute's members, the rest follows
    sent_per_minute = []
    unit: dict[str, Any] | None = first[0]
    while unit is not None:
        before = len(_invites(outbox_path))
        do_unit(unit)
        do_unit(unit)  # delivered twice: nothing goes twice
        sent_per_minute.append(len(_invites(outbox_path)) - before)
        following = next_units(unit)
        if following:
            assert following[0]["delay_seconds"] == 60 and _delayed() >= 1  # queued, held back a minute
            assert _queued() == []
        unit = following[0] if following else None

    assert len(sent_per_minute) == 3 and all(n <= 2 for n in sent_per_minute)
    invites = _invites(outbox_path)
    assert sorted(m["to"] for m in invites) == sorted(PHONES[:3] + PHONES[4:])  # never the signed-up one, nor the active member
    assert {m["channel"] for m in invites} == {"sms"} and {m["body"] for m in invites} == {"请用本手机号登录会员"}
    results = api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["results"]
    assert results["complete"] and results["sent"] == 4
    assert results["skipped"] == {"status_active": 2}


def test_given_an_invitation_then_no_marketing_consent_is_needed_but_quiet_hours_defer_and_the_frequency_cap_skips(api, aws, outbox_path):
    set_rules(aws, quiet_hours_start="00:00:00", quiet_hours_end="23:59:59", frequency_cap_messages=1)
    imported = _imported(api)
    _audience([m["member_id"] for m in imported[:2]])
    body = {"segment_id": "seg_migrated", "kind": "invite", "message": {"sms": "请登录"}}

    first = api.post(CAMPAIGNS, {"name": "wave 1", **body}).json()
    for unit in _queued():
        do_unit(unit)
    second = api.post(CAMPAIGNS, {"name": "wave 2", **body}).json()
    for unit in _queued():
        do_unit(unit)

    assert first["members_per_minute"] == 100  # the default pace
    assert api.get(f"{CAMPAIGNS}/{first['campaign_id']}").json()["results"]["deferred"] == 2  # held to the morning
    assert api.get(f"{CAMPAIGNS}/{second['campaign_id']}").json()["results"]["skipped"] == {"frequency_cap": 2}
    assert _invites(outbox_path) == []


def test_given_an_invitation_with_points_or_by_email_or_a_pace_on_marketing_then_400_and_nothing_is_created(api):
    for body in (
        {"kind": "invite", "message": {"sms": "hi"}, "points": 10},
        {"kind": "invite", "message": {"email": "hi"}},
        {"kind": "invite", "message": {"sms": "hi"}, "members_per_minute": 0},
        {"message": {"sms": "hi"}, "members_per_minute": 10},
    ):
        reply = api.post(CAMPAIGNS, {"name": "x", "segment_id": "seg_migrated", **body})
        assert reply.status == 400, (body, reply.text)
        assert reply.headers["Content-Type"] == "application/problem+json"
    assert api.get(CAMPAIGNS).json()["items"] == []
