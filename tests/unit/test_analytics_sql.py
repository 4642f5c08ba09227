"""The analytics SQL on DuckDB over small hand-made exports whose answers are counted by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from chalicelib.store import analytics_sql as sql
from chalicelib.store.analytics_engine import DuckDBEngine
from tests.support import analytics as ex

AS_OF = date(2026, 11, 30)
LOT_MONTHS = (("2026-10", date(2027, 11, 1)), ("2026-11", date(2027, 12, 1)))
PARAMS = sql.FactsParams(AS_OF, date(2025, 12, 1), "Asia/Shanghai", ("member", "silver", "gold"), 30, 60, 90, LOT_MONTHS)


def run(tmp_path: Path, items: list[dict[str, Any]], statement: str, params: list[object] | None = None) -> list[dict[str, Any]]:
    data = ex.write_export(tmp_path / "export" / "data.json.gz", items)
    with DuckDBEngine(cache_root=tmp_path)._connect([data], None) as connection:
        for name, select in sql.derived_selects(PARAMS).items():
            connection.execute(f"CREATE TABLE {name} AS {sql.duckdb_dialect(select)}")
        cursor = connection.execute(sql.duckdb_dialect(statement), params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def facts(tmp_path: Path, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["member_id"]: row for row in run(tmp_path, items, "SELECT * FROM member_facts")}


@pytest.fixture
def ten_buyers() -> Iterator[list[dict[str, Any]]]:
    """m0..m9: m<i> bought i+1 times (100.00 each), the last time i days before AS_OF."""
    items: list[dict[str, Any]] = []
    for i in range(10):
        items.append(ex.member(f"m{i}", date(2025, 1, 1), has_purchased=True, last_activity_on=AS_OF.isoformat()))
        for n in range(i + 1):
            items.append(ex.order(f"o{i}-{n}", f"m{i}", date(2026, 11, 30 - i) if n == 0 else date(2026, 6, 1), 10_000))
    yield items


def test_member_facts_has_exactly_the_promised_columns_and_types(tmp_path: Path) -> None:
    data = ex.write_export(tmp_path / "e.json.gz", [ex.member("a", date(2026, 1, 1))])
    with DuckDBEngine(cache_root=tmp_path)._connect([data], None) as connection:
        cursor = connection.execute(sql.duckdb_dialect(sql.member_facts_select(PARAMS)))
        assert [(d[0], str(d[1])) for d in cursor.description] == list(sql.MEMBER_FACTS_COLUMNS)


def test_quintiles_split_ten_buyers_two_by_two_and_the_top_fifth_is_high_value(tmp_path: Path, ten_buyers: list[dict[str, Any]]) -> None:
    rows = facts(tmp_path, ten_buyers)
    # m9 bought most (10 orders, 1,000.00) but longest ago (9 days): f = m = 5, r = 1.
    assert [rows[f"m{i}"]["f_score"] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [rows[f"m{i}"]["m_score"] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [rows[f"m{i}"]["r_score"] for i in range(10)] == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert rows["m9"]["spend_window"] == 100_000 and rows["m9"]["orders_window"] == 10
    assert [rows[f"m{i}"]["value_segment"] for i in range(10)] == ["regular"] * 6 + ["at_risk"] * 4
    assert rows["m5"]["last_purchase_on"] == date(2026, 11, 25)


def test_ties_share_the_lower_quintile(tmp_path: Path) -> None:
    items = []
    for i in range(5):
        items += [ex.member(f"t{i}", date(2025, 1, 1)), ex.order(f"o{i}", f"t{i}", date(2026, 11, 1), 5_000)]
    rows = facts(tmp_path, items)
    assert {(r["r_score"], r["f_score"], r["m_score"]) for r in rows.values()} == {(1, 1, 1)}


def test_refunds_net_out_and_a_full_refund_is_no_purchase(tmp_path: Path) -> None:
    rows = facts(
        tmp_path,
        [
            ex.member("a", date(2025, 1, 1)),
            ex.order("o1", "a", date(2026, 11, 1), 10_000, refunded=2_500),
            ex.order("o2", "a", date(2026, 11, 20), 8_000, refunded=8_000, store="s9"),
        ],
    )
    a = rows["a"]
    assert (a["orders_window"], a["spend_window"], a["last_purchase_on"], a["stores"]) == (1, 7_500, date(2026, 11, 1), ["s1"])


def test_the_window_leaves_older_orders_out_of_scores_but_not_out_of_the_last_purchase(tmp_path: Path) -> None:
    rows = facts(tmp_path, [ex.member("old", date(2024, 1, 1)), ex.order("o1", "old", date(2025, 11, 30), 10_000)])
    old = rows["old"]
    assert (old["orders_window"], old["spend_window"], old["r_score"], old["value_segment"]) == (0, 0, None, "none")
    assert old["last_purchase_on"] == date(2025, 11, 30) and old["home_store"] is None and old["stores"] == []


def test_home_store_is_where_most_orders_were_and_stores_lists_each_once(tmp_path: Path) -> None:
    items = [ex.member("a", date(2025, 1, 1))]
    items += [ex.order(f"x{n}", "a", date(2026, 10, n + 1), 1_000, store="s2") for n in range(2)]
    items += [ex.order("y", "a", date(2026, 10, 9), 1_000, store="s1")]
    a = facts(tmp_path, items)["a"]
    assert (a["home_store"], a["stores"]) == ("s2", ["s1", "s2"])


def test_closed_and_erased_members_are_left_out(tmp_path: Path) -> None:
    joined = date(2025, 1, 1)
    rows = facts(tmp_path, [ex.member("open", joined), ex.member("closed", joined, status="closed"), ex.member("gone", joined, erased=True)])
    assert set(rows) == {"open"}


def test_lifecycle_stage_follows_the_rules_days(tmp_path: Path) -> None:
    rows = facts(
        tmp_path,
        [
            ex.member("new", date(2026, 11, 1)),  # 29 days, no purchase
            ex.member("joined_30_days_ago", date(2026, 10, 31)),  # idle 30 days: active
            ex.member("idle_60", date(2025, 1, 1), has_purchased=True, last_activity_on="2026-10-01"),
            ex.member("idle_90", date(2025, 1, 1), has_purchased=True, last_activity_on="2026-09-01"),
            ex.member("bought_today", date(2026, 11, 30), has_purchased=True, last_activity_on="2026-11-30"),
        ],
    )
    assert {k: v["lifecycle_stage"] for k, v in rows.items()} == {
        "new": "new",
        "joined_30_days_ago": "active",
        "idle_60": "at_risk",
        "idle_90": "dormant",
        "bought_today": "active",
    }


def test_tier_is_the_best_of_held_override_and_a_running_plan(tmp_path: Path) -> None:
    rows = facts(
        tmp_path,
        [
            ex.member("held", date(2025, 1, 1), tier="silver"),
            ex.member("override", date(2025, 1, 1), tier="member", tier_override="gold"),
            ex.member("plan", date(2025, 1, 1), plan={"tier": "silver", "ends_on": "2026-12-31"}),
            ex.member("plan_over", date(2025, 1, 1), plan={"tier": "gold", "ends_on": "2026-11-29"}),
            ex.member("floor_below", date(2025, 1, 1), tier="gold", tier_override="silver"),
        ],
    )
    expected = {"held": "silver", "override": "gold", "plan": "silver", "plan_over": "member", "floor_below": "gold"}
    assert {k: v["tier"] for k, v in rows.items()} == expected


def test_personal_fields_become_facts_only(tmp_path: Path) -> None:
    a = facts(
        tmp_path,
        [
            ex.member(
                "a",
                date(2025, 1, 1),
                birthday="1990-05-17",
                operator_tags={"vip", "staff"},
                consents={"sms_marketing": True, "email_marketing": False, "push": True},
            )
        ],
    )["a"]
    assert (a["birthday_month"], sorted(a["operator_tags"])) == (5, ["staff", "vip"])
    assert (a["consent_sms_marketing"], a["consent_email_marketing"], a["consent_push"]) == (True, False, True)
    assert "phone" not in a and "name" not in a


def test_member_kpis_count_repeat_buyers_spend_and_liability(tmp_path: Path) -> None:
    items = [
        ex.member("a", date(2025, 1, 1), balance=300, has_purchased=True, last_activity_on="2026-11-20"),
        ex.member("b", date(2025, 1, 1), balance=200, has_purchased=True, last_activity_on="2026-11-20"),
        ex.member("c", date(2025, 1, 1), balance=50),
        ex.member("x", date(2025, 1, 1), balance=999, status="closed"),
        ex.order("a1", "a", date(2026, 11, 1), 10_000),
        ex.order("a2", "a", date(2026, 11, 20), 5_000),
        ex.order("b1", "b", date(2026, 11, 20), 6_000),
    ]
    [row] = run(tmp_path, items, sql.MEMBER_KPIS)
    assert row == {"members": 3, "active_members": 2, "buyers": 2, "repeat_buyers": 1, "orders": 3, "spend": 21_000, "points_liability": 550}


def test_points_flow_counts_the_window_only(tmp_path: Path) -> None:
    items = [
        ex.member("a", date(2025, 1, 1)),
        ex.ledger("a", "1", "earn", 400, date(2026, 11, 1)),
        ex.ledger("a", "2", "welcome", 100, date(2026, 1, 1)),
        ex.ledger("a", "3", "redeem", -150, date(2026, 11, 2)),
        ex.ledger("a", "4", "expire", -20, date(2026, 11, 3)),
        ex.ledger("a", "5", "earn", 9_999, date(2025, 11, 30)),  # before the window
    ]
    [row] = run(tmp_path, items, sql.POINTS_FLOW, [PARAMS.window_start, AS_OF])
    assert row == {"points_issued": 500, "points_redeemed": 150, "redemptions": 1}


def test_expiry_curve_sums_what_is_left_per_lot_month(tmp_path: Path) -> None:
    items = [
        ex.member("a", date(2025, 1, 1), lots={"2026-10": 200, "2026-11": 300}),
        ex.member("b", date(2025, 1, 1), lots={"2026-11": 5}),
        ex.member("x", date(2025, 1, 1), status="closed", lots={"2026-11": 1_000}),
    ]
    assert run(tmp_path, items, sql.EXPIRY_CURVE) == [
        {"earned_in": "2026-10", "expires_on": date(2027, 11, 1), "points": 200},
        {"earned_in": "2026-11", "expires_on": date(2027, 12, 1), "points": 305},
    ]


def test_top_rewards_by_coupons_bought_in_the_window(tmp_path: Path) -> None:
    items = [
        ex.reward("tea", "Tea", 100),
        ex.reward("cake", "Cake", 300),
        ex.coupon("C1", "a", "tea", date(2026, 11, 1)),
        ex.coupon("C2", "b", "tea", date(2026, 11, 2)),
        ex.coupon("C3", "b", "cake", date(2026, 11, 3)),
        ex.coupon("C4", "b", "cake", date(2025, 1, 3)),  # before the window
    ]
    assert run(tmp_path, items, sql.TOP_REWARDS, [PARAMS.window_start, AS_OF]) == [
        {"reward_id": "tea", "name": "Tea", "redemptions": 2},
        {"reward_id": "cake", "name": "Cake", "redemptions": 1},
    ]


def test_new_members_per_week_start_on_mondays(tmp_path: Path) -> None:
    items = [ex.member(m, day) for m, day in (("a", date(2026, 11, 23)), ("b", date(2026, 11, 29)), ("c", AS_OF), ("d", date(2026, 1, 1)))]
    rows = run(tmp_path, items, sql.NEW_MEMBERS_BY_WEEK, [date(2026, 9, 7), AS_OF])
    assert rows == [{"week_of": date(2026, 11, 23), "members": 2}, {"week_of": date(2026, 11, 30), "members": 1}]


def test_a_day_is_the_program_time_day() -> None:
    # 2026-11-30 23:30 in Shanghai is 15:30 UTC the same day; 00:30 is 16:30 UTC the day before.
    assert ex.stamp(date(2026, 11, 30), 0).startswith("2026-11-29T16:00")


def test_duckdb_dialect_translates_two_spellings_only() -> None:
    assert sql.duckdb_dialect("CAST(x AS ARRAY(VARCHAR)) json_extract_scalar(item, '$.lots.M[\"2026-11\"].N')") == (
        "CAST(x AS VARCHAR[]) json_extract_scalar(item, '$.lots.M.\"2026-11\".N')"
    )


def test_the_recent_frequent_big_spenders_are_high_value(tmp_path: Path) -> None:
    items: list[dict[str, Any]] = []
    for i in range(10):  # m<i>: i+1 orders of 100.00, the last 9-i days before AS_OF
        items.append(ex.member(f"m{i}", date(2025, 1, 1)))
        items += [ex.order(f"o{i}-{n}", f"m{i}", date(2026, 11, 21 + i) if n == 0 else date(2026, 6, 1), 10_000) for n in range(i + 1)]
    rows = facts(tmp_path, items)
    assert [rows[f"m{i}"]["value_segment"] for i in range(10)] == ["regular"] * 6 + ["high_value"] * 4
    assert (rows["m9"]["r_score"], rows["m9"]["f_score"], rows["m9"]["m_score"]) == (5, 5, 5)


def test_ledger_days_keeps_one_row_per_day_and_kind_and_no_member(tmp_path: Path) -> None:
    items = [
        ex.member("a", date(2025, 1, 1)),
        ex.ledger("a", "1", "earn", 400, date(2026, 11, 1)),
        ex.ledger("a", "2", "earn", 100, date(2026, 11, 1)),
        ex.ledger("a", "3", "redeem", -150, date(2026, 11, 1)),
        ex.reward("tea", "Tea", 100),
        ex.coupon("C1", "a", "tea", date(2026, 11, 1)),
    ]
    rows = run(tmp_path, items, "SELECT * FROM ledger_days ORDER BY source, kind")
    assert [(r["source"], r["day"], r["kind"], r["reward_id"], r["entries"], r["points_in"], r["points_net"]) for r in rows] == [
        ("coupon", date(2026, 11, 1), None, "tea", 1, 0, 0),
        ("ledger", date(2026, 11, 1), "earn", None, 2, 500, 500),
        ("ledger", date(2026, 11, 1), "redeem", None, 1, 0, -150),
        ("reward", None, None, "tea", 1, 0, 0),
    ]
    assert "member_id" not in rows[0]  # days and sums only: nothing about a member


def test_no_kpi_reads_the_raw_export() -> None:
    kpis = [getattr(sql, name) for name in dir(sql) if name.isupper() and isinstance(getattr(sql, name), str) and "SELECT" in getattr(sql, name)]
    assert len(kpis) >= 10 and not [k for k in kpis if "export_items" in k]


def test_lot_balances_without_unexpired_months_is_empty(tmp_path: Path) -> None:
    data = ex.write_export(tmp_path / "e.json.gz", [ex.member("a", date(2025, 1, 1), lots={"2026-11": 5})])
    with DuckDBEngine(cache_root=tmp_path)._connect([data]) as connection:
        select = sql.lot_balances_select(sql.FactsParams(AS_OF, date(2025, 12, 1), "Asia/Shanghai", ("member",), 30, 60, 90))
        assert connection.execute(sql.duckdb_dialect(select)).fetchall() == []
