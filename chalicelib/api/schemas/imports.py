"""Bulk import of members: the operator's request, and one row of the uploaded file as validated.

A CSV row's values are text; a JSON line's may be numbers. Either way a row is checked here
(the phone and the tier need the program's rules: the use case checks those).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BeforeValidator, Field, StrictBool, StrictInt, StringConstraints, ValidationError, model_validator

from ...domain.imports import MAX_EXTERNAL_ID, MAX_OPENING_POINTS, MAX_OPENING_STORED_VALUE
from .fields import WHOLE_NUMBER, Birthday, Body, Name, PhoneText


class ImportRequest(Body):
    format: Literal["csv", "jsonl"] = "csv"
    # An operator tag (declared in the rules' member_tags) every member of the import gets: the
    # segment its invitation campaigns go to (docs/integrations.md).
    tag: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _integer_text(value: object) -> object:
    """A CSV cell "1200" is the integer 1200; "12.5", "1e3" and "-" stay refused."""
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text)
    return value


_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})


def _consent_text(value: object) -> object:
    """A CSV cell `true`/`yes`/`1` (or false/no/0, any case) is the boolean; a JSON line's may be one."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


Blank = BeforeValidator(_blank_is_none)
Consent = Annotated[StrictBool, BeforeValidator(_consent_text)]
Count = Annotated[StrictInt, Field(ge=0), WHOLE_NUMBER, BeforeValidator(_integer_text)]


class ImportRow(Body):
    phone: PhoneText
    name: Annotated[Name | None, Blank] = None
    birthday: Annotated[Birthday | None, Blank] = None
    tier: Annotated[Annotated[str, StringConstraints(max_length=32)] | None, Blank] = None
    points: Annotated[Annotated[Count, Field(le=MAX_OPENING_POINTS)] | None, Blank] = None
    points_expire_on: Annotated[date | None, Blank] = None
    stored_value: Annotated[Annotated[Count, Field(le=MAX_OPENING_STORED_VALUE)] | None, Blank] = None
    external_id: Annotated[Annotated[str, StringConstraints(min_length=1, max_length=MAX_EXTERNAL_ID, strip_whitespace=True)] | None, Blank] = None
    sms_marketing: Annotated[Consent | None, Blank] = None
    email_marketing: Annotated[Consent | None, Blank] = None
    # A time with its offset, or a date (the use case takes the start of that day in the program's zone).
    consented_at: Annotated[Annotated[AwareDatetime | date, Field(union_mode="left_to_right")] | None, Blank] = None

    @model_validator(mode="after")
    def _consented_at_with_a_consent(self) -> Self:
        if self.consented_at is not None and not self.consents():
            raise ValueError("consented_at is given without sms_marketing or email_marketing")
        return self

    def consents(self) -> dict[str, bool]:
        """The consents the row records (a column left empty records nothing)."""
        return {
            name: given for name, given in (("sms_marketing", self.sms_marketing), ("email_marketing", self.email_marketing)) if given is not None
        }


def parse_row(values: dict[str, Any]) -> ImportRow | str:
    """The row, or why it fails (field names and messages only: never the values given)."""
    try:
        return ImportRow.model_validate(values)
    except ValidationError as exc:
        reasons = []
        for error in exc.errors()[:3]:
            field = ".".join(str(p) for p in error["loc"]) or "row"
            message = "unknown column" if error["type"] == "extra_forbidden" else error["msg"]
            reasons.append(f"{field}: {message}")
        return "; ".join(reasons)
