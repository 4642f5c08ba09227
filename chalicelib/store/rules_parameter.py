"""The live program rules document in SSM Parameter Store: read it with its version, overwrite it.

Readers of the rules go through `parameters.load_rules()` (cached); this module
is for the operator API, which must see and replace the stored document itself.
"""

from __future__ import annotations

from typing import Any

from ..settings import get_settings

# Standard parameters hold 4 KB; a longer document (many promotions) needs the advanced tier.
STANDARD_LIMIT = 4096


def _ssm() -> Any:
    # A client per call: operator calls are rare, and a fresh client always follows
    # the current endpoint and credentials (the local stack, moto in tests).
    import boto3

    return boto3.client("ssm")


def read_rules_document() -> tuple[str | None, int | None]:
    """The stored JSON text and its parameter version (None, None when absent)."""
    ssm = _ssm()
    try:
        parameter = ssm.get_parameter(Name=get_settings().rules_parameter)["Parameter"]
    except ssm.exceptions.ParameterNotFound:
        return None, None
    return parameter["Value"], int(parameter["Version"])


def write_rules_document(text: str) -> int:
    """Overwrite the stored document; returns the new parameter version."""
    request: dict[str, Any] = {"Name": get_settings().rules_parameter, "Value": text, "Type": "String", "Overwrite": True}
    if len(text.encode()) > STANDARD_LIMIT:
        request["Tier"] = "Advanced"
    return int(_ssm().put_parameter(**request)["Version"])
