"""What a member's phone and email have been proven for (chalicelib/domain/identity.py): who may get sign-in codes by email."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from chalicelib.domain.identity import email_can_sign_in, email_is_confirmed, phone_is_proven

WHEN = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@dataclass
class Member:
    phone_verified_at: datetime | None = None
    activated_at: datetime | None = None
    code_channel: str | None = None
    email: str | None = None
    email_verified_at: datetime | None = None


@pytest.mark.parametrize(
    ("member", "proven"),
    [
        (Member(phone_verified_at=WHEN), True),
        (Member(phone_verified_at=WHEN, activated_at=WHEN, code_channel="email"), True),
        (Member(activated_at=WHEN), True),  # activated by an SMS code before the proof was recorded
        (Member(activated_at=WHEN, code_channel="sms"), True),
        (Member(activated_at=WHEN, code_channel="email"), False),  # activated by an email code: the phone is unproven
        (Member(), False),  # enrolled at a till, never signed in
        (Member(code_channel="sms"), False),
    ],
)
def test_given_how_a_member_was_activated_then_their_phone_is_proven_or_not(member, proven):
    assert phone_is_proven(member) is proven


@pytest.mark.parametrize(
    ("member", "confirmed"),
    [
        (Member(email="li@example.cn", email_verified_at=WHEN), True),
        (Member(email="li@example.cn"), False),  # typed at signup, never confirmed
        (Member(email=None, email_verified_at=WHEN), False),  # confirmed once, since removed
        (Member(email="", email_verified_at=WHEN), False),
    ],
)
def test_given_an_email_then_it_is_confirmed_only_once_a_code_sent_to_it_came_back(member, confirmed):
    assert email_is_confirmed(member) is confirmed


def test_given_a_confirmed_email_then_sign_in_codes_go_to_it_only_when_the_phone_is_proven_too():
    assert email_can_sign_in(Member(phone_verified_at=WHEN, email="li@example.cn", email_verified_at=WHEN))
    assert not email_can_sign_in(Member(email="li@example.cn", email_verified_at=WHEN))  # whoever typed the email could take the phone
    assert not email_can_sign_in(Member(phone_verified_at=WHEN, email="li@example.cn"))
