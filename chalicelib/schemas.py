"""Request bodies, validated with pydantic at the HTTP boundary.

Strict where it matters: amounts and points must be JSON integers (no
strings, floats or booleans), unknown fields are refused, names are kept as
given (any script), dates are real dates.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, model_validator

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Free text may span lines; other control characters are refused.
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides and isolates: they make text display as something else
# ("Trojan Source"), and no name or message needs them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Letters that render as nothing: Hangul fillers, the braille blank, the halfwidth filler.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\u2800\uffa0")


def _has_visible_character(value: str) -> bool:
    """Something is left once spaces, format characters (zero-width space, joiners, marks,
    the BOM...) and blank-looking letters are removed."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Zs", "Zl", "Zp") and ch not in _BLANK_LETTERS for ch in value)


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Names and free text as stored: NFC, trimmed, no control or bidirectional override
    characters, and something visible in it."""
    value = unicodedata.normalize("NFC", value).strip()
    if (_CONTROL_EXCEPT_LINES if multiline else _CONTROL).search(value):
        raise ValueError("must not contain control characters")
    if _BIDI_CONTROLS.search(value):
        raise ValueError("must not contain bidirectional override characters")
    if not _has_visible_character(value):
        raise ValueError("must not be blank")
    return value


def _clean_name(value: str) -> str:
    return clean_text(value)


def _valid_email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email  # ~45 ms: only when an email is given

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError("not a valid email address") from exc


def _not_future(value: date) -> date:
    if value > date.today():
        raise ValueError("must not be in the future")
    if value.year < 1900:
        raise ValueError("must be after 1900")
    return value


# A till may report a purchase late (offline for a while) or with a slightly fast clock; nothing
# outside this range is a real purchase.
OCCURRED_AT_MAX_AGE = timedelta(days=365)
OCCURRED_AT_MAX_AHEAD = timedelta(days=1)


def _plausible_purchase_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a UTC offset")
    now = datetime.now(UTC)
    if not now - OCCURRED_AT_MAX_AGE <= value <= now + OCCURRED_AT_MAX_AHEAD:
        raise ValueError("must be within the last 365 days (and at most a day ahead)")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_clean_name)]
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_valid_email)]
Birthday = Annotated[date, AfterValidator(_not_future)]
IDENTIFIER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=f"^{IDENTIFIER_PATTERN.pattern}$")]
PhoneText = Annotated[str, StringConstraints(min_length=3, max_length=32)]


class Body(BaseModel):
    # defer_build: a model's validator is built on first use, not at import (cold start).
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Consents(Body):
    sms_marketing: StrictBool = False
    email_marketing: StrictBool = False
    push: StrictBool = False


class SignupRequest(Body):
    phone: PhoneText
    name: Name
    email: Email | None = None
    birthday: Birthday | None = None
    gender: Literal["female", "male", "other", "undisclosed"] | None = None
    referral_code: Annotated[str, StringConstraints(min_length=4, max_length=16)] | None = None
    consents: Consents | None = None


class CodeRequest(Body):
    phone: PhoneText
    # Where the sign-in code goes. `email` reaches only a member whose phone was proven by SMS
    # and whose email was confirmed by a code sent to it; the answer never says which.
    channel: Literal["sms", "email"] = "sms"


class VerifyRequest(Body):
    phone: PhoneText
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class PurchaseRequest(Body):
    order_id: Identifier
    phone: PhoneText | None = None
    member_id: Identifier | None = None
    amount: Annotated[StrictInt, Field(ge=1, le=10**12)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    store_id: Identifier | None = None
    occurred_at: Annotated[datetime, AfterValidator(_plausible_purchase_time)] | None = None

    @model_validator(mode="after")
    def _one_member_reference(self) -> PurchaseRequest:
        if (self.phone is None) == (self.member_id is None):
            raise ValueError("give exactly one of phone or member_id")
        return self


class RefundRequest(Body):
    refund_id: Identifier
    amount: Annotated[StrictInt, Field(ge=1, le=10**12)]


class RedemptionRequest(Body):
    reward_id: Identifier
