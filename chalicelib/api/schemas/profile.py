"""Request bodies of the member's own profile routes (api/profile.py).

A PATCH changes only the fields it names. `null` clears a field the member
may clear (email, gender, address, preferences, tags); `name` and the consent
flags cannot be null; `birthday: null` is accepted only while no birthday is
set (a form sending the whole profile back), see usecases/profile.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, StringConstraints, field_validator

from .fields import Birthday, Body, DocumentedName, Email, Name, PhoneText, _clean_name

Gender = Literal["female", "male", "other", "undisclosed"]
Street = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_clean_name), DocumentedName]
PostalCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{1,11}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# Preferences and tags are ids the app offers as choices ("coffee", "vegetarian"), not free text.
Choice = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
MAX_CHOICES = 20


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Choices = Annotated[list[Choice], Field(max_length=MAX_CHOICES), AfterValidator(_distinct)]
Code = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


def _not_null(value: Any) -> Any:
    # Runs only on values the request gave (defaults are not validated): an explicit null.
    if value is None:
        raise ValueError("must not be null")
    return value


class Address(Body):
    country: CountryCode | None = None
    province: Name | None = None
    city: Name
    district: Name | None = None
    street: Street
    postal_code: PostalCode | None = None


class ConsentsPatch(Body):
    """Only the flags given change."""

    sms_marketing: StrictBool | None = None
    email_marketing: StrictBool | None = None
    push: StrictBool | None = None

    _flags_not_null = field_validator("sms_marketing", "email_marketing", "push")(_not_null)

    def given(self) -> dict[str, bool]:
        return {k: bool(v) for k, v in self.model_dump(exclude_unset=True).items()}


class ProfilePatch(Body):
    name: Name | None = None
    email: Email | None = None
    birthday: Birthday | None = None
    gender: Gender | None = None
    address: Address | None = None
    preferences: Choices | None = None
    tags: Choices | None = None
    consents: ConsentsPatch | None = None

    _required_not_null = field_validator("name", "consents")(_not_null)

    def changes(self) -> dict[str, Any]:
        """The fields the request named, with their (possibly null) values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class PhoneChangeRequest(Body):
    phone: PhoneText


class PhoneVerifyRequest(Body):
    phone: PhoneText
    code: Code


class EmailVerifyRequest(Body):
    code: Code


class ClosureRequest(Body):
    """Why the member leaves (optional): a choice, never free text (it would be personal data to erase)."""

    reason: Literal["not_using", "too_many_messages", "privacy", "moving", "other"] = "other"
