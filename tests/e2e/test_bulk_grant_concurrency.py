"""Bulk grants raced over HTTP against the running local stack (one DynamoDB call at a time, as
atomic as in AWS): `POST /v1/admin/grants/{id}/start` sent many times at once to two batches that
list the same members, then every queued unit done by two workers at the same moment. Each row is
granted exactly once: one start wins per batch, every member's balance and ledger say each row once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from tests.e2e.factories import TIMEOUT, code_sent_to
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error
from tests.support.stack import run_module

pytestmark = pytest.mark.e2e

MEMBERS, STARTS = 4, 8
POINTS = {"first": 70, "second": 30}


def _member(stack: Any) -> tuple[str, str]:
    phone = f"+86135{uuid.uuid4().int % 10**8:08d}"
    assert requests.post(stack.url("/v1/signup"), json={"phone": phone, "name": "王芳"}, timeout=TIMEOUT).status_code == 202
    verified = requests.post(stack.url("/v1/auth/verify"), json={"phone": phone, "code": code_sent_to(stack, phone)}, timeout=TIMEOUT)
    assert verified.status_code == 200, verified.text
    return verified.json()["member"]["member_id"], verified.json()["access_token"]


def _batch(stack: Any, name: str, member_ids: list[str]) -> str:
    body = {"kind": "points", "reason": f"race {name}", "default_points": POINTS[name]}
    created = requests.post(stack.url("/v1/admin/grants"), json=body, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    text = "member_id,row_id\n" + "".join(f"{m},{name}-{i}\n" for i, m in enumerate(member_ids))
    put = requests.put(created.json()["upload"]["url"], data=text.encode(), timeout=TIMEOUT)
    assert put.status_code == 200, put.text
    return str(created.json()["batch_id"])


def _balance(stack: Any, token: str) -> int:
    me = requests.get(stack.url("/v1/me"), headers={"authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    return int(me.json()["points"]["balance"])


def test_given_starts_raced_on_two_batches_listing_the_same_members_then_each_row_is_granted_exactly_once(stack):
    people = [_member(stack) for _ in range(MEMBERS)]
    before = {member_id: _balance(stack, token) for member_id, token in people}
    ids = [member_id for member_id, _ in people]
    batches = {"first": _batch(stack, "first", ids), "second": _batch(stack, "second", ids[: MEMBERS // 2])}

    calls = [
        (lambda batch_id=batch_id: requests.post(stack.url(f"/v1/admin/grants/{batch_id}/start"), json={}, timeout=TIMEOUT))
        for batch_id in batches.values()
        for _ in range(STARTS)
    ]
    replies = all_at_once(calls, workers=len(calls))

    assert_no_server_error(replies)
    for n, batch_id in enumerate(batches.values()):
        statuses = sorted(r.status_code for r in replies[n * STARTS : (n + 1) * STARTS])
        assert statuses == [200] * (STARTS - 1) + [202], (batch_id, statuses)  # one start wins
    # Every queued unit (the split, then its parts) done by two workers at once, until none is left.
    for _ in range(6):
        done = run_module("tests.e2e.campaign_units_twice", str(stack.state_dir), timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        if json.loads(done.stdout.strip().splitlines()[-1])["units"] == 0:
            break
    for name, batch_id in batches.items():
        status = requests.get(stack.url(f"/v1/admin/grants/{batch_id}"), timeout=TIMEOUT).json()
        listed = MEMBERS if name == "first" else MEMBERS // 2
        assert status["status"] == "done" and status["progress"]["granted"] == listed and status["progress"]["failed"] == 0, status
    for i, (member_id, token) in enumerate(people):
        expected = POINTS["first"] + (POINTS["second"] if i < MEMBERS // 2 else 0)
        assert _balance(stack, token) == before[member_id] + expected
        ledger = requests.get(stack.url(f"/v1/admin/members/{member_id}/ledger?limit=50"), timeout=TIMEOUT).json()["items"]
        grants = sorted(str(e["ref"]).split(":")[1] for e in ledger if str(e.get("ref", "")).startswith("grant:"))
        assert grants == sorted(batches[n] for n in (("first", "second") if i < MEMBERS // 2 else ("first",)))
