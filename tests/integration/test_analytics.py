"""Analytics over HTTP: an operator refreshes, then reads KPIs and a member's scores (moto export, DuckDB)."""

from __future__ import annotations

from typing import Any

from chalicelib.usecases import analytics
from localstage.job import run
from tests.integration.conftest import Members, bearer
from tests.support.client import ApiClient


def shop(api: ApiClient, members: Members) -> dict[str, str]:
    """A: two purchases (200.00 + 300.00) and a coffee (500 points); B: one purchase of 100.00; C: none."""
    token_a, a = members.verified()
    _, b = members.verified()
    _, c = members.verified()
    for order, amount, who in (("o-a1", 20_000, a), ("o-a2", 30_000, a), ("o-b1", 10_000, b)):
        assert members.purchase(order, amount, member_id=who["member"]["member_id"]).status == 201
    redeemed = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token_a), "Idempotency-Key": "k-1"})
    assert redeemed.status == 201, redeemed.text
    return {"a": a["member"]["member_id"], "b": b["member"]["member_id"], "c": c["member"]["member_id"]}


def test_before_any_refresh_kpis_and_the_refresh_answer_409_analytics_not_ready(api: ApiClient) -> None:
    for path in ("/v1/admin/analytics/kpis", "/v1/admin/analytics/refreshes/latest"):
        reply = api.get(path)
        assert reply.status == 409 and reply.json()["code"] == "analytics_not_ready", reply.text


def test_an_operators_refresh_gives_kpis_counted_from_the_export_with_its_data_as_of(api: ApiClient, members: Members) -> None:
    ids = shop(api, members)
    started = api.post("/v1/admin/analytics/refreshes", {"reason": "monthly review"})
    assert started.status == 201, started.text  # the local stage builds in the request
    refresh = started.json()
    assert refresh["status"] == "completed" and refresh["data_as_of"] and refresh["started_by"] == "local-operator"
    kpis = api.get("/v1/admin/analytics/kpis").json()
    assert kpis["data_as_of"] == refresh["data_as_of"]
    assert kpis["members"]["total"] == 3 and kpis["members"]["active"] == 2
    assert kpis["members"]["by_lifecycle_stage"] == {"active": 2, "new": 1}
    assert kpis["members"]["active_by_tier"] == [{"tier": "member", "members": 2}]
    assert kpis["members"]["active_by_store"] == [{"store_id": "local-dev", "members": 2}]
    assert sum(w["members"] for w in kpis["members"]["new_by_week"]) == 3 and kpis["members"]["new_last_7_days"] == 3
    purchases = kpis["purchases"]
    assert (purchases["buyers"], purchases["repeat_buyers"], purchases["repeat_purchase_rate"]) == (2, 1, 0.5)
    assert (purchases["orders"], purchases["spend"], purchases["average_order_value"]) == (3, 60_000, 20_000)
    points = kpis["points"]
    # Issued: 3 welcome bonuses of 100 and 200 + 300 + 100 for the purchases; 500 redeemed.
    assert (points["issued"], points["redeemed"], points["redemptions"], points["redemption_rate"]) == (900, 500, 1, 0.5556)
    assert points["liability"] == 100 + 200 + 100
    assert sum(m["points"] for m in points["expiring_by_month"]) == 400
    assert [(r["reward_id"], r["redemptions"]) for r in kpis["top_rewards"]] == [("coffee", 1)]

    a = api.get(f"/v1/admin/members/{ids['a']}").json()["analytics"]
    assert a["data_as_of"] == refresh["data_as_of"]
    # Both bought today (r ties at 1); A twice and for more: the upper of two ranks is quintile 3.
    assert (a["r_score"], a["f_score"], a["m_score"], a["value_segment"], a["lifecycle_stage"]) == (1, 3, 3, "regular", "active")
    assert (a["orders_window"], a["spend_window"], a["home_store"]) == (2, 50_000, "local-dev")
    c = api.get(f"/v1/admin/members/{ids['c']}").json()["analytics"]
    assert (c["r_score"], c["value_segment"], c["lifecycle_stage"]) == (None, "none", "new")

    audit = api.get(f"/v1/admin/audit?day={kpis['as_of']}").json()["items"]
    assert [(e["action"], e["reason"]) for e in audit if e["action"] == "analytics.refresh"] == [("analytics.refresh", "monthly review")]
    assert api.get("/v1/admin/analytics/refreshes/latest").json()["status"] == "completed"


def test_a_refresh_while_one_runs_is_409_and_changes_nothing_then_the_job_sees_the_running_one_through(api: ApiClient, members: Members) -> None:
    shop(api, members)
    running = analytics.start_refresh("schedule", audited=False)  # the daily job's first step
    refused = api.post("/v1/admin/analytics/refreshes")
    assert refused.status == 409 and refused.json()["code"] == "refresh_running", refused.text
    latest = api.get("/v1/admin/analytics/refreshes/latest").json()
    assert (latest["refresh_id"], latest["status"]) == (running.refresh_id, "running")
    assert api.get("/v1/admin/analytics/kpis").status == 409
    day = api.get("/v1/admin/audit?day=" + latest["started_at"][:10]).json()["items"]
    assert not [e for e in day if e["action"] == "analytics.refresh"]

    summary: dict[str, Any] = run("analytics-refresh", None, False)
    assert summary["analytics"]["completed"] is True and summary["analytics"]["figures"]["ActiveMembers"] == 2, summary
    assert api.get("/v1/admin/analytics/kpis").json()["export_id"] == running.refresh_id
    again = api.post("/v1/admin/analytics/refreshes")
    assert again.status == 201 and again.json()["refresh_id"] != running.refresh_id


def test_a_refresh_body_with_unknown_fields_is_400_and_starts_nothing(api: ApiClient) -> None:
    reply = api.post("/v1/admin/analytics/refreshes", {"reason": "x", "force": True})
    assert reply.status == 400, reply.text
    assert api.get("/v1/admin/analytics/refreshes/latest").status == 409


def test_the_daily_refresh_puts_the_days_figures_in_the_metrics_the_dashboard_shows(api: ApiClient, members: Members, emf: Any) -> None:
    from tests.support.emf import metric_values

    shop(api, members)
    emf()  # what the purchases counted

    summary: dict[str, Any] = run("analytics-refresh", None, False)

    assert summary["analytics"]["completed"] is True, summary
    documents = emf()
    figures = {name: metric_values(documents, name, stage="local") for name in analytics.daily_figures(api.get("/v1/admin/analytics/kpis").json())}
    # A and B bought (active), three joined this week; 400 points outstanding; 500 of 900 redeemed; 1 of 2 buyers came back.
    assert figures == {
        "ActiveMembers": [2.0],
        "NewMembers": [3.0],
        "PointsLiability": [400.0],
        "RedemptionRatePercent": [56.0],
        "RepeatPurchaseRatePercent": [50.0],
    }
