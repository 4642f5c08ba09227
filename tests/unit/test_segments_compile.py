"""Segment definitions compiled to SQL and run on DuckDB over a small member_facts built by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import duckdb
import pytest
from pydantic import ValidationError

from chalicelib.domain.rules import DEFAULT_RULES
from chalicelib.domain.segments import SegmentDefinition, SegmentError, check_against_rules, compile_segment
from chalicelib.store import analytics_sql

AS_OF = date(2026, 11, 30)


def fact(member_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "member_id": member_id,
        "status": "active",
        "tier": "member",
        "operator_tags": [],
        "joined_on": date(2025, 1, 1),
        "birthday_month": None,
        "home_store": None,
        "stores": [],
        "last_purchase_on": None,
        "orders_window": 0,
        "spend_window": 0,
        "points_balance": 0,
        "r_score": None,
        "f_score": None,
        "m_score": None,
        "value_segment": "none",
        "lifecycle_stage": "active",
        "consent_sms_marketing": False,
        "consent_email_marketing": False,
        "consent_push": False,
    }
    return row | values


FACTS = [
    # The lapsed big spender: high value, last bought 75 days before the data, sms consent.
    fact(
        "m-lapsed-vip",
        tier="gold",
        operator_tags=["vip"],
        home_store="s1",
        stores=["s1", "s2"],
        last_purchase_on=date(2026, 9, 16),
        r_score=3,
        f_score=5,
        m_score=5,
        value_segment="high_value",
        lifecycle_stage="at_risk",
        consent_sms_marketing=True,
        points_balance=4_000,
        birthday_month=3,
    ),
    # High value and bought 10 days ago.
    fact(
        "m-recent-vip",
        tier="gold",
        operator_tags=["vip", "staff"],
        home_store="s2",
        stores=["s2"],
        last_purchase_on=date(2026, 11, 20),
        r_score=5,
        f_score=4,
        m_score=4,
        value_segment="high_value",
        consent_sms_marketing=True,
        points_balance=900,
        birthday_month=11,
    ),
    # Bought exactly 60 days before the data: "not within 60 days".
    fact("m-60-days", last_purchase_on=date(2026, 10, 1), r_score=2, f_score=1, m_score=1, value_segment="regular", points_balance=50),
    # Never bought, joined 5 days before the data.
    fact("m-new", joined_on=date(2026, 11, 25), lifecycle_stage="new", consent_email_marketing=True, consent_push=True),
]


@pytest.fixture(scope="module")
def facts() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    columns = ", ".join(f"{name} {kind}" for name, kind in analytics_sql.MEMBER_FACTS_COLUMNS)
    connection.execute(f"CREATE TABLE member_facts ({columns})")
    names = [name for name, _ in analytics_sql.MEMBER_FACTS_COLUMNS]
    for row in FACTS:
        connection.execute(f"INSERT INTO member_facts VALUES ({', '.join('?' for _ in names)})", [row[n] for n in names])
    yield connection
    connection.close()


def members(connection: duckdb.DuckDBPyConnection, definition: dict[str, Any]) -> list[str]:
    compiled = compile_segment(SegmentDefinition.model_validate(definition), AS_OF)
    rows = connection.execute(analytics_sql.duckdb_dialect(compiled.members_sql()), list(compiled.params)).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ({}, ["m-60-days", "m-lapsed-vip", "m-new", "m-recent-vip"]),
        ({"value_segments": ["high_value"], "last_purchase": {"not_within_days": 60}}, ["m-lapsed-vip"]),
        ({"last_purchase": {"not_within_days": 60}}, ["m-60-days", "m-lapsed-vip"]),
        ({"last_purchase": {"not_within_days": 61}}, ["m-lapsed-vip"]),
        ({"last_purchase": {"within_days": 60}}, ["m-recent-vip"]),
        ({"last_purchase": {"within_days": 61}}, ["m-60-days", "m-recent-vip"]),
        ({"last_purchase": {"never": True}}, ["m-new"]),
        ({"tiers": ["gold"]}, ["m-lapsed-vip", "m-recent-vip"]),
        ({"tiers": ["member", "silver"]}, ["m-60-days", "m-new"]),
        ({"tags": {"all_of": ["vip", "staff"]}}, ["m-recent-vip"]),
        ({"tags": {"any_of": ["staff", "vip"]}}, ["m-lapsed-vip", "m-recent-vip"]),
        ({"tags": {"none_of": ["staff"]}}, ["m-60-days", "m-lapsed-vip", "m-new"]),
        ({"lifecycle_stages": ["new", "at_risk"]}, ["m-lapsed-vip", "m-new"]),
        ({"r_score": {"min": 4}}, ["m-recent-vip"]),
        ({"f_score": {"max": 4}}, ["m-60-days", "m-recent-vip"]),
        ({"m_score": {"min": 1, "max": 5}}, ["m-60-days", "m-lapsed-vip", "m-recent-vip"]),  # unscored never match
        ({"birthday_months": [3, 4]}, ["m-lapsed-vip"]),
        ({"store": {"any_of": ["s2"], "where": "home"}}, ["m-recent-vip"]),
        ({"store": {"any_of": ["s2"]}}, ["m-lapsed-vip", "m-recent-vip"]),
        ({"store": {"any_of": ["s9", "s1"], "where": "bought_at"}}, ["m-lapsed-vip"]),
        ({"joined": {"within_days": 7}}, ["m-new"]),
        ({"joined": {"before": "2026-01-01"}}, ["m-60-days", "m-lapsed-vip", "m-recent-vip"]),
        ({"points_balance": {"min": 100, "max": 1000}}, ["m-recent-vip"]),
        ({"consents": ["sms_marketing"]}, ["m-lapsed-vip", "m-recent-vip"]),
        ({"consents": ["email_marketing", "push"]}, ["m-new"]),
        ({"tiers": ["gold"], "last_purchase": {"never": True}}, []),
    ],
)
def test_a_definition_selects_exactly_the_members_it_describes(
    facts: duckdb.DuckDBPyConnection, definition: dict[str, Any], expected: list[str]
) -> None:
    assert members(facts, definition) == expected


def test_operator_text_is_never_in_the_sql_only_in_the_parameters(facts: duckdb.DuckDBPyConnection) -> None:
    hostile = "s1') OR true OR ('x"
    definition = SegmentDefinition.model_validate({"store": {"any_of": ["s1"]}, "joined": {"before": "2026-01-01"}})
    compiled = compile_segment(definition, AS_OF)
    assert "s1" not in compiled.where and "2026" not in compiled.where
    assert compiled.params == ("s1", date(2026, 1, 1))
    with pytest.raises(ValidationError):  # and a store id that is not an identifier is refused before
        SegmentDefinition.model_validate({"store": {"any_of": [hostile]}})


def test_unknown_fields_are_refused_by_name_at_every_level() -> None:
    for body, field in (({"tier": ["gold"]}, "tier"), ({"tags": {"all": ["vip"]}}, "all"), ({"last_purchase": {"days": 3}}, "days")):
        with pytest.raises(ValidationError) as caught:
            SegmentDefinition.model_validate(body)
        assert any(e["type"] == "extra_forbidden" and e["loc"][-1] == field for e in caught.value.errors())


@pytest.mark.parametrize(
    "body",
    [
        {"last_purchase": {"within_days": 3, "never": True}},
        {"last_purchase": {}},
        {"last_purchase": {"never": False}},
        {"r_score": {"min": 4, "max": 2}},
        {"r_score": {"min": 0}},
        {"points_balance": {}},
        {"tags": {}},
        {"birthday_months": [13]},
        {"lifecycle_stages": ["sleeping"]},
        {"last_purchase": {"within_days": "60"}},
    ],
)
def test_contradictory_or_malformed_criteria_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SegmentDefinition.model_validate(body)


def test_tiers_and_tags_must_be_the_programs() -> None:
    rules = DEFAULT_RULES
    with pytest.raises(SegmentError) as caught:
        check_against_rules(SegmentDefinition.model_validate({"tiers": ["platinum"], "tags": {"any_of": ["ghost"]}}), rules)
    assert {e.field for e in caught.value.errors} == {"tiers", "tags"}
    check_against_rules(SegmentDefinition.model_validate({"tiers": ["gold"]}), rules)


def test_a_joined_before_date_given_as_a_number_is_refused_not_read_as_1970() -> None:
    import pytest
    from pydantic import ValidationError

    from chalicelib.domain.segments import SegmentDefinition

    with pytest.raises(ValidationError):
        SegmentDefinition.model_validate({"joined": {"before": 0}})
    assert SegmentDefinition.model_validate({"joined": {"before": "2026-01-01"}}).joined is not None
