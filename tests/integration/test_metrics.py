"""Business metrics as CloudWatch receives them: EMF lines on stdout (powertools Metrics).

The dashboard (infra/monitoring.py) reads these names, in namespace `Huiyuan`
with the dimensions `service` and `stage`; a metric the code stops writing, or
writes under other dimensions, is a blank graph for the operators.
"""

from __future__ import annotations

import json

from localstage.job import run
from tests.integration.conftest import bearer
from tests.integration.test_jobs import born_today, today
from tests.support.emf import metric_values


def test_given_a_purchase_then_points_earned_is_counted_under_the_service_and_stage_without_personal_data(api, members, emf):
    _token, body = members.verified()
    phone = body["member"]["phone"]
    emf()

    reply = members.purchase("metrics-1", 12850, phone=phone)

    assert reply.status == 201
    documents = emf()
    assert metric_values(documents, "PointsEarned", service="huiyuan", stage="local") == [128]
    assert metric_values(documents, "Purchases", service="huiyuan", stage="local") == [1]
    assert phone not in json.dumps(documents) and phone.removeprefix("+86") not in json.dumps(documents)


def test_given_a_purchase_refused_by_the_purchase_rules_then_nothing_is_counted(api, members, emf):
    _token, body = members.verified()
    member_id = body["member"]["member_id"]
    assert api.post(f"/v1/admin/members/{member_id}/freeze", {"reason": "suspected fraud"}).status == 200
    emf()

    reply = members.purchase("metrics-2", 12850, member_id=member_id)

    assert reply.status == 403 and reply.json()["code"] == "member_frozen"
    documents = emf()
    assert metric_values(documents, "Purchases") == [] and metric_values(documents, "PointsEarned") == []


def test_given_a_redemption_the_member_cannot_afford_then_it_is_counted_as_rejected_not_redeemed(api, members, emf):
    token, _ = members.verified()
    emf()

    reply = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k"})

    assert reply.status == 409
    documents = emf()
    assert metric_values(documents, "RedemptionsRejected", service="huiyuan", stage="local") == [1]
    assert metric_values(documents, "PointsRedeemed") == []


def test_given_a_job_run_then_its_counters_carry_the_job_as_a_dimension(api, members, emf):
    members.verified(birthday=born_today(), consents={"sms_marketing": True})
    emf()

    result = run("birthday-bonus", today().isoformat(), False)

    assert result["points_moved"] == 200
    documents = emf()
    assert sum(metric_values(documents, "JobPointsMoved", job="birthday-bonus", stage="local", service="huiyuan")) == 200
    assert sum(metric_values(documents, "JobAffected", job="birthday-bonus")) == 1
    assert metric_values(documents, "JobPointsMoved", job="expire-points") == []
