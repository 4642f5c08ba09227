"""Changing the live program rules in a test, as an operator would in Parameter Store."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.rules import DEFAULT_RULES, ProgramRules
from chalicelib.settings import get_settings
from chalicelib.store.parameters import clear_caches

# Every test client is one address (127.0.0.1), and a suite signs up far more members a minute
# than one real client may: the sending limits are raised for the suite. Tests of the limits
# themselves set theirs (set_rules(session, code_send_limits={...})).
SUITE_SEND_LIMITS = {
    "per_client_per_minute": 100_000,
    "per_client_per_day": 10_000_000,
    "per_recipient_per_day": 1000,
    "total_per_minute": 1_000_000,
    "total_per_day": 100_000_000,
}
SUITE_RULES = ProgramRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), "code_send_limits": SUITE_SEND_LIMITS})


def set_rules(session: Any, **changes: Any) -> ProgramRules:
    """Store the suite's rules with `changes` (validated) and make the app read them at once."""
    rules = ProgramRules.model_validate({**SUITE_RULES.model_dump(mode="json"), **changes})
    session.client("ssm").put_parameter(Name=get_settings().rules_parameter, Value=rules.model_dump_json(), Type="String", Overwrite=True)
    clear_caches()
    return rules
