"""The member's own profile as the member item keeps it: the writes that give its fields new
values. What may change, and when, is the domain's (domain/profile.py, domain/identity.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.attributes import Attribute

from .members import birthday_bucket_for
from .models import Member
from .unit_of_work import Writes

# The profile fields a member (or an operator's correction) changes, by name.
_FIELDS: dict[str, Attribute[Any]] = {
    "name": Member.name,
    "gender": Member.gender,
    "address": Member.address,
    "preferences": Member.preferences,
    "tags": Member.tags,
    "consents": Member.consents,
    "consent_records": Member.consent_records,
    "email": Member.email,
    "email_verified_at": Member.email_verified_at,
    "pending_email": Member.pending_email,
    "code_channel": Member.code_channel,
    "profile_completed": Member.profile_completed,
}


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def profile_writes(fields: Mapping[str, Any]) -> Writes:
    """The member writes that give each named field its value; None (or an empty text, list or
    map) removes the field."""
    return [_FIELDS[name].remove() if _absent(value) else _FIELDS[name].set(value) for name, value in fields.items()]


def birthday_writes(member_id: str, birthday: str | None) -> Writes:
    """The birthday (YYYY-MM-DD, or None to remove it) with its birthday-index key."""
    bucket = birthday_bucket_for(member_id, birthday)
    return [
        Member.birthday.set(birthday) if birthday else Member.birthday.remove(),
        Member.birthday_bucket.set(bucket) if bucket else Member.birthday_bucket.remove(),
    ]
