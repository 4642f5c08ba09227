"""The same campaign unit done by two workers at once, against the running local stack (one
DynamoDB call at a time, as in AWS): every member is reached once, the counters count once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.e2e.factories import TIMEOUT, WELCOME_POINTS, code_sent_to
from tests.support.outbox import messages
from tests.support.stack import run_module

pytestmark = pytest.mark.e2e

MEMBERS, POINTS = 12, 40


def _member(stack: Any) -> tuple[str, str, str]:
    phone = f"+86134{uuid.uuid4().int % 10**8:08d}"
    body = {"phone": phone, "name": "李娜", "consents": {"sms_marketing": True}}
    assert requests.post(stack.url("/v1/signup"), json=body, timeout=TIMEOUT).status_code == 202
    verified = requests.post(stack.url("/v1/auth/verify"), json={"phone": phone, "code": code_sent_to(stack, phone)}, timeout=TIMEOUT)
    assert verified.status_code == 200, verified.text
    return phone, verified.json()["member"]["member_id"], verified.json()["access_token"]


def _put_rules(stack: Any, rules: dict[str, Any], reason: str) -> None:
    reply = requests.put(stack.url("/v1/admin/rules"), json={"rules": rules, "reason": reason}, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text


def test_given_one_campaign_unit_delivered_to_two_workers_at_once_then_each_member_is_reached_once(stack, monkeypatch):
    from chalicelib.store import audiences

    people = [_member(stack) for _ in range(MEMBERS)]
    segment = f"seg_race_{uuid.uuid4().hex[:8]}"
    for name, value in {"AWS_ENDPOINT_URL": stack.aws_endpoint, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    now = datetime.now(UTC)
    audiences.write(segment, [member_id for _, member_id, _ in people], data_as_of=now, computed_at=now)
    before = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
    _put_rules(stack, {**before, "quiet_hours_start": "00:00:00", "quiet_hours_end": "00:00:00"}, "test: no quiet hours")
    try:
        body = {"name": "race", "segment_id": segment, "message": {"sms": "once only"}, "points": POINTS}
        created = requests.post(stack.url("/v1/admin/campaigns"), json=body, timeout=TIMEOUT)
        assert created.status_code == 201, created.text
        done = run_module("tests.e2e.campaign_units_twice", str(stack.state_dir), timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        _put_rules(stack, before, "test: rules as they were")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["units"] >= 1 and len(report["tallies"]) == 2 * report["units"]
    phones = {phone for phone, _, _ in people}
    sent = [m["to"] for m in messages(stack.outbox) if m["kind"] == "campaign" and m["to"] in phones]
    assert sorted(sent) == sorted(phones)  # each member once
    for _, _, token in people:
        me = requests.get(stack.url("/v1/me"), headers={"authorization": f"Bearer {token}"}, timeout=TIMEOUT).json()
        assert me["points"]["balance"] == WELCOME_POINTS + POINTS
    results = requests.get(stack.url(f"/v1/admin/campaigns/{created.json()['campaign_id']}"), timeout=TIMEOUT).json()["results"]
    assert results["sent"] == MEMBERS and results["points_granted"] == MEMBERS * POINTS and results["complete"]
