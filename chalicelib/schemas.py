"""Request bodies, validated with pydantic at the HTTP boundary.

Strict where it matters: amounts and points must be JSON integers (no
strings, floats or booleans), unknown fields are refused, names are kept as
given (any script), dates are real dates.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, model_validator

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


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


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a UTC offset")
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
    code_channel: Literal["sms", "email"] = "sms"

    @model_validator(mode="after")
    def _email_channel_needs_email(self) -> SignupRequest:
        if self.code_channel == "email" and not self.email:
            raise ValueError("code_channel email needs an email")
        return self


class CodeRequest(Body):
    phone: PhoneText


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
    occurred_at: Annotated[datetime, AfterValidator(_aware)] | None = None

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
