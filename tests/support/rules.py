"""Changing the live program rules in a test, as an operator would in Parameter Store."""

from __future__ import annotations

from typing import Any

from chalicelib.rules import DEFAULT_RULES, ProgramRules
from chalicelib.settings import get_settings
from chalicelib.store.parameters import clear_caches


def set_rules(session: Any, **changes: Any) -> ProgramRules:
    """Store the default rules with `changes` (validated) and make the app read them at once."""
    rules = ProgramRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), **changes})
    session.client("ssm").put_parameter(Name=get_settings().rules_parameter, Value=rules.model_dump_json(), Type="String", Overwrite=True)
    clear_caches()
    return rules
