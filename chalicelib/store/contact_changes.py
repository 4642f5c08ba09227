"""A member's pending phone and email changes as the table keeps them.

- `MEMBER#<id>` / `CHANGE#PHONE` | `CHANGE#EMAIL` (VerificationCode): the change's code (hashed,
  TTL) and its target, single use (deleted, conditioned on its nonce, when proven).
- `MEMBER#<id>` / `ATTEMPTS#PHONE` | `ATTEMPTS#EMAIL` (CodeAttempts): attempts at it, counted
  before each is judged (usecases/verification.py).
- `MEMBER#<id>` / `SENT#EMAIL` (SendThrottle): one email-change code per resend interval; a
  new phone's code is throttled by the phone's own `PHONE#<e164>` / `SENT` marker.

A new phone's uniqueness is the table's: moving the member deletes the old `PHONE#` guard and
puts the new one only if absent, in one unit of work with the member's new phone.
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from . import keys
from .models import BaseItem, CodeAttempts, Member, PhoneGuard, VerificationCode
from .unit_of_work import UnitOfWork


def code_at(member_id: str, kind: str) -> tuple[str, str]:
    """Where a change's code lives; kind: "phone" | "email"."""
    return keys.member_pk(member_id), keys.change_sk(kind)


def attempts_at(member_id: str, kind: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.change_attempts_sk(kind)


def email_send_marker_at(member_id: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.change_sent_sk("email")


def phone_send_marker_at(phone: str) -> tuple[str, str]:
    """The phone's own resend marker (the one sign-in codes to it use too)."""
    return keys.phone_pk(phone), keys.SENT


def get_code(member_id: str, kind: str) -> VerificationCode | None:
    """The pending change's code (its target is on it)."""
    try:
        return VerificationCode.get(*code_at(member_id, kind), consistent_read=True)
    except DoesNotExist:
        return None


def save_code(code: VerificationCode) -> None:
    """Keep a change's code on its own (it replaces the one pending before)."""
    code.save()


def drop_code(uow: UnitOfWork, member_id: str, kind: str) -> None:
    """Delete the pending change's code, if any (part `pending_code`)."""
    uow.delete("pending_code", VerificationCode(*code_at(member_id, kind)))


def use_code(uow: UnitOfWork, code: VerificationCode, member_id: str, kind: str) -> None:
    """The proven code goes (part `code`: fails if it was used or replaced meanwhile), and with it
    the count of attempts at it (part `attempts`)."""
    uow.delete("code", code, VerificationCode.nonce == code.nonce)
    uow.delete("attempts", CodeAttempts(*attempts_at(member_id, kind)))


def move_phone(uow: UnitOfWork, member: Member, phone: str, now: datetime) -> None:
    """Move the member to `phone`, proven now: the old phone's guard (part `old_guard`: only while
    it is this member's), code, attempts and send marker go; the new phone's guard is put only if
    absent (part `guard`: fails when the phone is another member's); the member (part `member`)."""
    old = keys.phone_pk(member.phone)
    uow.delete("old_guard", PhoneGuard(old, keys.GUARD), PhoneGuard.member_id == member.member_id)
    # The old phone's code, failures and send marker go with it (no later signup's are touched).
    for sk in (keys.CODE, keys.ATTEMPTS, keys.SENT):
        uow.delete(f"old_{sk.lower()}", BaseItem(old, sk))
    uow.put("guard", PhoneGuard(keys.phone_pk(phone), keys.GUARD, member_id=member.member_id), PhoneGuard.pk.does_not_exist())
    uow.update("member", member, [Member.phone.set(phone), Member.phone_key.set(phone), Member.phone_verified_at.set(now)])


def change_kind_of(code: VerificationCode) -> str:
    """Which change ("phone" or "email") a code in the member's partition is for."""
    return code.sk.removeprefix("CHANGE#").lower()
