"""The Athena adapter against moto: what it sends (moto's Athena runs nothing and answers canned
results, so the SQL itself is tested on DuckDB only: docs/analytics.md says what is untested)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.settings import get_settings
from chalicelib.store import analytics_engine, analytics_sql, table_exports
from chalicelib.store.analytics_engine import AthenaEngine, athena_literal

PARAMS = analytics_sql.FactsParams(
    date(2026, 11, 30), date(2025, 12, 1), "Asia/Shanghai", ("member", "silver", "gold"), 30, 60, 90, (("2026-11", date(2027, 12, 1)),)
)


def executions(aws: Any) -> list[dict[str, Any]]:
    athena = aws.client("athena")
    ids = athena.list_query_executions()["QueryExecutionIds"]
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]


def test_parameters_become_athena_literals_and_quotes_are_escaped() -> None:
    assert [athena_literal(v) for v in (7, True, date(2026, 11, 30), "o'brien")] == ["7", "true", "DATE '2026-11-30'", "'o''brien'"]


def test_a_query_runs_in_the_stage_workgroup_and_database_with_its_parameters(aws: Any) -> None:
    settings = get_settings()
    aws.client("athena").create_work_group(Name=settings.analytics_workgroup, Configuration={})
    AthenaEngine().run(analytics_sql.MEMBER_ANALYTICS, ["mbr_1"])
    [sent] = executions(aws)
    assert sent["Query"] == analytics_sql.MEMBER_ANALYTICS and sent["WorkGroup"] == settings.analytics_workgroup
    assert sent["QueryExecutionContext"]["Database"] == settings.analytics_database
    assert sent.get("ExecutionParameters", ["'mbr_1'"]) == ["'mbr_1'"]  # moto may drop them; Athena gets them


def test_a_build_registers_the_export_and_creates_member_facts_by_ctas_in_the_trino_dialect(aws: Any) -> None:
    settings = get_settings()
    aws.client("athena").create_work_group(Name=settings.analytics_workgroup, Configuration={})
    aws.client("glue").create_database(DatabaseInput={"Name": settings.analytics_database})
    now = datetime.now(UTC)
    export = table_exports.start_export(table_exports.new_export_id(now), now)
    while table_exports.export_status(export.export_arn) == "IN_PROGRESS":
        time.sleep(0.05)
    snapshot = AthenaEngine().build(export.export_id, now, PARAMS, now)
    suffix = export.export_id.lower().replace("-", "_")
    table = aws.client("glue").get_table(DatabaseName=settings.analytics_database, Name=f"export_items_{suffix}")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{settings.analytics_bucket}/{table_exports.data_prefix(export.export_id)}"
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    queries = [e["Query"] for e in executions(aws)]
    ctas = next(q for q in queries if q.startswith(f"CREATE TABLE member_facts_{suffix}"))
    assert f"external_location = 's3://{settings.analytics_bucket}/derived/{export.export_id}/member_facts/'" in ctas
    assert "ARRAY(VARCHAR)" in ctas and "VARCHAR[]" not in ctas  # Trino's spelling, not DuckDB's
    for name in ("ledger_days", "lot_balances"):  # the small tables the points and rewards KPIs read
        table_ctas = next(q for q in queries if q.startswith(f"CREATE TABLE {name}_{suffix}"))
        assert f"external_location = 's3://{settings.analytics_bucket}/derived/{export.export_id}/{name}/'" in table_ctas
        assert f"FROM export_items_{suffix}" in table_ctas  # this export's items, not the view's
    assert f"CREATE OR REPLACE VIEW member_facts AS SELECT * FROM member_facts_{suffix}" in queries
    assert snapshot.member_facts == f"derived/{export.export_id}/member_facts/" and analytics_engine.latest() is None  # published by build()


def test_a_query_inside_a_request_waits_at_most_its_cap_then_is_stopped(aws: Any) -> None:
    import boto3
    import pytest

    from chalicelib.store.analytics_engine import AnalyticsUnavailable
    from chalicelib.usecases.analytics import MEMBER_VIEW_QUERY_SECONDS

    assert MEMBER_VIEW_QUERY_SECONDS < 29  # the member view's query answers inside API Gateway's limit
    settings = get_settings()
    aws.client("athena").create_work_group(Name=settings.analytics_workgroup, Configuration={})

    def still_running(parsed: dict[str, Any], **_: Any) -> None:
        parsed["QueryExecution"]["Status"]["State"] = "RUNNING"  # a slow query (moto finishes at once)

    events = boto3._get_default_session().events
    events.register("after-call.athena.GetQueryExecution", still_running, unique_id="slow")
    began = time.monotonic()
    try:
        with pytest.raises(AnalyticsUnavailable, match="longer than"):
            AthenaEngine().run(analytics_sql.MEMBER_ANALYTICS, ["mbr_1"], timeout=0.5)
    finally:
        events.unregister("after-call.athena.GetQueryExecution", unique_id="slow")
    assert time.monotonic() - began < 5


def test_a_query_for_a_snapshot_reads_that_snapshots_tables_not_the_newest(aws: Any) -> None:
    """Given two builds, when a query asks for the older one, then Athena is sent the older
    build's own tables (the views follow the newest build)."""
    settings = get_settings()
    aws.client("athena").create_work_group(Name=settings.analytics_workgroup, Configuration={})
    now = datetime.now(UTC)
    older = analytics_engine.Snapshot("20261129T050000Z-aaaa1111", now, date(2026, 11, 29), date(2025, 11, 30), now, "derived/x/", "exports/x/")
    newer = analytics_engine.Snapshot("20261130T050000Z-bbbb2222", now, date(2026, 11, 30), date(2025, 12, 1), now, "derived/y/", "exports/y/")
    analytics_engine._publish(newer)
    AthenaEngine().query(analytics_sql.MEMBER_ANALYTICS, ["mbr_1"], snapshot=older)
    AthenaEngine().query(analytics_sql.POINTS_FLOW, [date(2025, 11, 30), date(2026, 11, 29)], snapshot=older)
    AthenaEngine().query(analytics_sql.MEMBER_ANALYTICS, ["mbr_1"])  # no snapshot: the newest build
    sent = sorted(e["Query"] for e in executions(aws))
    assert sum("FROM member_facts_20261129t050000z_aaaa1111 WHERE member_id = ?" in q for q in sent) == 1
    assert sum("FROM ledger_days_20261129t050000z_aaaa1111 WHERE" in q for q in sent) == 1
    assert sum("FROM member_facts_20261130t050000z_bbbb2222 WHERE member_id = ?" in q for q in sent) == 1
    assert not [q for q in sent if "FROM member_facts " in q or "FROM member_facts\n" in q]  # never the moving view
