"""What a member's phone and email have been proven for. Pure: no AWS.

A phone is proven only by a code sent to it by SMS and entered by the member;
an email only by a code sent to it. An email carries sign-in codes only for a
member whose phone is proven and whose email is confirmed: otherwise whoever
typed an address at signup could take the phone (../shared/API.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Proofs(Protocol):
    """The member's fields these rules read (a stored Member has them)."""

    @property
    def phone_verified_at(self) -> datetime | None: ...
    @property
    def activated_at(self) -> datetime | None: ...
    @property
    def code_channel(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def email_verified_at(self) -> datetime | None: ...


def phone_is_proven(member: Proofs) -> bool:
    """A code sent by SMS to the member's phone came back.

    Members activated before the proof was recorded were activated by an SMS
    code, unless they had asked for codes by email (the `code_channel` signup
    option, since removed): their phone is proven at their next sign-in, which
    can only be by SMS.
    """
    if member.phone_verified_at is not None:
        return True
    return member.activated_at is not None and member.code_channel != "email"


def email_is_confirmed(member: Proofs) -> bool:
    """The member's email came back with a code sent to it (a signup's email is only pending)."""
    return bool(member.email) and member.email_verified_at is not None


def email_can_sign_in(member: Proofs) -> bool:
    """Sign-in codes may go to the email: it is confirmed, and the phone is proven."""
    return email_is_confirmed(member) and phone_is_proven(member)
