"""The fields request bodies are made of, and their base model: validated with pydantic at the
HTTP boundary, strict where it matters (one module for every audience's bodies to share).

Strict where it matters: amounts and points must be JSON integers (no
strings, floats or booleans), unknown fields are refused, names are kept as
given (any script), dates are real dates.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from ..formats import IDENTIFIER_PATTERN

# What names and free text may hold, as the regular expressions openapi.yaml documents (Basic
# Multilingual Plane escapes, valid for Python and ECMA-262 alike):
# - no control characters (C0, DEL, C1; free text keeps tab and line breaks), and no bidirectional
#   embeddings, overrides or isolates: they make text display as something else ("Trojan Source");
_FORBIDDEN = r"\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069"
_FORBIDDEN_IN_TEXT = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069"
# - and something visible: not only spaces, format characters (zero-width space, joiners, marks,
#   the BOM...) and letters that render as nothing (Hangul fillers, the braille blank). Every such
#   character of the BMP (tests/unit/test_text_rules.py checks the list against unicodedata).
INVISIBLE = (
    r"\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u115F-\u1160\u1680\u180E"
    r"\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u2800\u3000\u3164\uFEFF\uFFA0\uFFF9-\uFFFB"
)
NAME_PATTERN = f"^[^{_FORBIDDEN}]*[^{INVISIBLE}][^{_FORBIDDEN}]*$"
TEXT_PATTERN = f"^[^{_FORBIDDEN_IN_TEXT}]*[^{INVISIBLE}][^{_FORBIDDEN_IN_TEXT}]*$"
_CONTROL = re.compile(r"[\u0000-\u001F\u007F-\u009F]")
_CONTROL_EXCEPT_LINES = re.compile(r"[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]")
_BIDI_CONTROLS = re.compile(r"[\u202A-\u202E\u2066-\u2069]")
_VISIBLE = re.compile(f"[^{INVISIBLE}]")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Names and free text as stored: NFC, trimmed, no control or bidirectional override
    characters, and something visible in it (NAME_PATTERN / TEXT_PATTERN, in words)."""
    value = unicodedata.normalize("NFC", value)
    if (_CONTROL_EXCEPT_LINES if multiline else _CONTROL).search(value):
        raise ValueError("must not contain control characters")
    if _BIDI_CONTROLS.search(value):
        raise ValueError("must not contain bidirectional override characters")
    if not _VISIBLE.search(value):
        raise ValueError("must not be blank")
    return value.strip()


def _clean_name(value: str) -> str:
    return clean_text(value)


def clean_multiline(value: str) -> str:
    """Free text that may run over several lines (a message, a question, feedback)."""
    return clean_text(value, multiline=True)


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


def _whole_number(value: object) -> object:
    """JSON has one kind of number: 250.0 is the integer 250, as JSON Schema's `integer` says.
    12.5, "250" and true are still refused (StrictInt)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _date_text(value: object) -> object:
    """Dates are `YYYY-MM-DD` text: a number (which pydantic would read as a Unix time) is refused."""
    if not isinstance(value, (str, date)):
        raise ValueError("must be a date as YYYY-MM-DD text")
    return value


# Points, money and counts: JSON integers (a zero fraction allowed), never strings or booleans.
# Written after the bounds, `Annotated[StrictInt, Field(ge=..., le=...), WHOLE_NUMBER]`, so the
# JSON schema shows them as minimum and maximum.
WHOLE_NUMBER = BeforeValidator(_whole_number)
# The documented pattern is what clean_text checks (the validator gives the reason in words).
DocumentedName = Field(json_schema_extra={"pattern": NAME_PATTERN})
DocumentedText = Field(json_schema_extra={"pattern": TEXT_PATTERN})
Name = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_clean_name), DocumentedName]
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_valid_email)]
Birthday = Annotated[date, BeforeValidator(_date_text), AfterValidator(_not_future)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=f"^{IDENTIFIER_PATTERN.pattern}$")]
PhoneText = Annotated[str, StringConstraints(min_length=3, max_length=32)]


class Body(BaseModel):
    # defer_build: a model's validator is built on first use, not at import (cold start).
    model_config = ConfigDict(extra="forbid", defer_build=True)
