"""Small pieces several use cases share."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from ..domain.errors import ValidationFailed
from ..domain.phones import InvalidPhone, normalise_phone
from ..domain.rules import ProgramRules
from ..store.parameters import fingerprint_key


def phone_or_error(raw: str, rules: ProgramRules, field: str = "phone") -> str:
    try:
        return normalise_phone(raw, rules.default_region)
    except InvalidPhone as exc:
        raise ValidationFailed.single(field, str(exc)) from exc


def fingerprint(payload: dict[str, Any]) -> str:
    """Stable digest of a request's meaning, to tell a replay from a conflict. Keyed (HMAC): the
    records keeping it outlive erasure, and a phone or a text must not be recoverable from it."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(fingerprint_key(), canonical.encode(), hashlib.sha256).hexdigest()


def plain(value: Any) -> Any:
    """A stored response map back to plain JSON types (DynamoDB numbers come back as Decimal/float)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        from decimal import Decimal

        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
    except ImportError:  # pragma: no cover
        pass
    return value
