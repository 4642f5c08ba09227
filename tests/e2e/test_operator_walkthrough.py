"""docs/analytics.md's walk-through over HTTP against the running local stack: an operator
refreshes the analytics, reads the KPIs, saves the segment "high-value, not bought in 60 days,
may get a marketing SMS" (`make job JOB=segment-audiences` counts it), previews it, dry-runs and launches a coupon campaign with a 10% control
group (`make job JOB=campaigns` does its units), reads its results and outcomes, and sends the
same members a survey.

The stack is shared with every other e2e test, so the segment also asks for an operator tag only
this test's members carry: the counts below are this test's, whatever else the table holds.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.books import stack_table
from tests.e2e.factories import TIMEOUT, merchant_headers, new_order_id, new_phone, signed_in_member, signup, verify
from tests.support.outbox import last_code
from tests.support.stack import run_module

pytestmark = pytest.mark.e2e

OPERATOR = {"X-Operator": "li.na"}


def _job(stack, job: str) -> dict:
    done = run_module("localstage.job", job, "--state-dir", str(stack.state_dir), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout[done.stdout.index("{\n") :])


def _member(stack, *, sms: bool) -> tuple[str, str]:
    phone = new_phone()
    assert signup(stack, phone, "王芳", consents={"sms_marketing": sms}).status_code == 202
    verified = verify(stack, phone, last_code(stack.outbox, phone))
    assert verified.status_code == 200, verified.text
    return verified.json()["member"]["member_id"], verified.json()["access_token"]


def _buy(stack, member_id: str, amount: int, days_ago: int = 0) -> None:
    order_id = new_order_id()
    body = {"order_id": order_id, "member_id": member_id, "amount": amount, "currency": "CNY"}
    reply = requests.post(stack.url("/v1/purchases"), json=body, headers=merchant_headers(), timeout=TIMEOUT)
    assert reply.status_code == 201, reply.text
    if days_ago:  # the API credits a purchase the day it is reported: back-dated in the table, as the doc's walk-through
        client, table = stack_table(stack)
        when = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
        client.update_item(
            TableName=table,
            Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"}},
            UpdateExpression="SET created_at = :c",
            ExpressionAttributeValues={":c": {"S": when}},
            ConditionExpression="attribute_exists(pk)",
        )


def _declare_tag(stack, tag: str) -> None:
    rules = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
    rules["member_tags"] = [*rules["member_tags"], {"id": tag, "name": "walk-through"}]
    reply = requests.put(stack.url("/v1/admin/rules"), json={"rules": rules, "reason": "e2e walk-through tag"}, headers=OPERATOR, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text


def _tag(stack, member_id: str, tag: str) -> None:
    reply = requests.post(
        stack.url(f"/v1/admin/members/{member_id}/tags"), json={"add": [tag], "reason": "e2e walk-through"}, headers=OPERATOR, timeout=TIMEOUT
    )
    assert reply.status_code == 200, reply.text


def test_given_lapsed_big_spenders_when_an_operator_segments_them_and_sends_a_coupon_then_each_step_shows_what_the_doc_says(stack):
    tag = f"wk{uuid.uuid4().hex[:8]}"
    _declare_tag(stack, tag)
    # Two bought often and much 90 and 75 days ago (the second refused SMS marketing); one
    # bought as often and as much this week; seven bought once, a little, this week (scores are quintiles over
    # the buyers, ties sharing the lower one: the big spenders need smaller buyers to rank above).
    lapsed_sms, lapsed_token = _member(stack, sms=True)
    lapsed_no_sms, _ = _member(stack, sms=False)
    recent, _ = _member(stack, sms=True)
    small = [_member(stack, sms=True)[0] for _ in range(7)]
    for _ in range(8):
        _buy(stack, lapsed_sms, 60000, days_ago=90)
        _buy(stack, lapsed_no_sms, 60000, days_ago=75)
        _buy(stack, recent, 60000)
    for days_ago, member_id in enumerate(small):
        _buy(stack, member_id, 1000, days_ago=1 + days_ago)
    for member_id in (lapsed_sms, lapsed_no_sms, recent, *small):
        _tag(stack, member_id, tag)

    # Refresh, then the KPIs carry the refresh's data time.
    refreshed = requests.post(stack.url("/v1/admin/analytics/refreshes"), json={"reason": "weekly review"}, headers=OPERATOR, timeout=120)
    assert refreshed.status_code == 201, refreshed.text
    assert refreshed.json()["status"] == "completed"
    data_as_of = refreshed.json()["data_as_of"]
    kpis = requests.get(stack.url("/v1/admin/analytics/kpis"), timeout=TIMEOUT).json()
    assert kpis["data_as_of"] == data_as_of
    assert kpis["members"]["by_value_segment"]["at_risk"] >= 2 and kpis["purchases"]["orders"] >= 31

    # 1. The segment: F >= 4, M >= 4, no purchase in 60 days (and this test's tag).
    definition = {"tags": {"all_of": [tag]}, "f_score": {"min": 4}, "m_score": {"min": 4}, "last_purchase": {"not_within_days": 60}}
    saved = requests.post(stack.url("/v1/admin/segments"), json={"name": "高价值 60 天未购", "definition": definition}, headers=OPERATOR, timeout=60)
    assert saved.status_code == 202 and saved.json()["status"] == "computing", saved.text
    segment_id = saved.json()["segment_id"]
    computing = requests.post(stack.url(f"/v1/admin/segments/{segment_id}/preview"), timeout=60)
    assert computing.status_code == 409 and computing.json()["code"] == "segment_computing", computing.text
    _job(stack, "segment-audiences")  # the queued count (in the cloud: the jobs queue's worker)
    shown = requests.get(stack.url(f"/v1/admin/segments/{segment_id}"), timeout=TIMEOUT).json()
    assert shown["status"] == "ready" and shown["audience"]["size"] == 2 and shown["audience"]["data_as_of"] == data_as_of

    # 2. Its preview: the two lapsed big spenders, at_risk (valuable, but not recent), no phone.
    preview = requests.post(stack.url(f"/v1/admin/segments/{segment_id}/preview"), timeout=60)
    assert preview.status_code == 200, preview.text
    assert preview.json()["size"] == 2 and preview.json()["empty"] is False
    assert {m["member_id"] for m in preview.json()["sample"]} == {lapsed_sms, lapsed_no_sms}
    assert {m["value_segment"] for m in preview.json()["sample"]} == {"at_risk"}
    assert "+86" not in preview.text

    # 3. Only those who may get a marketing SMS: version 2, its audience written again.
    replaced = requests.put(
        stack.url(f"/v1/admin/segments/{segment_id}"),
        json={"name": "高价值 60 天未购 (可短信)", "definition": {**definition, "consents": ["sms_marketing"]}},
        headers=OPERATOR,
        timeout=60,
    )
    assert replaced.status_code == 202 and replaced.json()["version"] == 2, replaced.text
    _job(stack, "segment-audiences")
    shown = requests.get(stack.url(f"/v1/admin/segments/{segment_id}"), timeout=TIMEOUT).json()
    assert (shown["status"], shown["audience"]["size"]) == ("ready", 1)

    # 4. A coupon with a 10% control group: the dry run writes nothing, then the launch.
    message = {"sms": "好久不见，送您一张咖啡券"}
    body = {"name": "高价值回归券", "segment_id": segment_id, "message": message, "coupon_reward_id": "coffee", "holdout_percent": 10}
    dry = requests.post(stack.url("/v1/admin/campaigns"), json={**body, "dry_run": True}, headers=OPERATOR, timeout=60)
    assert dry.status_code == 200, dry.text
    would = dry.json()["would"]
    assert dry.json()["audience"]["count"] == 1 and would["examined"] == 1
    assert would["reached"] + would["control"] == 1 and would["coupons_issued"] == would["reached"]
    assert would["sent"] + would["deferred"] == would["reached"]  # deferred in quiet hours
    coupons = requests.get(stack.url("/v1/me/coupons"), headers={"authorization": f"Bearer {lapsed_token}"}, timeout=TIMEOUT).json()["items"]
    assert coupons == []

    launched = requests.post(stack.url("/v1/admin/campaigns"), json=body, headers=OPERATOR, timeout=60)
    assert launched.status_code == 201, launched.text
    campaign_id = launched.json()["campaign_id"]
    assert launched.json()["status"] == "running" and launched.json()["audience"]["count"] == 1
    _job(stack, "campaigns")
    results = requests.get(stack.url(f"/v1/admin/campaigns/{campaign_id}"), timeout=TIMEOUT).json()["results"]
    assert results["complete"] is True and results["examined"] == 1
    assert results["reached"] + results["control"] == 1 and results["coupons_issued"] == results["reached"]
    coupons = requests.get(stack.url("/v1/me/coupons"), headers={"authorization": f"Bearer {lapsed_token}"}, timeout=TIMEOUT).json()["items"]
    assert [c["kind"] for c in coupons] == ["campaign"] * results["reached"]

    # The member comes back: uses the coupon (if they got one) and buys; the outcomes count it.
    for coupon in coupons:
        redemption = {"redemption_id": f"wk-{uuid.uuid4().hex}"}
        used = requests.post(stack.url(f"/v1/coupons/{coupon['code']}/redemptions"), json=redemption, headers=merchant_headers(), timeout=TIMEOUT)
        assert used.status_code == 201, used.text
    _buy(stack, lapsed_sms, 32000)
    asked = requests.post(stack.url(f"/v1/admin/campaigns/{campaign_id}/outcomes"), headers=OPERATOR, timeout=60)
    assert asked.status_code == 202, asked.text
    _job(stack, "campaigns")
    outcomes = requests.get(stack.url(f"/v1/admin/campaigns/{campaign_id}"), timeout=TIMEOUT).json()["outcomes"]
    group = "recipients" if results["reached"] else "control"
    assert outcomes["complete"] is True
    assert outcomes[group] == {"members": 1, "purchasers": 1, "purchases": 1, "purchase_rate": 1.0}
    assert outcomes["coupons_redeemed"] == results["reached"]

    # A survey to the same segment: published to its audience, answered once, the results counted.
    now = datetime.now(UTC)
    survey = {
        "title": "好久不见",
        "questions": [
            {
                "question_id": "why",
                "kind": "single_choice",
                "text": "最近少来的原因？",
                "options": [{"option_id": "moved", "label": "搬家"}, {"option_id": "price", "label": "价格"}],
            },
            {"question_id": "score", "kind": "rating", "text": "推荐我们吗？", "scale": "0-10"},
        ],
        "target": "segment",
        "segment_id": segment_id,
        "opens_at": (now - timedelta(minutes=5)).isoformat(),
        "closes_at": (now + timedelta(days=14)).isoformat(),
        "reward": {"points": 50},
    }
    created = requests.post(stack.url("/v1/admin/surveys"), json=survey, headers=OPERATOR, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    survey_id = created.json()["survey_id"]
    published = requests.post(stack.url(f"/v1/admin/surveys/{survey_id}/publish"), headers=OPERATOR, timeout=60)
    assert published.status_code == 200, published.text
    assert published.json()["audience"]["count"] == 1
    _job(stack, "survey-invitations")
    outsider = signed_in_member(stack)
    not_invited = requests.get(stack.url(f"/v1/me/surveys/{survey_id}"), headers={"authorization": f"Bearer {outsider.token}"}, timeout=TIMEOUT)
    assert not_invited.status_code == 404
    answer = {"answers": {"why": "moved", "score": 8}}
    member_headers = {"authorization": f"Bearer {lapsed_token}"}
    answered = requests.post(stack.url(f"/v1/me/surveys/{survey_id}/responses"), json=answer, headers=member_headers, timeout=TIMEOUT)
    assert answered.status_code == 201, answered.text
    assert answered.json()["reward"]["points"] == 50
    again = requests.post(stack.url(f"/v1/me/surveys/{survey_id}/responses"), json=answer, headers=member_headers, timeout=TIMEOUT)
    assert again.status_code == 409 and again.json()["code"] == "already_answered"
    read = requests.get(stack.url(f"/v1/admin/surveys/{survey_id}"), timeout=TIMEOUT).json()["results"]
    assert read["responses"] == 1
    why, score = read["questions"]
    assert [o["count"] for o in why["options"]] == [1, 0] and score["mean"] == 8.0
