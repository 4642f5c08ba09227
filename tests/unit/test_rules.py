"""The program rules document validates what operators type."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from chalicelib.domain.rules import DEFAULT_RULES, ProgramRules


def test_defaults_are_the_documented_program():
    assert [(t.id, t.threshold, str(t.multiplier)) for t in DEFAULT_RULES.tiers] == [
        ("member", 0, "1.0"),
        ("silver", 2000, "1.25"),
        ("gold", 10000, "1.5"),
    ]
    assert DEFAULT_RULES.timezone == "Asia/Shanghai"
    assert DEFAULT_RULES.default_region == "CN"


def test_the_defaults_round_trip_through_json_as_stored_in_parameter_store():
    assert ProgramRules.model_validate_json(DEFAULT_RULES.model_dump_json()) == DEFAULT_RULES


@pytest.mark.parametrize(
    "change",
    [
        {"timezone": "Mars/Olympus"},
        {"default_region": "XX"},
        {"currencies": ["yuan"]},
        {"earn_rate": -1},
        {"tiers": [{"id": "member", "name": "M", "threshold": 10, "multiplier": 1}]},
        {"tiers": [{"id": "a", "name": "A", "threshold": 0, "multiplier": 1}, {"id": "b", "name": "B", "threshold": 0, "multiplier": 2}]},
        {"unknown_rule": 1},
        {"currencies": ["cny"]},
        {"currencies": ["CNYX"]},
        {"currencies": []},
        {"code_ttl_seconds": 600, "code_failure_window_seconds": 300},
        {
            "tiers": [
                {"id": "member", "name": "Member", "threshold": 0, "multiplier": 1},
                {"id": "member", "name": "Member plus", "threshold": 100, "multiplier": 2},
            ]
        },
    ],
)
def test_an_invalid_rules_document_is_refused(change):
    with pytest.raises(ValidationError):
        ProgramRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), **change})


def test_another_market_is_a_rules_change_not_a_code_change():
    rules = ProgramRules.model_validate(
        {**DEFAULT_RULES.model_dump(mode="json"), "timezone": "Europe/Berlin", "default_region": "DE", "currencies": ["EUR"]}
    )
    assert rules.zone.key == "Europe/Berlin"


# --- tiers as the rules name them ------------------------------------------------------------

WITHOUT_SILVER = ProgramRules.model_validate(
    {**DEFAULT_RULES.model_dump(mode="json"), "tiers": [t.model_dump(mode="json") for t in DEFAULT_RULES.tiers if t.id != "silver"]}
)


def test_given_a_tier_id_then_the_rules_give_that_tier_and_its_rank():
    assert DEFAULT_RULES.tier("gold").name == "Gold"
    assert [DEFAULT_RULES.tier_rank(t) for t in ("member", "silver", "gold")] == [0, 1, 2]


def test_given_a_member_whose_tier_was_removed_from_the_rules_then_they_are_treated_as_the_base_tier():
    assert WITHOUT_SILVER.tier("silver") == WITHOUT_SILVER.base_tier
    assert WITHOUT_SILVER.tier("silver").multiplier == Decimal("1.0")
    assert WITHOUT_SILVER.tier_rank("silver") == 0


@pytest.mark.parametrize(
    ("tier", "override", "effective"),
    [
        ("member", "silver", "silver"),  # raised to the floor
        ("gold", "silver", "gold"),  # a later purchase took them above it: the floor is no ceiling
        ("silver", "silver", "silver"),
        ("gold", None, "gold"),
        ("member", None, "member"),
    ],
)
def test_given_an_operators_tier_override_then_it_is_a_floor_never_a_ceiling(tier, override, effective):
    assert DEFAULT_RULES.effective_tier(tier, override) == effective


def test_given_a_member_on_a_removed_tier_with_an_override_then_the_override_applies():
    assert WITHOUT_SILVER.effective_tier("silver", "gold") == "gold"
    assert WITHOUT_SILVER.effective_tier("silver", "member") == "silver"  # no higher: they stay as they are


# --- what the rules document refuses ---------------------------------------------------------


@pytest.mark.parametrize("field", ["expiry_reminder_days", "reengagement_windows"])
@pytest.mark.parametrize("days", [[0], [-7], [3651], [7, 7]])
def test_given_day_counts_out_of_range_or_repeated_then_the_rules_document_is_refused(field, days):
    with pytest.raises(ValidationError, match="must be distinct day counts from 1 to 3650"):
        ProgramRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), field: days})


@pytest.mark.parametrize("field", ["expiry_reminder_days", "reengagement_windows"])
def test_given_day_counts_at_the_ends_of_the_range_in_any_order_then_they_are_kept_in_order(field):
    rules = ProgramRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), field: [3650, 1, 30]})
    assert getattr(rules, field) == (1, 30, 3650)
