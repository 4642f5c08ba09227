"""The engine port over a real (moto) export of the table: export, build member_facts, query."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.store import analytics_engine, analytics_sql, table_exports
from tests.integration.conftest import Members


def wait_for(export: table_exports.TableExport) -> None:
    deadline = time.monotonic() + 30
    while table_exports.export_status(export.export_arn) == "IN_PROGRESS":
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.05)
    assert table_exports.export_status(export.export_arn) == "COMPLETED"


def test_nothing_to_read_before_the_first_build(aws: Any) -> None:
    assert analytics_engine.latest() is None
    with pytest.raises(analytics_engine.AnalyticsUnavailable):
        analytics_engine.query("SELECT count(*) AS n FROM member_facts")


def test_an_export_of_the_table_builds_member_facts_the_engine_answers_from(aws: Any, members: Members) -> None:
    _, buyer = members.verified()
    members.verified()
    assert members.purchase("o-1", 12_000, member_id=buyer["member"]["member_id"]).status == 201
    now = datetime.now(UTC)
    export = table_exports.start_export(table_exports.new_export_id(now), now)
    wait_for(export)
    assert table_exports.data_files(export.export_id)
    today = now.date()
    params = analytics_sql.FactsParams(today, date(today.year - 1, today.month, 1), "UTC", ("member", "silver", "gold"), 30, 60, 90)
    snapshot = analytics_engine.build(export.export_id, now, params, now)
    assert analytics_engine.latest() == snapshot
    rows = analytics_engine.query("SELECT member_id, orders_window, spend_window, r_score, lifecycle_stage FROM member_facts ORDER BY 2 DESC")
    assert len(rows) == 2
    bought = {"member_id": buyer["member"]["member_id"], "orders_window": 1, "spend_window": 12_000, "r_score": 1, "lifecycle_stage": "active"}
    assert rows[0] == bought
    assert analytics_engine.query("SELECT count(*) AS n FROM member_facts WHERE member_id = ?", [buyer["member"]["member_id"]]) == [{"n": 1}]
