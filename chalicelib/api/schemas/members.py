"""A member's sign-up, sign-in and redemption bodies (the profile's: profile.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StrictBool, StringConstraints

from .fields import Birthday, Body, Email, Identifier, Name, PhoneText


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


class RedemptionRequest(Body):
    reward_id: Identifier
