"""`make job` against the running local stack: what an operator sees over HTTP and in the outbox."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.books import stack_table
from tests.support.outbox import last_code, messages
from tests.support.stack import ROOT, run_module

pytestmark = pytest.mark.e2e


def _job(stack, job: str, as_of: str) -> dict:
    done = run_module("localstage.job", job, as_of, "--state-dir", str(stack.state_dir), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout[done.stdout.index("{\n") :])


def _member(stack, phone: str, **profile) -> str:
    reply = requests.post(stack.url("/v1/signup"), json={"phone": phone, "name": "王芳", **profile}, timeout=10)
    assert reply.status_code == 202
    verified = requests.post(stack.url("/v1/auth/verify"), json={"phone": phone, "code": last_code(stack.outbox, phone)}, timeout=10)
    assert verified.status_code == 200
    return verified.json()["access_token"]


def _me(stack, token: str) -> dict:
    return requests.get(stack.url("/v1/me"), headers={"authorization": f"Bearer {token}"}, timeout=10).json()


def test_given_members_when_jobs_run_by_date_then_points_and_messages_are_exactly_as_expected_and_reruns_change_nothing(stack):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    born = "1992-02-29" if (today.month, today.day) == (2, 29) else today.replace(year=1991).isoformat()
    suffix = uuid.uuid4().int % 10**8
    birthday_phone, idle_phone = f"+86135{suffix:08d}", f"+86136{suffix:08d}"
    birthday_token = _member(stack, birthday_phone, birthday=born, consents={"sms_marketing": True})
    idle_token = _member(stack, idle_phone, consents={"sms_marketing": True})
    order = f"JOB-{uuid.uuid4()}"
    purchase = requests.post(
        stack.url("/v1/purchases"),
        json={"order_id": order, "phone": birthday_phone, "amount": 10000, "currency": "CNY"},
        headers={"x-api-key": "local-dev-key"},
        timeout=10,
    )
    assert purchase.json()["points_earned"] == 200  # birthday: x2

    first = _job(stack, "birthday-bonus", today.isoformat())
    assert first["members_affected"] >= 1
    assert _me(stack, birthday_token)["points"]["balance"] == 100 + 200 + 200
    assert _me(stack, idle_token)["points"]["balance"] == 100
    greetings = [m for m in messages(stack.outbox) if m["kind"] == "birthday_greeting" and m["to"] == birthday_phone]
    assert len(greetings) == 1

    second = _job(stack, "birthday-bonus", today.isoformat())
    assert second["points_moved"] == 0
    assert _me(stack, birthday_token)["points"]["balance"] == 500

    nudge_day = (today + timedelta(days=30)).isoformat()
    _job(stack, "reengagement", nudge_day)
    nudges = [m for m in messages(stack.outbox) if m["kind"] == "reengagement" and m["to"] in (birthday_phone, idle_phone)]
    assert {m["to"] for m in nudges} == {idle_phone, birthday_phone}
    _job(stack, "reengagement", nudge_day)
    assert len([m for m in messages(stack.outbox) if m["kind"] == "reengagement" and m["to"] in (birthday_phone, idle_phone)]) == 2

    ledger = requests.get(stack.url("/v1/me/ledger"), headers={"authorization": f"Bearer {birthday_token}"}, timeout=10).json()["items"]
    assert [(e["kind"], e["ref"]) for e in ledger][:2] == [("bonus", f"birthday:{today.year}"), ("earn", order)]
    assert sum(e["points"] for e in ledger) == 500


def test_given_a_balance_changed_behind_the_programs_back_when_reconcile_runs_then_exactly_that_member_is_reported_by_id(stack):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    phone = f"+86137{uuid.uuid4().int % 10**8:08d}"
    token = _member(stack, phone)
    member_id = _me(stack, token)["member_id"]
    _member(stack, f"+86136{uuid.uuid4().int % 10**8:08d}")  # another member, whose books balance
    merchant = {"x-api-key": "local-dev-key"}
    bought = requests.post(
        stack.url("/v1/purchases"),
        json={"order_id": f"REC-{uuid.uuid4()}", "phone": phone, "amount": 10000, "currency": "CNY"},
        headers=merchant,
        timeout=10,
    )
    assert bought.status_code == 201
    topup = {"topup_id": f"REC-{uuid.uuid4()}", "member_id": member_id, "amount": 5000, "currency": "CNY"}
    assert requests.post(stack.url("/v1/wallet/topups"), json=topup, headers=merchant, timeout=10).status_code == 201

    client, table_name = stack_table(stack)

    def add_to_balance(by: int) -> None:
        client.update_item(
            TableName=table_name,
            Key={"pk": {"S": f"MEMBER#{member_id}"}, "sk": {"S": "PROFILE"}},
            UpdateExpression="SET balance = balance + :by",
            ExpressionAttributeValues={":by": {"N": str(by)}},
        )

    add_to_balance(5)
    try:
        drifted = _job(stack, "reconcile", today)
    finally:
        add_to_balance(-5)  # the stack is shared: every member's books balance again

    # Every other member of the shared stack (every test's so far) is clean.
    assert (drifted["ledger"]["members_with_drift"], drifted["ledger"]["drift_member_ids"]) == (1, [member_id])
    assert drifted["units"]["done"] == drifted["units"]["planned"] >= 16
    assert drifted["ledger"]["members_checked"] > 1
    assert drifted["ledger"]["outstanding_stored_value"] >= 5000
    assert phone not in json.dumps(drifted)


def test_given_an_unknown_job_then_the_runner_says_so_and_fails(stack):
    done = run_module("localstage.job", "no-such-job", "2026-01-01", "--state-dir", str(stack.state_dir), timeout=60)
    assert done.returncode == 1
    assert "unknown job" in done.stdout


def test_given_no_job_named_then_make_job_lists_every_job_there_is():
    from chalicelib.jobs.specs import JOBS

    done = subprocess.run(["make", "--no-print-directory", "job"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    [usage] = [line for line in done.stderr.splitlines() if line.startswith("usage: make job JOB=<")]
    assert usage.split("<", 1)[1].split(">", 1)[0].split("|") == sorted(JOBS)


def test_given_a_campaign_scheduled_for_a_later_day_when_make_job_runs_campaigns_for_that_day_then_it_starts_and_reaches_each_member_once(
    stack, monkeypatch
):
    from chalicelib.settings import get_settings
    from chalicelib.store import audiences

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    phone = f"+86138{uuid.uuid4().int % 10**8:08d}"
    token = _member(stack, phone, consents={"sms_marketing": True})
    member_id = _me(stack, token)["member_id"]
    segment = f"seg_cli_{uuid.uuid4().hex[:8]}"
    # The analytics engine's part, done by hand: the segment's audience in the stack's bucket.
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.aws_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert get_settings().analytics_bucket == "huiyuan-local-analytics"
    now = datetime.now(ZoneInfo("UTC"))
    audiences.write(segment, [member_id], data_as_of=now, computed_at=now)
    send_at = datetime.combine(today + timedelta(days=3), datetime.min.time(), ZoneInfo("Asia/Shanghai")).replace(hour=12)
    body = {"name": "CLI", "segment_id": segment, "message": {"sms": "双十二 campaign"}, "points": 30, "send_at": send_at.isoformat()}
    created = requests.post(stack.url("/v1/admin/campaigns"), json=body, timeout=10)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign_id"]

    started = _job(stack, "campaigns", (today + timedelta(days=3)).isoformat())
    assert started["campaigns"]["started"] >= 1
    again = _job(stack, "campaigns", (today + timedelta(days=3)).isoformat())
    assert again["campaigns"]["started"] == 0
    assert _me(stack, token)["points"]["balance"] == 100 + 30
    assert len([m for m in messages(stack.outbox) if m["kind"] == "campaign" and m["to"] == phone]) == 1
    results = requests.get(stack.url(f"/v1/admin/campaigns/{campaign_id}"), timeout=10).json()["results"]
    assert results["complete"] and results["reached"] == 1 and results["points_granted"] == 30


def test_given_purchases_when_the_analytics_job_runs_then_an_operator_reads_kpis_and_scores_as_of_its_export(stack):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    phone = f"+86137{uuid.uuid4().int % 10**8:08d}"
    token = _member(stack, phone)
    member_id = _me(stack, token)["member_id"]
    bought = requests.post(
        stack.url("/v1/purchases"),
        json={"order_id": f"ANA-{uuid.uuid4()}", "phone": phone, "amount": 12000, "currency": "CNY"},
        headers={"x-api-key": "local-dev-key"},
        timeout=10,
    )
    assert bought.status_code == 201

    summary = _job(stack, "analytics-refresh", today)
    assert summary["analytics"]["completed"] is True and summary["analytics"]["figures"]["ActiveMembers"] >= 1, summary
    refresh = requests.get(stack.url("/v1/admin/analytics/refreshes/latest"), timeout=10).json()
    kpis = requests.get(stack.url("/v1/admin/analytics/kpis"), timeout=10).json()
    assert refresh["status"] == "completed" and kpis["data_as_of"] == refresh["data_as_of"]
    assert kpis["members"]["total"] >= 1 and kpis["purchases"]["orders"] >= 1
    scores = requests.get(stack.url(f"/v1/admin/members/{member_id}"), timeout=10).json()["analytics"]
    assert scores["data_as_of"] == refresh["data_as_of"] and scores["orders_window"] == 1 and scores["lifecycle_stage"] == "active"
    assert phone not in json.dumps(summary)


def test_given_a_wechat_pay_top_up_whose_notification_was_lost_when_make_job_sweeps_then_it_is_credited_once(stack):
    from tests.e2e.test_wechat_pay_concurrency import bound_member_order, fake_url, wallet

    member, out_trade_no = bound_member_order(stack, 6600)
    paid = requests.post(f"{fake_url(stack)}/fake/pay/{out_trade_no}", json={"times": 0}, timeout=30)
    assert paid.json()["answers"] == []  # paid at WeChat Pay, never notified
    assert wallet(stack, member.token)["balance"] == 0
    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()

    first = _job(stack, "wechat-pay-sweep", tomorrow)
    second = _job(stack, "wechat-pay-sweep", tomorrow)

    assert first["wechat_pay"].get("orders_credited", 0) >= 1 and first["wechat_pay"].get("unanswered", 0) == 0
    assert second["wechat_pay"].get("orders_credited", 0) == 0
    assert [(e["kind"], e["amount"]) for e in wallet(stack, member.token)["items"]] == [("topup", 6600)]
