"""Analytics: refresh (export the table, build member_facts, compute the KPIs) and read the results.

A refresh is one at a time (store/analytics_refreshes.py). It starts by asking DynamoDB for an
export, which takes minutes in AWS: the `analytics-refresh` job's unit checks it and, while it runs,
comes back in a minute as a delayed message on the jobs queue (jobs/specs.py); once the export is
COMPLETED it builds member_facts with the engine, computes the KPIs into a snapshot in the bucket,
and publishes the daily business figures as metrics. The KPI API reads that snapshot, never the
table; every answer carries `data_as_of`, the time of the export.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..domain import analytics as rules_of
from ..domain.clock import iso, today_in, utcnow
from ..domain.errors import AnalyticsNotReady, RefreshRunning
from ..domain.rules import ProgramRules
from ..observability import logger
from ..store import analytics_engine, analytics_refreshes, analytics_sql, job_queue, kpi_snapshots, table_exports
from ..store.analytics_engine import Snapshot
from ..store.models_admin import AnalyticsRefresh
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from .audit import Change, add_audit
from .operations import segments

# A refresh still "running" after this long is taken to have died (a crashed worker): another may start.
STALE_AFTER = timedelta(hours=6)


def refresh_view(refresh: AnalyticsRefresh) -> dict[str, Any]:
    return {
        "refresh_id": refresh.refresh_id,
        "status": refresh.status,
        "started_at": iso(refresh.started_at),
        "started_by": refresh.started_by,
        "data_as_of": iso(refresh.export_time) if refresh.export_time else None,
        "finished_at": iso(refresh.finished_at) if refresh.finished_at else None,
        "failure": refresh.failure,
    }


def start_refresh(started_by: str, *, audited: bool, reason: str | None = None) -> AnalyticsRefresh:
    """Claim the refresh (409 while another runs) and start the table's export. An operator's
    refresh is audited (`analytics.refresh`) in the transaction that claims it."""
    rules, now = load_rules(), utcnow()
    refresh_id = table_exports.new_export_id(now)

    def running(cancelled: Cancelled) -> None:
        if "refresh" in cancelled.failed:
            raise RefreshRunning("An analytics refresh is already running; its result will be in the KPIs when it completes")

    def attempt(uow: UnitOfWork) -> AnalyticsRefresh:
        refresh = analytics_refreshes.claim(uow, refresh_id, started_by, now, stale_before=now - STALE_AFTER)
        if audited:
            change = Change(started_by, "analytics.refresh", "analytics", refresh_id, None, {"status": "running"}, reason=reason)
            add_audit(uow, change, rules, now)
        uow.commit(explain=running)
        return refresh

    refresh = run(attempt)
    try:
        export = table_exports.start_export(refresh_id, now)
    except Exception as exc:
        analytics_refreshes.finish(refresh_id, "failed", utcnow(), failure=f"the export did not start: {type(exc).__name__}")
        raise
    analytics_refreshes.export_started(refresh, export.export_id, export.export_arn, export.export_time)
    refresh.export_id, refresh.export_arn, refresh.export_time = export.export_id, export.export_arn, export.export_time
    logger.info("analytics refresh started", extra={"refresh_id": refresh_id, "started_by": started_by})
    return refresh


@dataclass(frozen=True)
class Progress:
    refresh_id: str | None
    status: str  # running | completed | failed | none
    figures: dict[str, int]


def advance_refresh(*, wait_seconds: float, refresh_id: str | None = None) -> Progress:
    """The running refresh (`refresh_id`'s, if given) one step on: wait up to `wait_seconds` for its
    export; build and compute the KPIs once the export is COMPLETED."""
    refresh = analytics_refreshes.current()
    if refresh is None or refresh.status != "running" or (refresh_id and refresh.refresh_id != refresh_id):
        return Progress(refresh.refresh_id if refresh else None, refresh.status if refresh else "none", {})
    if refresh.export_arn is None or refresh.export_id is None or refresh.export_time is None:
        return Progress(refresh.refresh_id, "running", {})  # the export is being started
    deadline = time.monotonic() + wait_seconds
    status = table_exports.export_status(refresh.export_arn)
    while status == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = table_exports.export_status(refresh.export_arn)
    if status == "IN_PROGRESS":
        return Progress(refresh.refresh_id, "running", {})
    if status != "COMPLETED":
        analytics_refreshes.finish(refresh.refresh_id, "failed", utcnow(), failure=f"the export ended {status}")
        logger.warning("analytics export failed", extra={"refresh_id": refresh.refresh_id, "status": status})
        return Progress(refresh.refresh_id, "failed", {})
    try:
        build, kpis = build_and_compute(refresh.export_id, refresh.export_time, load_rules())
    except Exception as exc:
        logger.exception("analytics build failed", extra={"refresh_id": refresh.refresh_id})
        analytics_refreshes.finish(refresh.refresh_id, "failed", utcnow(), failure=f"the build failed: {type(exc).__name__}")
        return Progress(refresh.refresh_id, "failed", {})
    analytics_refreshes.finish(refresh.refresh_id, "completed", utcnow())
    segments.write_every_audience(build)  # every saved segment's members in the new build (docs/analytics.md)
    logger.info("analytics refresh completed", extra={"refresh_id": refresh.refresh_id, "data_as_of": kpis["data_as_of"]})
    return Progress(refresh.refresh_id, "completed", daily_figures(kpis))


def facts_params(rules: ProgramRules, data_as_of: datetime) -> analytics_sql.FactsParams:
    as_of = today_in(rules.zone, data_as_of)
    return analytics_sql.FactsParams(
        as_of=as_of,
        window_start=rules_of.window_start(as_of, rules.analytics_window_months),
        timezone=rules.timezone,
        tier_ids=tuple(t.id for t in rules.tiers),
        new_member_days=rules.new_member_days,
        at_risk_after_days=rules.at_risk_after_days,
        dormant_after_days=rules.dormant_after_days,
        lot_months=tuple(rules_of.unexpired_lot_months(as_of, rules.points_validity_months)),
    )


def build_and_compute(export_id: str, data_as_of: datetime, rules: ProgramRules) -> tuple[Snapshot, dict[str, Any]]:
    """The derived tables from the export, then the KPIs from them, saved: the build and its KPIs."""
    params = facts_params(rules, data_as_of)
    snapshot = analytics_engine.build(export_id, data_as_of, params, utcnow())
    kpis = compute_kpis(snapshot, params, rules)
    kpi_snapshots.write(export_id, kpis)
    return snapshot, kpis


def compute_kpis(snapshot: Snapshot, params: analytics_sql.FactsParams, rules: ProgramRules) -> dict[str, Any]:
    """Every KPI of docs/analytics.md, from one build's derived tables (each query reads one once)."""

    def q(sql: str, *args: object) -> list[dict[str, Any]]:
        return analytics_engine.query(sql, args, snapshot=snapshot)

    [members] = q(analytics_sql.MEMBER_KPIS)
    [flow] = q(analytics_sql.POINTS_FLOW, params.window_start, params.as_of)
    since = params.as_of - timedelta(weeks=rules_of.NEW_MEMBER_WEEKS)
    weeks = q(analytics_sql.NEW_MEMBERS_BY_WEEK, since, params.as_of)
    new_last_7_days = q(
        "SELECT count(*) AS n FROM member_facts WHERE joined_on > ? AND joined_on <= ?", params.as_of - timedelta(days=7), params.as_of
    )
    return {
        "data_as_of": iso(snapshot.data_as_of),
        "as_of": params.as_of.isoformat(),
        "window": {"months": rules.analytics_window_months, "from": params.window_start.isoformat(), "to": params.as_of.isoformat()},
        "export_id": snapshot.export_id,
        "computed_at": iso(utcnow()),
        "members": {
            "total": members["members"],
            "active": members["active_members"],
            "new_last_7_days": new_last_7_days[0]["n"],
            "active_by_tier": [{"tier": r["tier"], "members": r["members"]} for r in q(analytics_sql.ACTIVE_BY_TIER)],
            "active_by_store": [{"store_id": r["store_id"], "members": r["members"]} for r in q(analytics_sql.ACTIVE_BY_STORE)],
            "by_lifecycle_stage": {r["stage"]: r["members"] for r in q(analytics_sql.BY_LIFECYCLE_STAGE)},
            "by_value_segment": {r["segment"]: r["members"] for r in q(analytics_sql.BY_VALUE_SEGMENT)},
            "new_by_week": [{"week_of": r["week_of"].isoformat(), "members": r["members"]} for r in weeks],
        },
        "purchases": {
            "buyers": members["buyers"],
            "repeat_buyers": members["repeat_buyers"],
            "repeat_purchase_rate": rules_of.rate(members["repeat_buyers"], members["buyers"]),
            "orders": members["orders"],
            "spend": members["spend"],
            "average_order_value": members["spend"] // members["orders"] if members["orders"] else None,
        },
        "points": {
            "liability": members["points_liability"],
            "expiring_by_month": [
                {"earned_in": r["earned_in"], "expires_on": r["expires_on"].isoformat(), "points": r["points"]} for r in q(analytics_sql.EXPIRY_CURVE)
            ],
            "issued": flow["points_issued"],
            "redeemed": flow["points_redeemed"],
            "redemptions": flow["redemptions"],
            "redemption_rate": rules_of.rate(flow["points_redeemed"], flow["points_issued"]),
        },
        "top_rewards": q(analytics_sql.TOP_REWARDS, params.window_start, params.as_of),
    }


def daily_figures(kpis: dict[str, Any]) -> dict[str, int]:
    """The figures the dashboard shows each day (metrics, whole numbers; rates in percent)."""
    redemption, repeat = kpis["points"]["redemption_rate"], kpis["purchases"]["repeat_purchase_rate"]
    return {
        "ActiveMembers": kpis["members"]["active"],
        "NewMembers": kpis["members"]["new_last_7_days"],
        "PointsLiability": kpis["points"]["liability"],
        "RedemptionRatePercent": round(100 * redemption) if redemption is not None else 0,
        "RepeatPurchaseRatePercent": round(100 * repeat) if repeat is not None else 0,
    }


def latest_kpis() -> dict[str, Any]:
    kpis = kpi_snapshots.latest()
    if kpis is None:
        raise AnalyticsNotReady("No analytics refresh has completed yet: start one with POST /v1/admin/analytics/refreshes")
    return kpis


def current_refresh() -> dict[str, Any]:
    refresh = analytics_refreshes.current()
    if refresh is None:
        raise AnalyticsNotReady("No analytics refresh was ever started")
    return refresh_view(refresh)


MEMBER_VIEW_QUERY_SECONDS = 8.0


def member_analytics(member_id: str) -> dict[str, Any] | None:
    """A member's scores, value segment and lifecycle stage in the latest build, with its
    data_as_of; None before any build, when the member is not in it (joined since, or closed), or
    when the engine cannot answer (the member view never fails for it)."""
    try:
        snapshot = analytics_engine.latest()
        if snapshot is None:
            return None
        # Inside the operator's request (API Gateway answers within 29 s): a slower engine leaves the block out.
        rows = analytics_engine.query(analytics_sql.MEMBER_ANALYTICS, [member_id], snapshot=snapshot, timeout=MEMBER_VIEW_QUERY_SECONDS)
    except Exception:
        logger.exception("member analytics unavailable", extra={"member_id": member_id})
        return None
    if not rows:
        return None
    row = rows[0]
    return {
        "data_as_of": iso(snapshot.data_as_of),
        "r_score": row["r_score"],
        "f_score": row["f_score"],
        "m_score": row["m_score"],
        "value_segment": row["value_segment"],
        "lifecycle_stage": row["lifecycle_stage"],
        "orders_window": row["orders_window"],
        "spend_window": row["spend_window"],
        "last_purchase_on": row["last_purchase_on"].isoformat() if row["last_purchase_on"] else None,
        "home_store": row["home_store"],
    }


def give_up(refresh_id: str | None) -> None:
    """A refresh whose export never completed: failed, so the next one may start."""
    if refresh_id:
        analytics_refreshes.finish(refresh_id, "failed", utcnow(), failure="the export did not complete in time")


# The name and unit kind of the job that sees a refresh through (jobs/specs.py).
REFRESH_JOB, REFRESH_UNIT = "analytics-refresh", "refresh"
# A refresh whose export runs is checked again this much later, at most MAX_CHECKS times (4 hours)
# before it is given up; the local stage (moto exports at once) waits for it instead.
CHECK_DELAY_SECONDS = 60
MAX_CHECKS = 240
LOCAL_WAIT_SECONDS = 120.0


def request_refresh(actor: str, *, reason: str | None = None) -> tuple[dict[str, Any], bool]:
    """An operator's refresh (POST /v1/admin/analytics/refreshes): claimed and audited, the export
    started; the analytics-refresh job's worker builds once the export completes (a check queued a
    minute later, then every minute). In the local stage, where moto exports at once, the request
    itself waits and builds. Returns the refresh as it stands and whether it is done."""
    from ..settings import get_settings

    refresh = start_refresh(actor, audited=True, reason=reason)
    if get_settings().is_local:
        advance_refresh(wait_seconds=LOCAL_WAIT_SECONDS, refresh_id=refresh.refresh_id)
    else:
        as_of = today_in(load_rules().zone, utcnow()).isoformat()
        unit = {"kind": REFRESH_UNIT, "refresh_id": refresh.refresh_id, "checks": 0, "delay_seconds": CHECK_DELAY_SECONDS}
        job_queue.start_units(REFRESH_JOB, as_of, [unit], now=utcnow(), run_id=f"{refresh.refresh_id}-operator")
    after = analytics_refreshes.current()
    view = refresh_view(after if after is not None and after.refresh_id == refresh.refresh_id else refresh)
    return view, view["status"] != "running"
