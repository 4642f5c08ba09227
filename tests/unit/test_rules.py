"""The program rules document validates what operators type."""

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
